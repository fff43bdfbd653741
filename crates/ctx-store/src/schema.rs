//! The names of the three context files, in one place. `docs/hdf5-schema.md` is the prose form of
//! the same schema.
//!
//! ```text
//! vis_ctx.hdf5      attr fdim: int64;   "<image id>": float32 (fdim,)
//! txt_ctx.hdf5      "<image id>"/{whole,five,nine}/{features,scores,texts}
//!                   features float32 (k,d) | (5,k,d) | (9,k,d); scores float32 (k,) | (5,k) | (9,k);
//!                   texts variable-length UTF-8 strings, shaped like scores
//! caption_db.hdf5   original: "<batch index>"/{keys (B,dk), features (B,d), captions (B,)}, gzip
//!                   ours:     keys (N,dk), features (N,d), captions (N,) at the root, chunked;
//!                             attr layout = "xctx-contiguous-v1"
//!                   both, texts with sources: sources (B,) | (N,) beside captions, UTF-8
//! ours, all three:  root string attributes xctx_kind, xctx_tool, xctx_version, xctx_arguments
//!
//! HAAV's profile (same file names, other content; every dataset gzip-compressed):
//! vis_ctx.hdf5      attrs fdim_pooled, fdim_grid: int64;
//!                   "<image id>"/{grid_features float32 (tokens, fdim_grid),
//!                                 pooled_features float32 (fdim_pooled,)}
//! txt_ctx.hdf5      attr fdim: int64; "<image id>"/{whole,five,nine}/{features,scores,texts}
//!                   rows per crop: whole 8k, five 2k, nine k (k = 16: 128 / 32 / 16)
//! caption_db.hdf5   "<batch index>"/{keys (B,dk), values (B,d), captions (B,)[, sources (B,)]}
//! ours:             xctx_kind = haav_vis_ctx | haav_txt_ctx | haav_caption_db
//! ```

/// Root attribute of `vis_ctx.hdf5`: the feature size (int64 scalar).
pub const FDIM: &str = "fdim";
/// Dataset of retrieved text features in a view group.
pub const FEATURES: &str = "features";
/// Dataset of similarity scores in a view group.
pub const SCORES: &str = "scores";
/// Dataset of retrieved texts in a view group.
pub const TEXTS: &str = "texts";
/// Caption database: L2-normalised projected text embeddings.
pub const KEYS: &str = "keys";
/// Caption database: the phrases.
pub const CAPTIONS: &str = "captions";
/// Caption database: each phrase's source (the image whose caption it is), where the texts came
/// with one; beside `captions` in each batch group, or at the root of the contiguous layout.
pub const SOURCES: &str = "sources";
/// Root attribute marking our own caption database layout.
pub const LAYOUT: &str = "layout";
/// Value of [`LAYOUT`] for the contiguous caption database.
pub const LAYOUT_CONTIGUOUS: &str = "xctx-contiguous-v1";
/// Root attribute of every file we write: its kind and profile ([`KIND_VIS`], [`KIND_TXT`],
/// [`KIND_CAPTION_DB`] for the original's layout; [`KIND_HAAV_VIS`], [`KIND_HAAV_TXT`],
/// [`KIND_HAAV_CAPTION_DB`] for HAAV's), so that a file without any entry (an empty shard)
/// still says what it is.
pub const KIND: &str = "xctx_kind";
/// [`KIND`] of `vis_ctx.hdf5`.
pub const KIND_VIS: &str = "vis_ctx";
/// [`KIND`] of `txt_ctx.hdf5`.
pub const KIND_TXT: &str = "txt_ctx";
/// [`KIND`] of `caption_db.hdf5` (either layout).
pub const KIND_CAPTION_DB: &str = "caption_db";
/// Provenance attributes written at the root of every file we create (absent in the original's).
pub const PROVENANCE_TOOL: &str = "xctx_tool";
/// [`KIND`] of HAAV's `vis_ctx.hdf5` (the profile is part of the kind).
pub const KIND_HAAV_VIS: &str = "haav_vis_ctx";
/// [`KIND`] of HAAV's `txt_ctx.hdf5`.
pub const KIND_HAAV_TXT: &str = "haav_txt_ctx";
/// [`KIND`] of HAAV's `caption_db.hdf5`.
pub const KIND_HAAV_CAPTION_DB: &str = "haav_caption_db";
/// HAAV's `vis_ctx.hdf5`: root attribute, the size of `pooled_features` (the projection).
pub const FDIM_POOLED: &str = "fdim_pooled";
/// HAAV's `vis_ctx.hdf5`: root attribute, the width of `grid_features` (the vision tower's).
pub const FDIM_GRID: &str = "fdim_grid";
/// HAAV's `vis_ctx.hdf5`: every token's output of the vision transformer, before `ln_post`.
pub const GRID_FEATURES: &str = "grid_features";
/// HAAV's `vis_ctx.hdf5`: the projected, L2-normalised image embedding.
pub const POOLED_FEATURES: &str = "pooled_features";
/// HAAV's `caption_db.hdf5`: the text transformer's output at `<end>` before `ln_final` (what
/// HAAV's `txt_ctx.hdf5` stores as `features`).
pub const VALUES: &str = "values";
/// See [`PROVENANCE_TOOL`].
pub const PROVENANCE_VERSION: &str = "xctx_version";
/// See [`PROVENANCE_TOOL`]: the arguments of the run, as a JSON document.
pub const PROVENANCE_ARGUMENTS: &str = "xctx_arguments";

