//! The two tokenisations, both with CLIP's BPE from the checkpoint's `tokenizer.json`:
//!
//! - [`Tokenization::Original`], the original's: transformers 4.17's slow `CLIPTokenizer` (ftfy
//!   + whitespace normalisation, then `tokenizers`), each phrase alone, cut to 75 tokens;
//! - [`Tokenization::Clip`], HAAV's: OpenAI's `clip.tokenize(truncate=True)` (see
//!   [`crate::clip_clean`]), at most 77 tokens, the last one `<|endoftext|>`.
//!
//! A batch is padded with id 0 and attention mask 0 to its longest phrase.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::clip_tokenize::ClipSplitter;
use crate::error::{Error, Result};
use crate::ftfy;

/// Tokens kept per phrase (start token included), as the original.
pub const MAX_TOKENS: usize = 75;

/// Which program's tokenisation a batch follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenization {
    /// The original pipeline's (transformers 4.17 slow tokenizer): cut to [`MAX_TOKENS`], so a
    /// phrase of 75 tokens or more loses its `<|endoftext|>`.
    #[default]
    Original,
    /// HAAV's, OpenAI's `clip.tokenize(truncate=True)`: at most
    /// [`CLIP_CONTEXT`](crate::CLIP_CONTEXT) tokens, the last one always `<|endoftext|>` (where
    /// `clip.tokenize` without `truncate`, as HAAV calls it, would raise).
    Clip,
}

/// CLIP's BPE from a checkpoint's `tokenizer.json`, behind either normalisation.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    clip: ClipSplitter,
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
    /// Tokens per row (the longest phrase's, at most [`MAX_TOKENS`] or
    /// [`CLIP_CONTEXT`](crate::CLIP_CONTEXT)).
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
        let clip =
            ClipSplitter::new(&inner).map_err(|msg| Error::Tokenizer { path: path.into(), msg })?;
        Ok(ClipTokenizer { inner, clip, path: path.into() })
    }

    /// The `tokenizer.json` it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One phrase's ids as the original's tokenizer gives them, uncut:
    /// `<|startoftext|> ... <|endoftext|>`.
    pub fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let norm = ftfy::normalize(text);
        let enc = self
            .inner
            .encode(norm.as_str(), true)
            .map_err(|e| Error::Encode { text: text.into(), msg: e.to_string() })?;
        Ok(enc.get_ids().iter().map(|&i| i64::from(i)).collect())
    }

    /// One phrase's ids as OpenAI CLIP's `SimpleTokenizer` gives them between
    /// `<|startoftext|>` and `<|endoftext|>`, uncut (`clip.tokenize` before its cut).
    pub fn clip_ids(&self, text: &str) -> Result<Vec<i64>> {
        self.clip.ids(&self.inner, text)
    }

    /// A batch as the original fed it to the text tower (phrases tokenized in parallel).
    pub fn batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<TokenBatch> {
        self.batch_with(texts, Tokenization::Original)
    }

    /// A batch tokenized as `how` says (phrases in parallel), padded to its longest phrase.
    /// `clip.tokenize` pads every row to 77; the text tower's output at `<|endoftext|>` does not
    /// depend on the padding after it (causal attention).
    pub fn batch_with<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        how: Tokenization,
    ) -> Result<TokenBatch> {
        let rows = texts
            .par_iter()
            .map(|t| match how {
                Tokenization::Original => {
                    let mut ids = self.ids(t.as_ref())?;
                    ids.truncate(MAX_TOKENS);
                    Ok(ids)
                }
                Tokenization::Clip => Ok(self.clip.truncate(self.clip_ids(t.as_ref())?)),
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
