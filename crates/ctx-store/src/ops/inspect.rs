//! What a context file is, and a summary of it: the `ctx-inspect FILE` view.

use std::path::{Path, PathBuf};

use crate::compact;
use crate::error::{Error, Result};
use crate::h5;
use crate::haav::caption_db::HaavCaptionDb;
use crate::haav::txt::HaavTxtCtxReader;
use crate::haav::vis::HaavVisCtxReader;
use crate::id::ImageId;
use crate::kind::{CaptionLayout, FileKind};
use crate::original::caption_db::CaptionDb;
use crate::original::txt::TxtCtxReader;
use crate::original::vis::VisCtxReader;
use crate::provenance::Provenance;
use crate::schema::{self, View};

/// Tells which of the six kinds of file `path` is, from its layout: root attributes and the
/// first member. A file we wrote without any entry (an empty shard) by its [`schema::KIND`]
/// attribute.
///
/// - root attribute `fdim_pooled` or `fdim_grid`, or image groups holding `grid_features` /
///   `pooled_features`: HAAV's vis_ctx;
/// - image groups holding `whole`/`five`/`nine`: a txt_ctx, HAAV's when the root has `fdim`
///   (HAAV's retrieval writes it, the original's does not);
/// - batch groups holding `keys`: a caption database, HAAV's when they hold `values`;
/// - root `keys`: our contiguous caption database;
/// - datasets per image id (and a root `fdim`): the original's vis_ctx.
pub fn detect(path: impl AsRef<Path>) -> Result<FileKind> {
    let path = path.as_ref();
    let file = h5::open_read(path)?;
    let attrs = file.attr_names().map_err(h5::h5err(path, "/"))?;
    let has_attr = |name: &str| attrs.iter().any(|n| n == name);
    if let Some(info) = compact::info(path, &file)? {
        return Ok(info.kind());
    }
    if has_attr(schema::FDIM_POOLED) || has_attr(schema::FDIM_GRID) {
        return Ok(FileKind::HaavVisCtx);
    }
    if file.link_exists(schema::KEYS) {
        return Ok(FileKind::CaptionDb(CaptionLayout::Contiguous));
    }
    let ids = h5::image_members(path, &file)?;
    let unknown = |what: String| Error::Schema {
        path: path.to_owned(),
        message: format!("not a context file: {what}"),
    };
    let Some(first) = ids.first() else {
        return match h5::read_attr_str(path, &file, schema::KIND)? {
            Some(value) => FileKind::from_attribute(&value)
                .ok_or_else(|| unknown(format!("no member, and {} is {value:?}", schema::KIND))),
            // The original's vis_ctx with no image.
            None if has_attr(schema::FDIM) => Ok(FileKind::VisCtx),
            None => Err(unknown("the file is empty".into())),
        };
    };
    let name = first.to_string();
    // The original names images by integer ids; other names in files we wrote (their kind
    // attribute) or beside the vis_ctx's `fdim`.
    if first.as_u64().is_none() && !has_attr(schema::KIND) && !has_attr(schema::FDIM) {
        return Err(unknown(format!("unexpected member {name:?} at the root")));
    }
    if file.dataset(&name).is_ok() {
        return Ok(FileKind::VisCtx);
    }
    let g = file.group(&name).map_err(h5::h5err(path, &name))?;
    if View::ALL.iter().any(|v| g.link_exists(v.name())) {
        Ok(if has_attr(schema::FDIM) { FileKind::HaavTxtCtx } else { FileKind::TxtCtx })
    } else if g.link_exists(schema::GRID_FEATURES) || g.link_exists(schema::POOLED_FEATURES) {
        Ok(FileKind::HaavVisCtx)
    } else if has_attr(schema::FDIM) {
        // The original's vis_ctx with a damaged member: `check` names it.
        Ok(FileKind::VisCtx)
    } else if g.link_exists(schema::KEYS) && g.link_exists(schema::VALUES) {
        Ok(FileKind::HaavCaptionDb)
    } else if g.link_exists(schema::KEYS) {
        Ok(FileKind::CaptionDb(CaptionLayout::Original))
    } else {
        Err(unknown(format!(
            "group {name:?} holds neither whole/five/nine, grid_features nor keys"
        )))
    }
}

/// A summary of a context file.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The file.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Images (vis/txt) or phrases (caption db).
    pub count: usize,
    /// vis_ctx: the feature size; HAAV's txt_ctx: its root attribute `fdim`.
    pub fdim: Option<usize>,
    /// HAAV's vis_ctx: `fdim_grid`, the width of `grid_features`.
    pub fdim_grid: Option<usize>,
    /// HAAV's vis_ctx: `fdim_pooled`, the size of `pooled_features`.
    pub fdim_pooled: Option<usize>,
    /// HAAV's vis_ctx: tokens per image in `grid_features`, from the first image.
    pub tokens: Option<usize>,
    /// txt_ctx: texts per crop, from the first image (HAAV's: of the `nine` view).
    pub k: Option<usize>,
    /// HAAV's txt_ctx: texts per crop of `whole`, `five`, `nine` in the first image (8k, 2k, k).
    pub view_rows: Option<[usize; 3]>,
    /// txt_ctx and caption db: the text feature size (HAAV's caption db: of `values`).
    pub d: Option<usize>,
    /// caption db: the key size.
    pub key_dim: Option<usize>,
    /// caption db (original layout, HAAV's): batch groups.
    pub batches: Option<usize>,
    /// First and last image ids ([`ImageId`]'s order).
    pub id_range: Option<(ImageId, ImageId)>,
    /// How the file was made (files we write).
    pub provenance: Option<Provenance>,
}

