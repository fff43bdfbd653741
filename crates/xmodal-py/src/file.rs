//! `xmodal_ctx.open(path)`: any of the six kinds of file, with h5py's view of an image.

use std::path::PathBuf;

use ctx_store::{
    CaptionDb, FileKind, HaavCaptionDb, HaavTxtCtxReader, HaavVisCtxReader, ImageId, TxtCtxReader,
    View, VisCtxReader,
};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::error::IntoPy;
use crate::{arrays, attrs, key, preload};

/// The reader of each kind.
pub(crate) enum Reader {
    Vis(VisCtxReader),
    Txt(TxtCtxReader),
    HaavVis(HaavVisCtxReader),
    HaavTxt(HaavTxtCtxReader),
    CaptionDb(CaptionDb),
    HaavCaptionDb(HaavCaptionDb),
}

/// An open context file (what `xmodal_ctx.open` returns).
#[pyclass(module = "xmodal_ctx._native", frozen)]
pub(crate) struct CtxFile {
    path: PathBuf,
    kind: FileKind,
    pub(crate) reader: Reader,
    /// Image ids, integers ascending first ([`ImageId`]'s order; vis/txt); empty for a caption
    /// database.
    ids: Vec<ImageId>,
    /// Images, or rows of a caption database.
    len: usize,
}

/// Opens `path`, telling its kind from its layout as `ctx-inspect` does; a txt_ctx of the
/// compact layout is joined with `caption_db` (default: the one it records, beside it).
#[pyfunction]
#[pyo3(signature = (path, caption_db=None))]
pub(crate) fn open(
    py: Python<'_>,
    path: PathBuf,
    caption_db: Option<PathBuf>,
) -> PyResult<CtxFile> {
    py.detach(|| CtxFile::open(path, caption_db)).py_err()
}

impl CtxFile {
    fn open(path: PathBuf, caption_db: Option<PathBuf>) -> ctx_store::Result<CtxFile> {
        let kind = ctx_store::detect(&path)?;
        let (reader, ids, len) = match kind {
            FileKind::VisCtx => {
                let r = VisCtxReader::open(&path)?;
                let ids = r.keys()?;
                (Reader::Vis(r), ids, None)
            }
            FileKind::TxtCtx => {
                let r = match &caption_db {
                    Some(db) => TxtCtxReader::open_with_caption_db(&path, db)?,
                    None => TxtCtxReader::open(&path)?,
                };
                let ids = r.keys()?;
                (Reader::Txt(r), ids, None)
            }
            FileKind::HaavVisCtx => {
                let r = HaavVisCtxReader::open(&path)?;
                let ids = r.keys()?;
                (Reader::HaavVis(r), ids, None)
            }
            FileKind::HaavTxtCtx => {
                let r = match &caption_db {
                    Some(db) => HaavTxtCtxReader::open_with_caption_db(&path, db)?,
                    None => HaavTxtCtxReader::open(&path)?,
                };
                let ids = r.keys()?;
                (Reader::HaavTxt(r), ids, None)
            }
            FileKind::CaptionDb(_) => {
                let db = CaptionDb::open(&path)?;
                let n = db.len();
                (Reader::CaptionDb(db), Vec::new(), Some(n))
            }
            FileKind::HaavCaptionDb => {
                let db = HaavCaptionDb::open(&path)?;
                let n = db.len();
                (Reader::HaavCaptionDb(db), Vec::new(), Some(n))
            }
        };
        let len = len.unwrap_or(ids.len());
        Ok(CtxFile { path, kind, reader, ids, len })
    }

    fn is_caption_db(&self) -> bool {
        matches!(self.reader, Reader::CaptionDb(_) | Reader::HaavCaptionDb(_))
    }

    fn has(&self, id: &ImageId) -> bool {
        if self.is_caption_db() {
            id.as_u64().is_some_and(|row| row < self.len as u64)
        } else {
            self.ids.binary_search(id).is_ok()
        }
    }

    /// The key as an id this file holds (a row number of a caption database), or `KeyError`.
    fn id_of(&self, key: &Bound<'_, PyAny>) -> PyResult<ImageId> {
        let what = if self.is_caption_db() { "a row number" } else { "an image id" };
        let id = key::require(key, what)?;
        if self.is_caption_db() && key::row(key).is_none() {
            return Err(key::not_a(key, what));
        }
        if !self.has(&id) {
            let held = if self.is_caption_db() {
                format!("row {id} (the database holds {})", self.len)
            } else {
                format!("image {id}")
            };
            return Err(PyKeyError::new_err(format!("{}: no {held}", self.path.display())));
        }
        Ok(id)
    }

    /// The row number of a caption database's key, or `KeyError`.
    fn row_of(&self, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        let id = self.id_of(key)?;
        Ok(id.as_u64().map_or(usize::MAX, |r| r as usize))
    }
}

