//! A compact txt_ctx read as the full layout: its rows and scores held in memory, each image's
//! features and texts joined from the caption database it was made with.

use std::path::{Path, PathBuf};

use hdf5::Group;
use rayon::prelude::*;

use crate::compact::db::{self, LoadCaptions, mismatch_error};
use crate::compact::ids;
use crate::compact::write::CompactView;
use crate::compact::{self as layout, CompactInfo};
use crate::entry::{Captions, TxtEntry, ViewEntry};
use crate::error::{Error, Result};
use crate::h5::{self, h5err};
use crate::id::{ImageId, Key};
use crate::kind::Profile;
use crate::schema::{self, View};

/// A compact txt_ctx joined with its caption database.
pub(crate) struct Joined {
    path: PathBuf,
    caption_db: PathBuf,
    info: CompactInfo,
    /// Image ids ascending ([`ImageId`]'s order), and each one's position in the file.
    ids: Vec<ImageId>,
    positions: Vec<usize>,
    views: Vec<CompactView>,
    captions: Captions,
}

impl Joined {
    /// Reads the compact file `path` (open as `root`, `checks` left to check) and the caption
    /// database `given`, or the one its root names beside it, loaded by `load` (of the file's
    /// `profile`).
    pub(crate) fn open(
        path: &Path,
        checks: &h5::Checks,
        root: &Group,
        given: Option<&Path>,
        (profile, load): (Profile, LoadCaptions),
    ) -> Result<Self> {
        let info = layout::info(path, root)?.ok_or_else(|| Error::Schema {
            path: path.to_owned(),
            message: "not a compact txt_ctx".into(),
        })?;
        if info.profile != profile {
            let reader = match info.profile {
                Profile::Original => "TxtCtxReader",
                Profile::Haav => "HaavTxtCtxReader",
            };
            return Err(Error::Schema {
                path: path.to_owned(),
                message: format!(
                    "a compact txt_ctx of the {} profile: read it with {reader}",
                    info.profile
                ),
            });
        }
        let caption_db = db::locate(path, &info.caption_db, given);
        let captions = db::load_checked(path, &caption_db, &info.caption_db, profile, load)?;
        let (raw_ids, views) = read_rows(path, checks, root, &info, &caption_db)?;
        let n = raw_ids.len();
        let held: Vec<View> = views.iter().map(|v| v.view).collect();
        if n > 0 && held != [View::Whole] && held != View::ALL {
            return Err(Error::Schema {
                path: path.to_owned(),
                message: format!("views {held:?}: whole, and five and nine together"),
            });
        }
        let mut order: Vec<(ImageId, usize)> =
            raw_ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
        order.sort_unstable();
        if let Some(w) = order.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Schema {
                path: path.to_owned(),
                message: format!("image {:?} is held twice in {}", w[0].0.as_str(), layout::IDS),
            });
        }
        let (ids, positions) = order.into_iter().unzip();
        Ok(Self { path: path.to_owned(), caption_db, info, ids, positions, views, captions })
    }

    /// The caption database joined.
    pub(crate) fn caption_db(&self) -> &Path {
        &self.caption_db
    }

    /// The file's root.
    pub(crate) fn info(&self) -> &CompactInfo {
        &self.info
    }

    /// Image ids, ascending ([`ImageId`]'s order).
    pub(crate) fn ids(&self) -> &[ImageId] {
        &self.ids
    }

    /// Where image `id` is: the image whose name is `id`, as the full layout's group names it.
    fn position(&self, id: &str) -> Result<usize> {
        match self.ids.binary_search(&ImageId::new(id)) {
            Ok(i) => Ok(self.positions[i]),
            Err(_) => Err(Error::Missing { path: self.path.clone(), object: id.to_string() }),
        }
    }

    /// The views every image holds.
    pub(crate) fn views(&self, id: &str) -> Result<Vec<View>> {
        self.position(id)?;
        Ok(self.views.iter().map(|v| v.view).collect())
    }

    /// One image, all views, as the full layout holds it.
    pub(crate) fn get(&self, id: &str) -> Result<TxtEntry> {
        let at = self.position(id)?;
        Ok(TxtEntry {
            id: ImageId::new(id),
            whole: self.view_at(at, View::Whole),
            five: self.view_at(at, View::Five),
            nine: self.view_at(at, View::Nine),
        })
    }

    /// One view of one image, as the full layout holds it ([`ViewEntry::absent`] when the file
    /// holds no such view).
    pub(crate) fn view(&self, id: &str, view: View) -> Result<ViewEntry> {
        Ok(self.view_at(self.position(id)?, view))
    }

    fn view_at(&self, at: usize, view: View) -> ViewEntry {
        let d = self.captions.feature_dim;
        let Some(v) = self.views.iter().find(|v| v.view == view) else {
            return ViewEntry::absent(d);
        };
        let per_image = view.crops() * v.k;
        let span = at * per_image..(at + 1) * per_image;
        let rows = &v.rows[span.clone()];
        let mut features = Vec::with_capacity(per_image * d);
        for &r in rows {
            let r = r as usize; // checked on open
            features.extend_from_slice(&self.captions.features[r * d..(r + 1) * d]);
        }
        ViewEntry {
            crops: view.crops(),
            k: v.k,
            d,
            features,
            scores: v.scores[span].to_vec(),
            texts: rows.iter().map(|&r| self.captions.captions[r as usize].clone()).collect(),
        }
    }

    /// The given images, joined in parallel, in the order given.
    pub(crate) fn preload_ids<K: Key + Sync>(&self, ids: &[K]) -> Result<Vec<TxtEntry>> {
        ids.par_iter().map(|id| self.get(&id.name())).collect()
    }
}