/// The three query views of `txt_ctx.hdf5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The whole image: datasets `(k, d)`, `(k,)`.
    Whole,
    /// Five crops: `(5, k, d)`, `(5, k)`.
    Five,
    /// Nine crops: `(9, k, d)`, `(9, k)`.
    Nine,
}

impl View {
    /// All views, in the file's order.
    pub const ALL: [View; 3] = [View::Whole, View::Five, View::Nine];

    /// The group name.
    pub fn name(self) -> &'static str {
        match self {
            View::Whole => "whole",
            View::Five => "five",
            View::Nine => "nine",
        }
    }

    /// Number of crops (queries) of the view.
    pub fn crops(self) -> usize {
        match self {
            View::Whole => 1,
            View::Five => 5,
            View::Nine => 9,
        }
    }

    /// Parses a group name.
    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Rows per crop of the view in HAAV's `txt_ctx.hdf5`, as multiples of its `k`: whole 8k,
    /// five 2k, nine k (`retrieve_captions.py` searches `topk=8*k`, `2*k`, `k`; the training
    /// code's `TxtCtxField` slices the same multiples of its own `k`).
    pub fn haav_factor(self) -> usize {
        match self {
            View::Whole => 8,
            View::Five => 2,
            View::Nine => 1,
        }
    }

    /// Shape of the `scores`/`texts` datasets (`features` adds `d`).
    pub fn shape(self, k: usize) -> Vec<usize> {
        match self {
            View::Whole => vec![k],
            _ => vec![self.crops(), k],
        }
    }
}

impl std::fmt::Display for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// HDF5 path of one dataset of one image in `txt_ctx.hdf5`.
pub fn txt_object(id: impl std::fmt::Display, view: View, dataset: &str) -> String {
    format!("{id}/{view}/{dataset}")
}

/// A decimal id as `str(int)` writes it: digits, no sign, no leading zero.
pub(crate) fn parse_id(name: &str) -> Option<u64> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    if canonical { name.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_names_round_trip_and_shapes() {
        for v in View::ALL {
            assert_eq!(View::from_name(v.name()), Some(v));
        }
        assert_eq!(View::from_name("four"), None);
        assert_eq!(View::Whole.shape(16), vec![16]);
        assert_eq!(View::Nine.shape(4), vec![9, 4]);
        let rows: Vec<usize> = View::ALL.iter().map(|v| v.haav_factor() * 16).collect();
        assert_eq!(rows, vec![128, 32, 16]);
        assert_eq!(txt_object(531912, View::Five, FEATURES), "531912/five/features");
    }

    #[test]
    fn ids_are_canonical_decimals() {
        assert_eq!(parse_id("531912"), Some(531912));
        assert_eq!(parse_id("0"), Some(0));
        assert_eq!(parse_id("007"), None);
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("fdim"), None);
        assert_eq!(parse_id(""), None);
    }
}