#[pymethods]
impl CtxFile {
    /// `vis_ctx`, `txt_ctx` or `caption_db`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.role()
    }

    /// `original` or `haav`: whose layout the file has.
    #[getter]
    fn profile(&self) -> &'static str {
        self.kind.profile().name()
    }

    /// The kind in words, as `ctx-inspect` prints it.
    #[getter]
    fn description(&self) -> String {
        self.kind.to_string()
    }

    /// The file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The root attributes, as h5py's `dict(f.attrs)`.
    #[getter]
    fn attrs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        attrs::root(py, &self.path)
    }

    fn __len__(&self) -> usize {
        self.len
    }

    /// Image ids ascending as uint64 when every id is an integer (COCO's files; a caption
    /// database's row numbers); for files of other sources, the group names as a list of
    /// `str`, integers first.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ids = if self.is_caption_db() {
            (0..self.len as u64).map(ImageId::from).collect()
        } else {
            self.ids.clone()
        };
        key::to_py(py, ids)
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        key::parse(key).is_some_and(|id| self.has(&id))
            && (!self.is_caption_db() || key::row(key).is_some())
    }

    fn __repr__(&self) -> String {
        format!("<xmodal_ctx {} ({} entries): {}>", self.kind, self.len, self.path.display())
    }

    /// What h5py's `f[str(id)]` holds, as numpy arrays: a vis_ctx's features; a txt_ctx's
    /// `{"whole"|"five"|"nine": {"features", "scores", "texts"}}`; HAAV's vis_ctx's
    /// `{"grid_features", "pooled_features"}`; a caption database's row `{"keys",
    /// "features"|"values", "captions"}`.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.is_caption_db() {
            let row = self.row_of(key)?;
            return match &self.reader {
                Reader::HaavCaptionDb(db) => {
                    caption(py, py.detach(|| db.get(row)).py_err()?, "values")
                }
                Reader::CaptionDb(db) => {
                    caption(py, py.detach(|| db.get(row)).py_err()?, "features")
                }
                _ => unreachable!("is_caption_db"),
            };
        }
        let id = &self.id_of(key)?;
        match &self.reader {
            Reader::Vis(r) => {
                let v = py.detach(|| r.get(id)).py_err()?;
                arrays::owned(py, &[v.len()], v)
            }
            Reader::Txt(r) => txt_entry(py, py.detach(|| r.get(id)).py_err()?),
            Reader::HaavTxt(r) => txt_entry(py, py.detach(|| r.get(id)).py_err()?),
            Reader::HaavVis(r) => {
                let e = py.detach(|| r.get(id)).py_err()?;
                let d = PyDict::new(py);
                let grid = [e.tokens, r.fdim_grid()];
                d.set_item("grid_features", arrays::owned(py, &grid, e.grid)?)?;
                d.set_item("pooled_features", arrays::owned(py, &[e.pooled.len()], e.pooled)?)?;
                Ok(d.into_any())
            }
            Reader::CaptionDb(_) | Reader::HaavCaptionDb(_) => unreachable!("read above"),
        }
    }

    /// One view of one image of a txt_ctx, optionally one crop and its first `top_k` texts:
    /// h5py's `f[f"{id}/five/features"][crop, :top_k]` (and `scores`, `texts`).
    #[pyo3(signature = (id, view, crop=None, top_k=None))]
    fn view<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
        view: &str,
        crop: Option<usize>,
        top_k: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let v = View::from_name(view).ok_or_else(|| {
            PyValueError::new_err(format!("view {view:?}: expected whole, five or nine"))
        })?;
        let id = &self.id_of(id)?;
        let entry = match &self.reader {
            Reader::Txt(r) => py.detach(|| r.view(id, v, crop, top_k)),
            Reader::HaavTxt(r) => py.detach(|| r.view(id, v, crop, top_k)),
            _ => return Err(self.not_txt("view")),
        }
        .py_err()?;
        arrays::view(py, entry)
    }

    /// Every image (or those of `ids`, in their order) read on all cores into contiguous
    /// arrays: a dict with `ids` (uint64), `arrays` (name -> array whose first axis is the
    /// image, e.g. `five/features` `(n, 5, k, d)`) and `texts` (name -> (bytes, offsets,
    /// shape of one image's texts)). `k` keeps the first k texts per crop (HAAV: 8k, 2k, k);
    /// `texts=False` leaves the texts out.
    #[pyo3(signature = (ids=None, k=None, texts=true))]
    fn preload<'py>(
        &self,
        py: Python<'py>,
        ids: Option<Vec<Bound<'py, PyAny>>>,
        k: Option<usize>,
        texts: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let ids = match ids {
            None => None,
            Some(keys) => {
                Some(keys.iter().map(|key| self.id_of(key)).collect::<PyResult<Vec<_>>>()?)
            }
        };
        if self.is_caption_db() && (ids.is_some() || k.is_some()) {
            return Err(PyTypeError::new_err(
                "a caption database preloads whole: ids and k are for vis_ctx and txt_ctx files",
            ));
        }
        if k.is_some() && !matches!(self.reader, Reader::Txt(_) | Reader::HaavTxt(_)) {
            return Err(PyTypeError::new_err("k is for txt_ctx files"));
        }
        let all = ids.is_none();
        let ids = ids.unwrap_or_else(|| self.ids.clone());
        let loaded = py.detach(|| preload::load(&self.reader, ids, all, k, texts)).py_err()?;
        loaded.into_py(py)
    }
}

impl CtxFile {
    fn not_txt(&self, what: &str) -> PyErr {
        PyTypeError::new_err(format!(
            "{}: {what} is for txt_ctx files, this is a {}",
            self.path.display(),
            self.kind
        ))
    }
}

fn txt_entry<'py>(py: Python<'py>, e: ctx_store::TxtEntry) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("whole", arrays::view(py, e.whole)?)?;
    d.set_item("five", arrays::view(py, e.five)?)?;
    d.set_item("nine", arrays::view(py, e.nine)?)?;
    Ok(d.into_any())
}

fn caption<'py>(
    py: Python<'py>,
    c: ctx_store::Caption,
    features: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("keys", arrays::owned(py, &[c.key.len()], c.key)?)?;
    d.set_item(features, arrays::owned(py, &[c.feature.len()], c.feature)?)?;
    d.set_item("captions", PyBytes::new(py, c.caption.as_bytes()))?;
    Ok(d.into_any())
}
