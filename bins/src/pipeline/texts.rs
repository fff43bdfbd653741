//! What `encode-captions` encodes: Visual Genome's phrases as the original builds them
//! (`--ann-dir`), or a text database (`--texts`), filtered by length and made unique on request.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use datasets::TextSource;
use rayon::prelude::*;

use super::output::canonical;

/// The text flags of `encode-captions`.
#[derive(Debug, Clone, clap::Args)]
pub struct TextArgs {
    /// Visual Genome annotations: attributes.json and relationships.json (the phrases: sorted,
    /// one of each, as the original builds them).
    #[arg(long, required_unless_present = "texts", conflicts_with = "texts")]
    pub ann_dir: Option<PathBuf>,
    /// A text database instead, in its order: FILE.txt (one text a line), FILE.jsonl
    /// ({"text": ..., "source": ...} a line) or karpathy:FILE (every caption of the --split
    /// images of Karpathy's split file: SmallCap's datastore).
    #[arg(long, value_parser = parse_texts)]
    pub texts: Option<TextSource>,
    /// The splits of a karpathy: database (train, restval, val, test) [default: all].
    #[arg(long, value_delimiter = ',', requires = "texts")]
    pub split: Option<Vec<String>>,
    /// Leave out texts longer than N CLIP tokens (not counting the start and end markers).
    #[arg(long, requires = "texts")]
    pub max_tokens: Option<usize>,
    /// One of each text, sorted, as the original's set of phrases (Visual Genome's always are).
    #[arg(long, requires = "texts")]
    pub dedup: bool,
}

fn parse_texts(s: &str) -> Result<TextSource, String> {
    s.parse().map_err(|e: datasets::Error| e.to_string())
}

impl TextArgs {
    /// The texts to encode, in the order they are written (`--max-tokens` counts the tokens of
    /// `model`'s tokenizer), and their sources where the database gives any (a text without
    /// one then has the empty source).
    pub fn load(&self, model: &Path) -> Result<(Vec<String>, Option<Vec<String>>)> {
        let Some(source) = &self.texts else {
            let dir = self.ann_dir.as_deref().context("give --ann-dir or --texts")?;
            let phrases = datasets::phrase_database(
                &dir.join("attributes.json"),
                &dir.join("relationships.json"),
            )?;
            return Ok((phrases, None));
        };
        if self.split.is_some() && !matches!(source, TextSource::Karpathy(_)) {
            anyhow::bail!("--split is for a karpathy: text database, not {source}");
        }
        let mut texts = source.texts(self.split.as_deref())?;
        let read = texts.len();
        if self.dedup {
            texts = datasets::dedup(texts);
        }
        let unique = texts.len();
        if let Some(max) = self.max_tokens {
            let tokenizer = clip_encoder::ClipTokenizer::from_file(&model.join("tokenizer.json"))?;
            let keep = texts
                .par_iter()
                .map(|t| Ok(tokenizer.ids(&t.text)?.len().saturating_sub(2) <= max))
                .collect::<Result<Vec<bool>, clip_encoder::Error>>()
                .with_context(|| format!("tokenizing {source}"))?;
            let mut keep = keep.into_iter();
            texts.retain(|_| keep.next().unwrap_or(false));
        }
        tracing::info!(read, unique, kept = texts.len(), source = %source, "text database");
        if texts.is_empty() {
            anyhow::bail!("{source}: no text is left after --max-tokens");
        }
        let sources = texts
            .iter()
            .any(|t| t.source.is_some())
            .then(|| texts.iter().map(|t| t.source.clone().unwrap_or_default()).collect());
        Ok((texts.into_iter().map(|t| t.text).collect(), sources))
    }

    /// The flags' part of a run's provenance: `ann_dir` alone for Visual Genome (as files
    /// written before text databases existed record it), else the database and its options.
    pub fn provenance(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match &self.texts {
            None => {
                let dir = self.ann_dir.as_deref().unwrap_or(Path::new(""));
                m.insert("ann_dir".into(), canonical(dir).into());
            }
            Some(t) => {
                let file = canonical(t.path());
                let given = match t {
                    TextSource::Karpathy(_) => format!("karpathy:{file}"),
                    _ => file,
                };
                m.insert("texts".into(), given.into());
                m.insert("split".into(), self.split.as_ref().map(|s| s.join(",")).into());
                m.insert("max_tokens".into(), self.max_tokens.into());
                m.insert("dedup".into(), self.dedup.into());
            }
        }
        m
    }
}
