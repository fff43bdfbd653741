//! [`CompactTxtWriter`]: a compact txt_ctx written batch by batch through the HDF5 library,
//! each batch flushed, resumable as the full layout's writers are.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use hdf5::Dataset;
use ndarray::{ArrayView2, ArrayView3};

use crate::compact::db::{self, mismatch_error};
use crate::compact::ids::{self, CompactIds};
use crate::compact::rows::RowFinder;
use crate::compact::{self as layout, CaptionDbIdentity};
use crate::entry::{Captions, TxtEntry};
use crate::error::{Error, Result};
use crate::h5::{self, h5err};
use crate::id::ImageId;
use crate::kind::{FileKind, Profile};
use crate::provenance::Provenance;
use crate::schema::{self, View};

/// Images per chunk of every dataset (a `nine/rows` chunk of k = 16 is 147 KB).
const CHUNK_IMAGES: usize = 256;

/// One batch in the compact form: image ids, and for each view held its texts per crop, rows
/// and scores (`ids.len() * crops * k` each).
pub(crate) struct CompactBatch {
    pub(crate) ids: Vec<ImageId>,
    pub(crate) views: Vec<CompactView>,
}

/// The rows and scores of one view of a [`CompactBatch`].
pub(crate) struct CompactView {
    pub(crate) view: View,
    pub(crate) k: usize,
    pub(crate) rows: Vec<i32>,
    pub(crate) scores: Vec<f32>,
}

/// Writes a txt_ctx in the compact layout (`docs/hdf5-schema.md`), either profile: each hit as
/// its row in the caption database and its score. Entries are given in the full layout, as to
/// [`TxtCtxWriter`](crate::TxtCtxWriter); each hit's row is found by its text and feature, so
/// the file reads back as the same entries.
///
/// Every image must hold the views and texts per crop of the file's first image (HAAV's
/// profile: all three views, 8k, 2k and k texts per crop). How the file stores the image ids is
/// fixed at creation ([`CompactIds`]): [`create`](Self::create) makes a file of integer ids,
/// [`create_with_ids`](Self::create_with_ids) one of either.
pub struct CompactTxtWriter {
    w: h5::Writer,
    profile: Profile,
    identity: CaptionDbIdentity,
    /// Finds the rows of full entries; `None` in a writer of rows only (merging compact files).
    finder: Option<RowFinder>,
    /// The views held and their texts per crop, from the first image.
    shape: Option<Vec<(View, usize)>>,
    /// How `/ids` stores the ids.
    id_kind: CompactIds,
    ids: HashSet<ImageId>,
    n: usize,
}

impl CompactTxtWriter {
    /// Creates the file for entries whose hits come from the caption database at `caption_db`,
    /// loaded as `captions` (features and phrases; HAAV's values as features). Its name, size
    /// and content hash go to the root, with the provenance and, in HAAV's profile, `fdim`.
    /// The file holds integer image ids (COCO's); images named otherwise need
    /// [`create_with_ids`](Self::create_with_ids).
    pub fn create(
        path: impl AsRef<Path>,
        profile: Profile,
        caption_db: impl AsRef<Path>,
        captions: Arc<Captions>,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let (path, db) = (path.as_ref(), caption_db.as_ref());
        Self::create_with_ids(
            path,
            profile,
            db,
            captions,
            CompactIds::Integers,
            provenance,
            overwrite,
        )
    }

    /// [`create`](Self::create) with the image ids stored as `ids` says: int64, or names
    /// (`CompactIds::of` the images to be written gives the one they need).
    pub fn create_with_ids(
        path: impl AsRef<Path>,
        profile: Profile,
        caption_db: impl AsRef<Path>,
        captions: Arc<Captions>,
        ids: CompactIds,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let identity = db::identity(caption_db.as_ref(), &captions)?;
        let finder = RowFinder::new(path, captions)?;
        Self::create_with(path, profile, identity, Some(finder), ids, provenance, overwrite)
    }

