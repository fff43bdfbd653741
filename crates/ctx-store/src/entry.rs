//! The entries of the three files as plain data, whatever reads or writes them: an image of a
//! `txt_ctx.hdf5` and its views, the whole of a `vis_ctx.hdf5` in memory (either profile), the
//! phrases of a `caption_db.hdf5`.

use crate::id::ImageId;
use crate::schema::View;

mod arrays;
pub use arrays::{PackedTexts, TxtArrays, ViewArrays};

/// The retrieval results of one view of one image: `crops` rows of `k` texts each.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewEntry {
    /// Number of crops held (1 for `whole` and for a single selected crop).
    pub crops: usize,
    /// Texts per crop.
    pub k: usize,
    /// Feature size.
    pub d: usize,
    /// `crops * k * d` values, row-major.
    pub features: Vec<f32>,
    /// `crops * k` scores, descending within a crop.
    pub scores: Vec<f32>,
    /// `crops * k` texts.
    pub texts: Vec<String>,
}

impl ViewEntry {
    /// A view the file does not hold (a run that searched fewer views: `--views whole`): no
    /// crop, no text. Writers leave it out; readers answer it for a missing `five` or `nine`.
    pub fn absent(d: usize) -> ViewEntry {
        ViewEntry { crops: 0, k: 0, d, features: Vec::new(), scores: Vec::new(), texts: Vec::new() }
    }

    /// Whether this is an [`absent`](Self::absent) view.
    pub fn is_absent(&self) -> bool {
        self.crops == 0
    }

    /// Keeps one crop and/or the first `top_k` texts of each crop, as
    /// `f[...][crop, :top_k]` does in h5py (a `top_k` above `k` keeps all).
    pub fn select(&self, crop: Option<usize>, top_k: Option<usize>) -> Option<ViewEntry> {
        if self.is_absent() {
            return None;
        }
        let (first, crops) = match crop {
            Some(c) if c >= self.crops => return None,
            Some(c) => (c, 1),
            None => (0, self.crops),
        };
        let k = top_k.map_or(self.k, |t| t.min(self.k));
        let mut out = ViewEntry {
            crops,
            k,
            d: self.d,
            features: Vec::with_capacity(crops * k * self.d),
            scores: Vec::with_capacity(crops * k),
            texts: Vec::with_capacity(crops * k),
        };
        for c in first..first + crops {
            let row = c * self.k;
            out.features.extend_from_slice(&self.features[row * self.d..(row + k) * self.d]);
            out.scores.extend_from_slice(&self.scores[row..row + k]);
            out.texts.extend_from_slice(&self.texts[row..row + k]);
        }
        Some(out)
    }

    /// Shape of `features` as h5py shows it: `(k, d)` for one crop, else `(crops, k, d)`.
    pub fn features_shape(&self) -> Vec<usize> {
        let mut s = self.scores_shape();
        s.push(self.d);
        s
    }

    /// Shape of `scores` and `texts` as h5py shows them: `(k,)` or `(crops, k)`.
    pub fn scores_shape(&self) -> Vec<usize> {
        if self.crops == 1 { vec![self.k] } else { vec![self.crops, self.k] }
    }
}

/// One image of `txt_ctx.hdf5`.
#[derive(Clone, Debug, PartialEq)]
pub struct TxtEntry {
    /// The image id (COCO's integer id, or another source's name).
    pub id: ImageId,
    /// Query = the whole image.
    pub whole: ViewEntry,
    /// Queries = five crops ([`ViewEntry::absent`] in a file of the whole view only).
    pub five: ViewEntry,
    /// Queries = nine crops ([`ViewEntry::absent`] in a file of the whole view only).
    pub nine: ViewEntry,
}

impl TxtEntry {
    /// The entry of `view`.
    pub fn view(&self, view: View) -> &ViewEntry {
        match view {
            View::Whole => &self.whole,
            View::Five => &self.five,
            View::Nine => &self.nine,
        }
    }

    /// The views this entry holds: all three, or `whole` alone.
    pub fn views(&self) -> impl Iterator<Item = View> + '_ {
        View::ALL.into_iter().filter(|&v| !self.view(v).is_absent())
    }

    /// What is wrong with the views held, for the writers: `whole` is always held, and `five`
    /// and `nine` both or neither.
    pub(crate) fn views_error(&self) -> Option<String> {
        if self.whole.is_absent() {
            return Some("no whole view".into());
        }
        (self.five.is_absent() != self.nine.is_absent())
            .then(|| "five and nine crops are written together or not at all".into())
    }
}

/// Every image of a `vis_ctx.hdf5` in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct VisCtx {
    /// Image ids, ascending ([`ImageId`]'s order).
    pub ids: Vec<ImageId>,
    /// Feature size.
    pub fdim: usize,
    /// `ids.len() * fdim` values, row `i` for `ids[i]`.
    pub features: Vec<f32>,
}

impl VisCtx {
    /// The features of the `i`-th image.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.fdim..(i + 1) * self.fdim]
    }
}

/// The whole caption database in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Captions {
    /// Key size.
    pub key_dim: usize,
    /// Feature size.
    pub feature_dim: usize,
    /// `len * key_dim` values.
    pub keys: Vec<f32>,
    /// `len * feature_dim` values.
    pub features: Vec<f32>,
    /// The phrases.
    pub captions: Vec<String>,
}

/// One phrase of the database.
#[derive(Clone, Debug, PartialEq)]
pub struct Caption {
    /// The L2-normalised projected embedding.
    pub key: Vec<f32>,
    /// The text tower's pooled output.
    pub feature: Vec<f32>,
    /// The phrase.
    pub caption: String,
}

/// One image of HAAV's `vis_ctx.hdf5`.
#[derive(Clone, Debug, PartialEq)]
pub struct HaavVisEntry {
    /// Tokens of the grid (class token first: 50 for ViT-B/32 at 224 px).
    pub tokens: usize,
    /// `(tokens, fdim_grid)` row-major.
    pub grid: Vec<f32>,
    /// `(fdim_pooled,)`.
    pub pooled: Vec<f32>,
}

/// Every image of HAAV's `vis_ctx.hdf5` in memory (HAAV's `VisCtxField(preload=True)`).
#[derive(Clone, Debug, PartialEq)]
pub struct HaavVisCtx {
    /// Image ids, ascending ([`ImageId`]'s order).
    pub ids: Vec<ImageId>,
    /// Tokens per image (the same for every image: HAAV's training code stacks them).
    pub tokens: usize,
    /// Width of the grid.
    pub fdim_grid: usize,
    /// Size of the pooled embedding.
    pub fdim_pooled: usize,
    /// `ids.len() * tokens * fdim_grid` values, image `i`'s grid at `i * tokens * fdim_grid`.
    pub grid: Vec<f32>,
    /// `ids.len() * fdim_pooled` values.
    pub pooled: Vec<f32>,
}

impl HaavVisCtx {
    /// The `(tokens, fdim_grid)` grid of the `i`-th image.
    pub fn grid_row(&self, i: usize) -> &[f32] {
        let n = self.tokens * self.fdim_grid;
        &self.grid[i * n..(i + 1) * n]
    }

    /// The pooled embedding of the `i`-th image.
    pub fn pooled_row(&self, i: usize) -> &[f32] {
        &self.pooled[i * self.fdim_pooled..(i + 1) * self.fdim_pooled]
    }
}
