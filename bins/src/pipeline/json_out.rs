//! `retrieve-captions --format json`: the retrieved texts and scores without features, for
//! consumers that want texts only. JSON Lines, one image a line, written while running:
//! `{"ID": {"whole": [[text, score], ...], "five": [[[text, score], ...], ...5], "nine": ...}}`;
//! the first line is the run's provenance (`{"xctx_provenance": {...}}`), so that the same
//! command resumes the file as it resumes an HDF5 output. A line cut by a kill is dropped on
//! resume.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ctx_store::{ImageId, Provenance, TxtEntry, View, ViewEntry};
use serde_json::{Value, json};

/// The key of the provenance line.
const PROVENANCE: &str = "xctx_provenance";

/// Appends images to a JSON Lines output.
pub struct JsonWriter {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonWriter {
    /// Creates `path` with its provenance line.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self> {
        let mut file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let p = json!({ PROVENANCE: {
            "tool": provenance.tool, "version": provenance.version, "arguments": provenance.arguments,
        }});
        writeln!(file, "{p}")
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Self { path: path.to_owned(), file })
    }

    /// Opens `path` to add images: the ids of its complete lines; a cut last line is removed.
    pub fn append(path: &Path) -> Result<(Self, HashSet<ImageId>)> {
        let (done, complete) = scan(path)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.set_len(complete).with_context(|| format!("truncating {}", path.display()))?;
        let mut w = Self { path: path.to_owned(), file };
        use std::io::Seek;
        w.file
            .seek(std::io::SeekFrom::End(0))
            .with_context(|| format!("seeking {}", path.display()))?;
        Ok((w, done))
    }

    /// Writes one line per image, then syncs.
    pub fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let mut buf = Vec::new();
        for e in entries {
            // Written piece by piece: the views in their order (whole, five, nine), which a
            // JSON map would sort.
            buf.push(b'{');
            serde_json::to_writer(&mut buf, &e.id.to_string())?;
            buf.extend_from_slice(b":{");
            for (n, v) in e.views().enumerate() {
                if n > 0 {
                    buf.push(b',');
                }
                serde_json::to_writer(&mut buf, v.name())?;
                buf.push(b':');
                serde_json::to_writer(&mut buf, &view_json(v, e.view(v)))?;
            }
            buf.extend_from_slice(b"}}\n");
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn finish(self) -> Result<()> {
        self.file.sync_all().with_context(|| format!("closing {}", self.path.display()))
    }
}

/// A view's hits: `[[text, score], ...]` for the whole image, a list of those per crop else.
fn view_json(view: View, e: &ViewEntry) -> Value {
    let crop = |c: usize| -> Value {
        (c * e.k..(c + 1) * e.k).map(|i| json!([e.texts[i], e.scores[i]])).collect()
    };
    match view {
        View::Whole => crop(0),
        _ => (0..e.crops).map(crop).collect(),
    }
}

/// The provenance of a JSON Lines output, for resuming it.
pub fn provenance(path: &Path) -> Result<Option<Provenance>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut first = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut first)
        .with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&first)
        .with_context(|| format!("{}: line 1 is not JSON", path.display()))?;
    let Some(p) = v.get(PROVENANCE) else { return Ok(None) };
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(Some(Provenance { tool: s("tool"), version: s("version"), arguments: s("arguments") }))
}

/// The ids of the complete image lines of `path` and the length of its complete lines.
fn scan(path: &Path) -> Result<(HashSet<ImageId>, u64)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut done = HashSet::new();
    let mut complete = 0u64;
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if !line.ends_with(b"\n") {
            tracing::warn!(path = %path.display(), line = n + 1, "dropping a cut last line");
            break;
        }
        let v: Value = serde_json::from_slice(line)
            .with_context(|| format!("{}: line {} is not JSON", path.display(), n + 1))?;
        complete += line.len() as u64;
        if n == 0 {
            continue; // the provenance
        }
        let Some((id, _)) = v.as_object().and_then(|o| o.iter().next()) else {
            bail!("{}: line {} is not an image's object", path.display(), n + 1);
        };
        done.insert(ImageId::from(id.as_str()));
    }
    Ok((done, complete))
}
