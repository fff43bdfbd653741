//! Text databases for `encode-captions --texts`: a text file (one text a line), JSON Lines
//! (`{"text": ..., "source": ...}` a line) or the captions of Karpathy's split file (each with its
//! image's id as the source: SmallCap's datastore).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// One text of a database and, where known, where it comes from (an image id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Its source, or `None`.
    pub source: Option<String>,
}

/// `--texts`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextSource {
    /// `FILE.txt` (or any name but `.jsonl`): one text a line, blank lines skipped.
    Lines(PathBuf),
    /// `FILE.jsonl`: `{"text": ..., "source": ...}` a line (`source` optional).
    JsonLines(PathBuf),
    /// `karpathy:FILE`: every caption of the chosen splits, with its image's id.
    Karpathy(PathBuf),
}

impl std::str::FromStr for TextSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::BadSource { given: s.into(), message: "an empty name".into() });
        }
        Ok(match s.strip_prefix("karpathy:") {
            Some(f) => TextSource::Karpathy(f.into()),
            None if s.ends_with(".jsonl") => TextSource::JsonLines(s.into()),
            None => TextSource::Lines(s.into()),
        })
    }
}

impl std::fmt::Display for TextSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextSource::Lines(p) | TextSource::JsonLines(p) => write!(f, "{}", p.display()),
            TextSource::Karpathy(p) => write!(f, "karpathy:{}", p.display()),
        }
    }
}

#[derive(Deserialize)]
struct Record {
    text: Option<String>,
    source: Option<serde_json::Value>,
}

impl TextSource {
    /// The file it reads.
    pub fn path(&self) -> &Path {
        match self {
            TextSource::Lines(p) | TextSource::JsonLines(p) | TextSource::Karpathy(p) => p,
        }
    }

    /// The texts, in the file's order; `splits` chooses a Karpathy file's images (`None`: all).
    /// An empty database is an error.
    pub fn texts(&self, splits: Option<&[String]>) -> Result<Vec<Text>> {
        let texts = match self {
            TextSource::Lines(p) => lines(p)?
                .filter_map(|l| match l {
                    Ok((_, t)) if t.trim().is_empty() => None,
                    Ok((_, text)) => Some(Ok(Text { text, source: None })),
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_>>()?,
            TextSource::JsonLines(p) => json_lines(p)?,
            TextSource::Karpathy(p) => crate::karpathy_captions(p, splits)?
                .into_iter()
                .map(|c| Text { text: c.text, source: Some(c.image_id) })
                .collect(),
        };
        if texts.is_empty() {
            return Err(Error::EmptySource { source_name: self.to_string(), what: "texts" });
        }
        Ok(texts)
    }
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<(usize, String)>> + '_> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(std::io::BufReader::new(file).lines().enumerate().map(move |(n, l)| {
        l.map(|l| (n + 1, l.trim_end_matches('\r').to_owned())).map_err(|e| Error::io(path, e))
    }))
}

fn json_lines(path: &Path) -> Result<Vec<Text>> {
    let mut out = Vec::new();
    for l in lines(path)? {
        let (n, line) = l?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = || format!("line {n}");
        let r: Record = serde_json::from_str(&line).map_err(|e| {
            let text = e.to_string();
            let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
            Error::entry(path, entry(), format!("column {}: {message}", e.column()))
        })?;
        let text = r.text.ok_or_else(|| Error::entry(path, entry(), "no `text`"))?;
        let source = match r.source {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(Error::entry(
                    path,
                    entry(),
                    format!("`source` {other} is not a string or a number"),
                ));
            }
        };
        out.push(Text { text, source });
    }
    Ok(out)
}

/// One of each text, sorted, as the original's sorted set of phrases is; a kept text has the
/// source of its first occurrence.
pub fn dedup(mut texts: Vec<Text>) -> Vec<Text> {
    // A stable sort keeps equal texts in their order, so the first occurrence leads.
    texts.sort_by(|a, b| a.text.cmp(&b.text));
    texts.dedup_by(|later, first| later.text == first.text);
    texts
}