    /// A writer of rows only, for files made with the caption database `identity`.
    pub(crate) fn create_with(
        path: &Path,
        profile: Profile,
        identity: CaptionDbIdentity,
        finder: Option<RowFinder>,
        id_kind: CompactIds,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let w = h5::Writer::create(path, overwrite)?;
        let (p, root) = (&w.path, w.file());
        let kind = match profile {
            Profile::Original => FileKind::TxtCtx,
            Profile::Haav => FileKind::HaavTxtCtx,
        };
        provenance.write(p, root, kind)?;
        h5::write_attr_str(p, root, layout::TXT_LAYOUT, layout::LAYOUT_COMPACT)?;
        h5::write_attr_str(p, root, layout::CAPTION_DB, &identity.name)?;
        h5::write_attr_str(p, root, layout::CAPTION_DB_SHA256, &identity.sha256)?;
        let size = |name: &str, v: u64| h5::write_attr_i64(p, root, name, v as i64);
        size(layout::CAPTION_DB_BYTES, identity.bytes)?;
        size(layout::CAPTION_DB_ROWS, identity.rows as u64)?;
        size(layout::CAPTION_DB_DIM, identity.d as u64)?;
        if profile == Profile::Haav {
            // HAAV's readers take the feature width from the root attribute fdim.
            size(schema::FDIM, identity.d as u64)?;
        }
        ids::create(p, root, id_kind, CHUNK_IMAGES)?;
        root.flush().map_err(h5err(p, "/"))?;
        let ids = HashSet::new();
        Ok(Self { w, profile, identity, finder, shape: None, id_kind, ids, n: 0 })
    }

    /// Opens an existing compact file to add images (resume), with the caption database it was
    /// made with (refused, naming both files, when another). Returns the writer and the ids of
    /// the images it holds, ascending; rows of a batch whose ids were not written (a killed
    /// writer) are dropped. The file keeps how it stores ids ([`CompactIds`]).
    pub fn append(
        path: impl AsRef<Path>,
        caption_db: impl AsRef<Path>,
        captions: Arc<Captions>,
    ) -> Result<(Self, Vec<ImageId>)> {
        let path = path.as_ref();
        let caption_db = caption_db.as_ref();
        let w = h5::Writer::append(path)?;
        let info = layout::info(path, w.file())?.ok_or_else(|| Error::Schema {
            path: path.to_owned(),
            message: "not a compact txt_ctx (no root attribute xctx_txt_layout)".into(),
        })?;
        let identity = db::identity(caption_db, &captions)?;
        if identity.sha256 != info.caption_db.sha256 {
            return Err(mismatch_error(
                path,
                caption_db,
                format!(
                    "content hash {}, but the file was made with {}",
                    identity.sha256, info.caption_db.sha256
                ),
            ));
        }
        let finder = RowFinder::new(path, captions)?;
        let (id_kind, ids) = ids::read(path, &h5::Checks::default(), w.file())?;
        let n = ids.len();
        let mut shape = Vec::new();
        for (view, k) in &info.views {
            for name in [layout::ROWS, schema::SCORES] {
                let object = format!("{view}/{name}");
                let ds = w.file().dataset(&object).map_err(h5err(path, &object))?;
                let mut s = ds.shape();
                if s[0] != n {
                    s[0] = n;
                    ds.resize(s).map_err(h5err(path, &object))?;
                }
            }
            shape.push((*view, *k));
        }
        w.end_batch()?;
        let shape = (!shape.is_empty()).then_some(shape);
        let (profile, identity) = (info.profile, info.caption_db);
        let writer = Self {
            w,
            profile,
            identity,
            finder: Some(finder),
            shape,
            id_kind,
            ids: ids.iter().cloned().collect(),
            n,
        };
        let mut sorted = ids;
        sorted.sort_unstable();
        Ok((writer, sorted))
    }

    /// The profile of the entries.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The caption database the file is made with.
    pub fn caption_db(&self) -> &CaptionDbIdentity {
        &self.identity
    }

    /// How the file stores the image ids.
    pub fn ids(&self) -> CompactIds {
        self.id_kind
    }