/// The ids of a compact file in the file's order, and every view's rows and scores (each row
/// checked against the database's size; `caption_db` is named in the error).
pub(crate) fn read_rows(
    path: &Path,
    checks: &h5::Checks,
    root: &Group,
    info: &CompactInfo,
    caption_db: &Path,
) -> Result<(Vec<ImageId>, Vec<CompactView>)> {
    let (_, ids) = ids::read(path, checks, root)?;
    let n = ids.len();
    let db_rows = info.caption_db.rows;
    let views = info
        .views
        .iter()
        .map(|&view_k| read_view(path, checks, root, view_k, n, db_rows, caption_db))
        .collect::<Result<Vec<_>>>()?;
    Ok((ids, views))
}

/// Reads `view/rows` and `view/scores` (`k` texts per crop) of the first `n` images (a killed
/// writer may have left more rows than ids), checking their shapes and every row against the
/// database's `db_rows`.
fn read_view(
    path: &Path,
    checks: &h5::Checks,
    root: &Group,
    (view, k): (View, usize),
    n: usize,
    db_rows: usize,
    caption_db: &Path,
) -> Result<CompactView> {
    let per_image = view.crops() * k;
    let read = |name: &str| -> Result<hdf5::Dataset> {
        let object = format!("{view}/{name}");
        let ds = h5::dataset(path, checks, root, &object, &object)?;
        let shape = ds.shape();
        let held = shape.first().copied().unwrap_or(0);
        let expected = [vec![held], view.shape(k)].concat();
        if shape != expected || held < n {
            let dims: Vec<String> = view.shape(k).iter().map(usize::to_string).collect();
            return Err(Error::Shape {
                path: path.to_owned(),
                object,
                expected: format!("({n}, {})", dims.join(", ")),
                found: shape,
            });
        }
        Ok(ds)
    };
    let rows_ds = read(layout::ROWS)?;
    let scores_ds = read(schema::SCORES)?;
    let object = format!("{view}/{}", layout::ROWS);
    let mut rows: Vec<i32> = rows_ds.read_raw().map_err(h5err(path, &object))?;
    rows.truncate(n * per_image);
    if let Some(at) = rows.iter().position(|&r| r < 0 || r as usize >= db_rows) {
        return Err(mismatch_error(
            path,
            caption_db,
            format!(
                "{object}[{}] is row {}, but the database holds {db_rows} phrases",
                at / per_image.max(1),
                rows[at]
            ),
        ));
    }
    let object = format!("{view}/{}", schema::SCORES);
    let mut scores: Vec<f32> = scores_ds.read_raw().map_err(h5err(path, &object))?;
    scores.truncate(n * per_image);
    Ok(CompactView { view, k, rows, scores })
}