fn id_range(ids: &[ImageId]) -> Option<(ImageId, ImageId)> {
    ids.first().zip(ids.last()).map(|(a, b)| (a.clone(), b.clone()))
}

/// Summarises the file at `path`.
pub fn summarize(path: impl AsRef<Path>) -> Result<Summary> {
    let path = path.as_ref();
    let kind = detect(path)?;
    let mut s = Summary {
        path: path.to_owned(),
        kind,
        count: 0,
        fdim: None,
        fdim_grid: None,
        fdim_pooled: None,
        tokens: None,
        k: None,
        view_rows: None,
        d: None,
        key_dim: None,
        batches: None,
        id_range: None,
        provenance: None,
    };
    if summarize_compact(path, &mut s)? {
        return Ok(s);
    }
    match kind {
        FileKind::VisCtx => {
            let r = VisCtxReader::open(path)?;
            let ids = r.keys()?;
            (s.count, s.fdim, s.id_range) = (ids.len(), Some(r.fdim()), id_range(&ids));
            s.provenance = r.provenance()?;
        }
        FileKind::TxtCtx => {
            let r = TxtCtxReader::open(path)?;
            let ids = r.keys()?;
            (s.count, s.id_range) = (ids.len(), id_range(&ids));
            if let Some(first) = ids.first() {
                let v = r.view(first, View::Whole, None, None)?;
                (s.k, s.d) = (Some(v.k), Some(v.d));
            }
            s.provenance = r.provenance()?;
        }
        FileKind::CaptionDb(_) => {
            let db = CaptionDb::open(path)?;
            s.count = db.len();
            s.d = Some(db.feature_dim());
            s.key_dim = Some(db.key_dim());
            if db.layout() == CaptionLayout::Original {
                s.batches = Some(db.batches());
            }
            s.provenance = db.provenance()?;
        }
        FileKind::HaavVisCtx => {
            let r = HaavVisCtxReader::open(path)?;
            let ids = r.keys()?;
            (s.count, s.id_range) = (ids.len(), id_range(&ids));
            (s.fdim_grid, s.fdim_pooled) = (Some(r.fdim_grid()), Some(r.fdim_pooled()));
            if let Some(first) = ids.first() {
                s.tokens = Some(r.get(first)?.tokens);
            }
            s.provenance = r.provenance()?;
        }
        FileKind::HaavTxtCtx => {
            let r = HaavTxtCtxReader::open(path)?;
            let ids = r.keys()?;
            (s.count, s.id_range, s.fdim) = (ids.len(), id_range(&ids), Some(r.fdim()));
            if let Some(first) = ids.first() {
                let rows = r.view_rows(first)?;
                (s.k, s.view_rows) = (Some(rows[2]), Some(rows));
                s.d = Some(r.fdim());
            }
            s.provenance = r.provenance()?;
        }
        FileKind::HaavCaptionDb => {
            let db = HaavCaptionDb::open(path)?;
            (s.count, s.batches) = (db.len(), Some(db.batches()));
            (s.d, s.key_dim) = (Some(db.value_dim()), Some(db.key_dim()));
            s.provenance = db.provenance()?;
        }
    }
    Ok(s)
}

/// A txt_ctx of the compact layout summarised from its root and ids (its caption database is
/// not read); `false` for any other file.
fn summarize_compact(path: &Path, s: &mut Summary) -> Result<bool> {
    let (file, checks) = h5::open_checked(path)?;
    let Some(info) = compact::info(path, &file)? else { return Ok(false) };
    let ids: Vec<ImageId> = compact::ids(path, &checks, &file)?;
    (s.count, s.id_range) = (ids.len(), id_range(&ids));
    let k_of = |view: View| info.views.iter().find(|(v, _)| *v == view).map(|&(_, k)| k);
    if !ids.is_empty() {
        s.d = Some(info.caption_db.d);
        match info.profile {
            crate::kind::Profile::Original => s.k = k_of(View::Whole),
            crate::kind::Profile::Haav => {
                s.k = k_of(View::Nine);
                s.view_rows = Some(View::ALL.map(|v| k_of(v).unwrap_or(0)));
            }
        }
    }
    if info.profile == crate::kind::Profile::Haav {
        s.fdim = Some(info.caption_db.d);
    }
    s.provenance = Provenance::read(path, &file)?;
    Ok(true)
}
