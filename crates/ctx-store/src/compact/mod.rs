//! The compact layout of `txt_ctx.hdf5` (either profile): per image and view the row numbers of
//! the hits in the caption database and their scores, no features and no texts. Readers join
//! them back from the caption database the file names at its root ([`read`]); the writer finds
//! each hit's row from its text and feature ([`rows`], [`write`]). `docs/hdf5-schema.md`
//! describes the layout.
//!
//! ```text
//! attrs   xctx_kind = txt_ctx | haav_txt_ctx, xctx_txt_layout = "compact-v1",
//!         xctx_caption_db (file name), xctx_caption_db_bytes, xctx_caption_db_rows,
//!         xctx_caption_db_d, xctx_caption_db_sha256; HAAV's: fdim
//! ids            int64 (N,) | str (N,)   image ids, names where any is no integer
//! <view>/rows    int32 (N, k) | (N, 5, k) | (N, 9, k)   rows of caption_db
//! <view>/scores  float32, shaped like rows
//! ```

use std::path::Path;

use hdf5::Group;

use crate::error::{Error, Result};
use crate::h5;
use crate::id::ImageId;
use crate::kind::{FileKind, Profile};
use crate::schema::{self, View};

pub(crate) mod db;
pub(crate) mod ids;
pub(crate) mod read;
pub(crate) mod rows;
pub(crate) mod write;

pub use ids::CompactIds;
pub(crate) use ids::IDS;

/// Root attribute naming a txt_ctx's layout: [`LAYOUT_COMPACT`] (absent in the full layout).
pub(crate) const TXT_LAYOUT: &str = "xctx_txt_layout";
/// [`TXT_LAYOUT`] of the compact layout.
pub(crate) const LAYOUT_COMPACT: &str = "compact-v1";
/// Root attribute: the caption database's file name, looked for beside the txt_ctx.
pub(crate) const CAPTION_DB: &str = "xctx_caption_db";
/// Root attribute: the caption database's size in bytes.
pub(crate) const CAPTION_DB_BYTES: &str = "xctx_caption_db_bytes";
/// Root attribute: the caption database's phrases.
pub(crate) const CAPTION_DB_ROWS: &str = "xctx_caption_db_rows";
/// Root attribute: the caption database's feature width (HAAV's: of `values`).
pub(crate) const CAPTION_DB_DIM: &str = "xctx_caption_db_d";
/// Root attribute: the caption database's content hash ([`db::content_hash`]).
pub(crate) const CAPTION_DB_SHA256: &str = "xctx_caption_db_sha256";
/// Dataset of a view group: the hits' rows in the caption database.
pub(crate) const ROWS: &str = "rows";

/// The caption database a compact txt_ctx was made with, as its root attributes record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionDbIdentity {
    /// Its file name (no directory): the readers look for it beside the txt_ctx.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its phrases.
    pub rows: usize,
    /// Its feature width (HAAV's: of `values`).
    pub d: usize,
    /// SHA-256 of its phrases, row count, width and first and last feature rows, in hex
    /// (`docs/hdf5-schema.md`).
    pub sha256: String,
}

/// What a compact txt_ctx is, from its root ([`compact_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactInfo {
    /// Whose layout the joined entries have.
    pub profile: Profile,
    /// The caption database it was made with.
    pub caption_db: CaptionDbIdentity,
    /// Images held.
    pub images: usize,
    /// How `/ids` stores them: int64, or names where an image's id is no integer.
    pub ids: CompactIds,
    /// The views held and their texts per crop (from the datasets' shapes; empty without
    /// images).
    pub views: Vec<(View, usize)>,
}

impl CompactInfo {
    /// The kind of file the joined entries make.
    pub fn kind(&self) -> FileKind {
        match self.profile {
            Profile::Original => FileKind::TxtCtx,
            Profile::Haav => FileKind::HaavTxtCtx,
        }
    }
}

/// Whether the file's root says it has the compact layout.
pub(crate) fn is_compact(path: &Path, root: &Group) -> Result<bool> {
    Ok(h5::read_attr_str(path, root, TXT_LAYOUT)?.is_some())
}

/// The compact layout's root of the file at `path`, `None` for a txt_ctx of the full layout and
/// for any other kind of file.
pub fn compact_info(path: impl AsRef<Path>) -> Result<Option<CompactInfo>> {
    let path = path.as_ref();
    let file = h5::open_read(path)?;
    info(path, &file)
}

/// [`compact_info`] of an open file.
pub(crate) fn info(path: &Path, root: &Group) -> Result<Option<CompactInfo>> {
    let Some(layout) = h5::read_attr_str(path, root, TXT_LAYOUT)? else { return Ok(None) };
    let schema_error = |message: String| Error::Schema { path: path.to_owned(), message };
    if layout != LAYOUT_COMPACT {
        return Err(schema_error(format!(
            "{TXT_LAYOUT} is {layout:?}; this version reads {LAYOUT_COMPACT:?}"
        )));
    }
    let kind = h5::read_attr_str(path, root, schema::KIND)?;
    let profile = match kind.as_deref() {
        Some(schema::KIND_TXT) => Profile::Original,
        Some(schema::KIND_HAAV_TXT) => Profile::Haav,
        other => {
            return Err(schema_error(format!(
                "a compact txt_ctx, but {} is {other:?}",
                schema::KIND
            )));
        }
    };
    let text = |name: &str| -> Result<String> {
        h5::read_attr_str(path, root, name)?
            .ok_or_else(|| Error::Missing { path: path.to_owned(), object: format!("/@{name}") })
    };
    let int = |name: &str| -> Result<u64> {
        let v = h5::read_attr_int(path, root, name)?
            .ok_or_else(|| Error::Missing { path: path.to_owned(), object: format!("/@{name}") })?;
        u64::try_from(v).map_err(|_| Error::OutOfRange {
            path: path.to_owned(),
            object: format!("/@{name}"),
            what: "a size".into(),
            value: i128::from(v),
            limit: i64::MAX as u64,
        })
    };
    let caption_db = CaptionDbIdentity {
        name: text(CAPTION_DB)?,
        bytes: int(CAPTION_DB_BYTES)?,
        rows: int(CAPTION_DB_ROWS)? as usize,
        d: int(CAPTION_DB_DIM)? as usize,
        sha256: text(CAPTION_DB_SHA256)?,
    };
    let (images, ids) = match root.dataset(IDS) {
        Ok(ds) => (ds.shape().first().copied().unwrap_or(0), ids::kind_of(path, &ds)?),
        Err(_) => (0, CompactIds::Integers),
    };
    let mut views = Vec::new();
    for view in View::ALL {
        if let Ok(ds) = root.dataset(&format!("{view}/{ROWS}")) {
            views.push((view, ds.shape().last().copied().unwrap_or(0)));
        }
    }
    Ok(Some(CompactInfo { profile, caption_db, images, ids, views }))
}

/// The image ids of a compact file (open as `root`, `checks` left to check), ascending
/// ([`ImageId`]'s order).
pub(crate) fn ids(path: &Path, checks: &h5::Checks, root: &Group) -> Result<Vec<ImageId>> {
    let (_, mut ids) = ids::read(path, checks, root)?;
    ids.sort_unstable();
    Ok(ids)
}