    /// Writes a batch of images and flushes it to disk.
    pub fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let path = self.w.path.clone();
        let Some(finder) = &self.finder else {
            return Err(Error::Schema {
                path,
                message: "this compact writer copies rows only (no caption database)".into(),
            });
        };
        let batch_ids: Vec<ImageId> = entries.iter().map(|e| e.id.clone()).collect();
        ids::check(&path, self.id_kind, &batch_ids)?;
        let mut views: Vec<CompactView> = Vec::new();
        for e in entries {
            if let Some(message) = e.views_error() {
                return Err(Error::Input { path, object: e.id.to_string(), message });
            }
            let held: Vec<(View, usize)> = e.views().map(|v| (v, e.view(v).k)).collect();
            if views.is_empty() {
                views = held
                    .iter()
                    .map(|&(view, k)| CompactView { view, k, rows: Vec::new(), scores: Vec::new() })
                    .collect();
            }
            for cv in views.iter_mut() {
                let v = e.view(cv.view);
                let object = format!("{}/{}", e.id, cv.view);
                if v.crops != cv.view.crops() || v.is_absent() {
                    return Err(Error::Input {
                        path,
                        object,
                        message: format!("{} crops, expected {}", v.crops, cv.view.crops()),
                    });
                }
                cv.rows.extend(finder.rows(&path, &object, v)?);
                cv.scores.extend_from_slice(&v.scores);
            }
            // Views and k against the batch's first image; the file's are checked below.
            let first: Vec<(View, usize)> = views.iter().map(|c| (c.view, c.k)).collect();
            if held != first {
                return Err(self.shape_error(&e.id, &held, &first));
            }
        }
        let batch = CompactBatch { ids: batch_ids, views };
        self.write_compact(&batch)
    }

    fn shape_error(&self, id: &ImageId, held: &[(View, usize)], want: &[(View, usize)]) -> Error {
        Error::Input {
            path: self.w.path.clone(),
            object: id.to_string(),
            message: format!(
                "views and texts per crop {held:?}, but the file's images have {want:?}"
            ),
        }
    }

    /// Writes a batch given as rows and scores (checked against the database's size), and
    /// flushes it: every view's datasets first, the ids last, so a file killed in between
    /// holds the ids of complete images only.
    pub(crate) fn write_compact(&mut self, batch: &CompactBatch) -> Result<()> {
        let path = self.w.path.clone();
        let n = batch.ids.len();
        if n == 0 {
            return Ok(());
        }
        ids::check(&path, self.id_kind, &batch.ids)?;
        let held: Vec<(View, usize)> = batch.views.iter().map(|c| (c.view, c.k)).collect();
        self.check_shape(&batch.ids[0], &held)?;
        for id in &batch.ids {
            if !self.ids.insert(id.clone()) {
                return Err(Error::Input {
                    path,
                    object: id.to_string(),
                    message: "the image is in the file already".into(),
                });
            }
        }
        let (start, end) = (self.n, self.n + n);
        for cv in &batch.views {
            let crops = cv.view.crops();
            let want = n * crops * cv.k;
            let object = format!("{}/{}", cv.view, layout::ROWS);
            if cv.rows.len() != want || cv.scores.len() != want {
                return Err(Error::Input {
                    path,
                    object,
                    message: format!(
                        "{} rows and {} scores for {n} images of {crops} crops of {} texts",
                        cv.rows.len(),
                        cv.scores.len(),
                        cv.k
                    ),
                });
            }
            let rows = self.identity.rows;
            if let Some(bad) = cv.rows.iter().find(|&&r| r < 0 || r as usize >= rows) {
                return Err(Error::Input {
                    path,
                    object,
                    message: format!("row {bad}, but the caption database holds {rows}"),
                });
            }
            let (rows_ds, scores_ds) = self.datasets(cv.view, cv.k)?;
            grow(&path, &rows_ds, &object, &cv.rows, start, end, crops, cv.k)?;
            let object = format!("{}/{}", cv.view, schema::SCORES);
            grow(&path, &scores_ds, &object, &cv.scores, start, end, crops, cv.k)?;
        }
        let ids_ds = self.w.file().dataset(layout::IDS).map_err(h5err(&path, layout::IDS))?;
        ids::append(&path, &ids_ds, self.id_kind, start, &batch.ids)?;
        self.w.end_batch()?;
        self.n = end;
        tracing::debug!(n, "compact txt_ctx batch written");
        Ok(())
    }

    /// The file's views and k (set by its first image) against a batch's.
    fn check_shape(&mut self, id: &ImageId, held: &[(View, usize)]) -> Result<()> {
        if let Some(shape) = &self.shape {
            if shape != held {
                return Err(self.shape_error(id, held, shape));
            }
            return Ok(());
        }
        let views: Vec<View> = held.iter().map(|&(v, _)| v).collect();
        let path = &self.w.path;
        let bad =
            |message: String| Error::Input { path: path.clone(), object: id.to_string(), message };
        if views.first() != Some(&View::Whole) || views.len() == 2 {
            return Err(bad(format!("views {views:?}: whole, and five and nine together")));
        }
        if self.profile == Profile::Haav {
            let k = held.iter().find(|(v, _)| *v == View::Nine).map_or(0, |&(_, k)| k);
            let haav = View::ALL.map(|v| (v, v.haav_factor() * k));
            if k == 0 || held != haav {
                return Err(bad(format!(
                    "texts per crop {held:?}; HAAV's layout needs 8k, 2k and k (k at least 1)"
                )));
            }
        }
        self.shape = Some(held.to_vec());
        Ok(())
    }

    /// The `rows` and `scores` datasets of `view`, made at the file's first image.
    fn datasets(&self, view: View, k: usize) -> Result<(Dataset, Dataset)> {
        let path = &self.w.path;
        let root = self.w.file();
        let rows_name = format!("{view}/{}", layout::ROWS);
        let scores_name = format!("{view}/{}", schema::SCORES);
        if !root.link_exists(view.name()) {
            let g = root.create_group(view.name()).map_err(h5err(path, view.name()))?;
            let (c, k1) = (CHUNK_IMAGES, k.max(1));
            if view == View::Whole {
                g.new_dataset::<i32>().shape((0.., k)).chunk((c, k1)).create(layout::ROWS)
            } else {
                let crops = view.crops();
                g.new_dataset::<i32>()
                    .shape((0.., crops, k))
                    .chunk((c, crops, k1))
                    .create(layout::ROWS)
            }
            .map_err(h5err(path, &rows_name))?;
            if view == View::Whole {
                g.new_dataset::<f32>().shape((0.., k)).chunk((c, k1)).create(schema::SCORES)
            } else {
                let crops = view.crops();
                g.new_dataset::<f32>()
                    .shape((0.., crops, k))
                    .chunk((c, crops, k1))
                    .create(schema::SCORES)
            }
            .map_err(h5err(path, &scores_name))?;
        }
        let rows = root.dataset(&rows_name).map_err(h5err(path, &rows_name))?;
        let scores = root.dataset(&scores_name).map_err(h5err(path, &scores_name))?;
        Ok((rows, scores))
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<()> {
        self.w.close()
    }
}

/// Appends images `start..end` of a view's dataset (`(N, k)` for `whole`, else `(N, crops, k)`).
#[allow(clippy::too_many_arguments)]
fn grow<T: hdf5::H5Type>(
    path: &Path,
    ds: &Dataset,
    object: &str,
    data: &[T],
    start: usize,
    end: usize,
    crops: usize,
    k: usize,
) -> Result<()> {
    let n = end - start;
    if crops == 1 {
        ds.resize([end, k]).map_err(h5err(path, object))?;
        let v = ArrayView2::from_shape((n, k), data).expect("length checked");
        ds.write_slice(v, (start..end, ..)).map_err(h5err(path, object))
    } else {
        ds.resize([end, crops, k]).map_err(h5err(path, object))?;
        let v = ArrayView3::from_shape((n, crops, k), data).expect("length checked");
        ds.write_slice(v, (start..end, .., ..)).map_err(h5err(path, object))
    }
}
