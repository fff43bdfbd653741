//! The original's tokenisation: ftfy + whitespace normalisation, CLIP's BPE from the checkpoint's
//! `tokenizer.json` (through the `tokenizers` crate), each phrase alone, cut to 75 tokens, a
//! batch padded with id 0 and attention mask 0.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ftfy;

/// Tokens kept per phrase (start token included), as the original.
pub const MAX_TOKENS: usize = 75;

/// CLIP's BPE from a checkpoint's `tokenizer.json`, behind the original's ftfy normalisation.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

/// A padded batch of token ids, row-major `(rows, len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Token ids, `rows * len`, padded with 0.
    pub ids: Vec<i64>,
    /// 1 for a token, 0 for padding, `rows * len`.
    pub mask: Vec<i64>,
    /// Phrases in the batch.
    pub rows: usize,
    /// Tokens per row (the longest phrase's, at most [`MAX_TOKENS`]).
    pub len: usize,
}

impl ClipTokenizer {
    /// Loads `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::Tokenizer { path: path.into(), msg: "file not found".into() });
        }
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer { path: path.into(), msg: e.to_string() })?;
        Ok(ClipTokenizer { inner, path: path.into() })
    }

    /// The `tokenizer.json` it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One phrase's ids, uncut: `<|startoftext|> ... <|endoftext|>`.
    pub fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let norm = ftfy::normalize(text);
        let enc = self
            .inner
            .encode(norm.as_str(), true)
            .map_err(|e| Error::Encode { text: text.into(), msg: e.to_string() })?;
        Ok(enc.get_ids().iter().map(|&i| i64::from(i)).collect())
    }

    /// A batch as the original fed it to the text tower (phrases tokenized in parallel).
    pub fn batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<TokenBatch> {
        let rows = texts
            .par_iter()
            .map(|t| {
                let mut ids = self.ids(t.as_ref())?;
                ids.truncate(MAX_TOKENS);
                Ok(ids)
            })
            .collect::<Result<Vec<_>>>()?;
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = vec![0i64; rows.len() * len];
        let mut mask = vec![0i64; rows.len() * len];
        for (r, row) in rows.iter().enumerate() {
            ids[r * len..r * len + row.len()].copy_from_slice(row);
            mask[r * len..r * len + row.len()].fill(1);
        }
        Ok(TokenBatch { ids, mask, rows: rows.len(), len })
    }
}
