//! The report of a check, and the checks both profiles' files share: image ids at the root,
//! the members of an image group, scores, finite values, L2-normalised rows.

use std::path::Path;

use crate::entry::ViewEntry;
use crate::error::{Error, Result};
use crate::h5;
use crate::id::ImageId;
use crate::kind::FileKind;
use crate::schema::{self, View};

/// One way in which a file departs from the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The HDF5 path of the object (`/` for the file).
    pub object: String,
    /// What is wrong.
    pub message: String,
}

/// The result of [`check`](crate::check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// What the file was taken to be.
    pub kind: FileKind,
    /// Entries (images or phrases) examined.
    pub entries: usize,
    /// HAAV's txt_ctx: the k its views were checked against (8k / 2k / k texts per crop).
    pub haav_k: Option<usize>,
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// The first damage found (file, object, offset, reason): the check then fails with
    /// [`Error::Damaged`] instead of reporting violations.
    pub(super) damage: Option<(std::path::PathBuf, String, Option<u64>, String)>,
}

impl Report {
    pub(crate) fn push(&mut self, object: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation { object: object.into(), message: message.into() });
    }

    pub(crate) fn push_err(&mut self, object: impl Into<String>, e: &Error) {
        if let Error::Damaged { path, object, offset, reason } = e {
            let damage = (path.clone(), object.clone(), *offset, reason.clone());
            self.damage.get_or_insert(damage);
            return;
        }
        // The error names the file already; keep the part after "<file>: ".
        let text = e.to_string();
        let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m).to_owned();
        self.push(object, message);
    }
}

/// Image ids at the root of `path` (every member names an image).
pub(crate) fn image_ids(path: &Path, report: &mut Report) -> Result<Vec<ImageId>> {
    let file = h5::open_read(path)?;
    let ids = h5::image_members(path, &file)?;
    report.entries = ids.len();
    Ok(ids)
}

/// Members of an image group that are not views.
pub(crate) fn unexpected_views(path: &Path, id: &ImageId, report: &mut Report) -> Result<bool> {
    let file = h5::open_read(path)?;
    let name = id.as_str();
    match file.group(name) {
        Ok(g) => {
            for member in g.member_names().unwrap_or_default() {
                if View::from_name(&member).is_none() {
                    report.push(format!("{name}/{member}"), "unexpected member");
                }
            }
            Ok(true)
        }
        Err(_) => {
            report.push(name, "is not a group");
            Ok(false)
        }
    }
}

/// Scores of a view: finite and descending within each crop.
pub(crate) fn check_scores(report: &mut Report, view_object: &str, v: &ViewEntry) {
    let rows: Vec<&[f32]> = v.scores.chunks(v.k.max(1)).collect();
    let unsorted: Vec<usize> =
        (0..rows.len()).filter(|&c| rows[c].windows(2).any(|w| w[0] < w[1])).collect();
    let scores = format!("{view_object}/{}", schema::SCORES);
    if !unsorted.is_empty() {
        report.push(&scores, format!("not in descending order in crops {unsorted:?}"));
    }
    if v.scores.iter().any(|s| !s.is_finite()) {
        report.push(&scores, "non-finite score");
    }
}

/// A violation if `values` hold a NaN or an infinity.
pub(crate) fn check_finite(report: &mut Report, object: &str, values: &[f32]) {
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        report.push(object, format!("{bad} non-finite values (first: {} at {i})", values[i]));
    }
}

/// A violation if rows of `width` values are not L2-normalised (within 1e-3).
pub(crate) fn check_unit_rows(report: &mut Report, object: &str, values: &[f32], width: usize) {
    let mut bad = 0usize;
    let mut first_bad = None;
    for (i, row) in values.chunks(width.max(1)).enumerate() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if (norm - 1.0).abs() > 1e-3 || norm.is_nan() {
            bad += 1;
            first_bad.get_or_insert((i, norm));
        }
    }
    if let Some((i, norm)) = first_bad {
        let what = if values.len() > width { format!("{bad} rows are") } else { "it is".into() };
        report.push(object, format!("{what} not L2-normalised (first: row {i}, norm {norm})"));
    }
}
