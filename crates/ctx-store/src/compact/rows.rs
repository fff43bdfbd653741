//! Each hit of a full entry as its row in the caption database: the row whose phrase is the
//! hit's text and whose feature is bit for bit the hit's feature (a phrase held twice with
//! other features is told apart by them).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use crate::entry::{Captions, ViewEntry};
use crate::error::{Error, Result};

/// The rows of a caption database by phrase.
pub(crate) struct RowFinder {
    captions: Arc<Captions>,
    hasher: RandomState,
    /// (hash of the phrase, row), sorted.
    index: Vec<(u64, u32)>,
}

impl RowFinder {
    /// Indexes the phrases of `captions` (at most `i32::MAX` rows: the file stores int32).
    pub(crate) fn new(path: &Path, captions: Arc<Captions>) -> Result<Self> {
        if captions.captions.len() > i32::MAX as usize {
            return Err(Error::Input {
                path: path.to_owned(),
                object: "rows".into(),
                message: format!(
                    "{} phrases: the compact layout numbers rows in int32",
                    captions.captions.len()
                ),
            });
        }
        let hasher = RandomState::new();
        let mut index: Vec<(u64, u32)> = captions
            .captions
            .iter()
            .enumerate()
            .map(|(i, t)| (hasher.hash_one(t.as_str()), i as u32))
            .collect();
        index.sort_unstable();
        Ok(Self { captions, hasher, index })
    }

    /// The caption database's feature width.
    pub(crate) fn d(&self) -> usize {
        self.captions.feature_dim
    }

    /// The row of the hit `text` with `feature`, if the database holds one.
    fn find(&self, text: &str, feature: &[f32]) -> Option<u32> {
        let h = self.hasher.hash_one(text);
        let start = self.index.partition_point(|&(x, _)| x < h);
        let d = self.captions.feature_dim;
        self.index[start..].iter().take_while(|&&(x, _)| x == h).map(|&(_, r)| r).find(|&r| {
            let r = r as usize;
            let same_bits = |a: &[f32], b: &[f32]| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            };
            self.captions.captions[r] == text
                && same_bits(&self.captions.features[r * d..(r + 1) * d], feature)
        })
    }

    /// The rows of every hit of `v` (its `crops * k` texts in order); `object` names the view
    /// in the error for a hit the database does not hold.
    pub(crate) fn rows(&self, path: &Path, object: &str, v: &ViewEntry) -> Result<Vec<i32>> {
        let d = self.d();
        if v.d != d {
            return Err(Error::Input {
                path: path.to_owned(),
                object: object.to_owned(),
                message: format!("features of width {}, the caption database's have {d}", v.d),
            });
        }
        v.texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                self.find(text, &v.features[i * d..(i + 1) * d]).map(|r| r as i32).ok_or_else(|| {
                    Error::Input {
                        path: path.to_owned(),
                        object: object.to_owned(),
                        message: format!(
                            "hit {i} ({text:?}) is no phrase of the caption database with the same feature"
                        ),
                    }
                })
            })
            .collect()
    }
}
