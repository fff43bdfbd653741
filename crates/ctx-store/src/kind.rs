//! What a context file is, and a summary of it: the `ctx-inspect FILE` view.

use std::path::{Path, PathBuf};

use crate::h5;
use crate::{
    CaptionDb, CaptionLayout, Error, Provenance, Result, TxtCtxReader, VisCtxReader, schema,
};

/// The three files of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `vis_ctx.hdf5`.
    VisCtx,
    /// `txt_ctx.hdf5`.
    TxtCtx,
    /// `caption_db.hdf5` in the given layout.
    CaptionDb(CaptionLayout),
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileKind::VisCtx => f.write_str("vis_ctx (visual context)"),
            FileKind::TxtCtx => f.write_str("txt_ctx (textual context)"),
            FileKind::CaptionDb(l) => write!(f, "caption_db, {l} layout"),
        }
    }
}

impl FileKind {
    /// The value of the root attribute [`schema::KIND`] for this kind.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            FileKind::VisCtx => schema::KIND_VIS,
            FileKind::TxtCtx => schema::KIND_TXT,
            FileKind::CaptionDb(_) => schema::KIND_CAPTION_DB,
        }
    }

    /// The kind of a file without members from its [`schema::KIND`] attribute (a caption
    /// database without rows has the original layout: the contiguous one has its datasets).
    fn of_empty(value: &str) -> Option<FileKind> {
        match value {
            schema::KIND_VIS => Some(FileKind::VisCtx),
            schema::KIND_TXT => Some(FileKind::TxtCtx),
            schema::KIND_CAPTION_DB => Some(FileKind::CaptionDb(CaptionLayout::Original)),
            _ => None,
        }
    }
}

/// Tells which of the three files `path` is, from its root attributes and first member; a file
/// we wrote without any entry (an empty shard) by its [`schema::KIND`] attribute.
pub fn detect(path: impl AsRef<Path>) -> Result<FileKind> {
    let path = path.as_ref();
    let file = h5::open_read(path)?;
    if file.attr_names().map_err(h5::h5err(path, "/"))?.iter().any(|n| n == schema::FDIM) {
        return Ok(FileKind::VisCtx);
    }
    if file.link_exists(schema::KEYS) {
        return Ok(FileKind::CaptionDb(CaptionLayout::Contiguous));
    }
    let (ids, other) = h5::numeric_members(path, &file)?;
    let unknown = |what: String| Error::Schema {
        path: path.to_owned(),
        message: format!("not a context file: {what}"),
    };
    let Some(first) = ids.first() else {
        if let Some(n) = other.first() {
            return Err(unknown(format!("unexpected member {n:?} at the root")));
        }
        return match h5::read_attr_str(path, &file, schema::KIND)? {
            Some(value) => FileKind::of_empty(&value)
                .ok_or_else(|| unknown(format!("no member, and {} is {value:?}", schema::KIND))),
            None => Err(unknown("the file is empty".into())),
        };
    };
    let name = first.to_string();
    if file.dataset(&name).is_ok() {
        return Ok(FileKind::VisCtx);
    }
    let g = file.group(&name).map_err(h5::h5err(path, &name))?;
    if View::ALL.iter().any(|v| g.link_exists(v.name())) {
        Ok(FileKind::TxtCtx)
    } else if g.link_exists(schema::KEYS) {
        Ok(FileKind::CaptionDb(CaptionLayout::Original))
    } else {
        Err(unknown(format!("group {name:?} holds neither whole/five/nine nor keys")))
    }
}

use crate::View;

/// A summary of a context file.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The file.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Images (vis/txt) or phrases (caption db).
    pub count: usize,
    /// vis_ctx: the feature size.
    pub fdim: Option<usize>,
    /// txt_ctx: texts per crop, from the first image.
    pub k: Option<usize>,
    /// txt_ctx and caption db: the text feature size.
    pub d: Option<usize>,
    /// caption db: the key size.
    pub key_dim: Option<usize>,
    /// caption db (original layout): batch groups.
    pub batches: Option<usize>,
    /// First and last image ids.
    pub id_range: Option<(u64, u64)>,
    /// How the file was made (files we write).
    pub provenance: Option<Provenance>,
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
        k: None,
        d: None,
        key_dim: None,
        batches: None,
        id_range: None,
        provenance: None,
    };
    match kind {
        FileKind::VisCtx => {
            let r = VisCtxReader::open(path)?;
            let ids = r.ids()?;
            s.count = ids.len();
            s.fdim = Some(r.fdim());
            s.id_range = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
            s.provenance = r.provenance()?;
        }
        FileKind::TxtCtx => {
            let r = TxtCtxReader::open(path)?;
            let ids = r.ids()?;
            s.count = ids.len();
            if let Some(&first) = ids.first() {
                let v = r.view(first, View::Whole, None, None)?;
                (s.k, s.d) = (Some(v.k), Some(v.d));
            }
            s.id_range = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
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
    }
    Ok(s)
}
