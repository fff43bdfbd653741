//! `ctx-inspect FILE --check`: validate a whole file against the schema of its kind, collecting
//! every violation instead of stopping at the first. HAAV's files are checked against what
//! HAAV's training code needs (`haav::check`).

use std::path::Path;

use crate::h5;
use crate::kind::{FileKind, detect};
use crate::{CaptionDb, Error, Result, TxtCtxReader, View, ViewEntry, VisCtxReader, haav, schema};

/// One way in which a file departs from the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The HDF5 path of the object (`/` for the file).
    pub object: String,
    /// What is wrong.
    pub message: String,
}

/// The result of [`check`].
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
}

impl Report {
    pub(crate) fn push(&mut self, object: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation { object: object.into(), message: message.into() });
    }

    pub(crate) fn push_err(&mut self, object: impl Into<String>, e: &Error) {
        // The error names the file already; keep the part after "<file>: ".
        let text = e.to_string();
        let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m).to_owned();
        self.push(object, message);
    }
}

/// Options of [`check_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// HAAV's txt_ctx: the `k` of HAAV's training code (`TxtCtxField(k=...)`, 8 by default
    /// there): every image's views must hold at least 8k, 2k and k texts per crop. `None`: the
    /// file's own k, the texts per crop of the first image's `nine` view.
    pub haav_k: Option<usize>,
}

/// Validates the file at `path` against the schema of its kind. File-level failures (missing,
/// not HDF5, not a context file) are errors; everything else is collected in the report.
pub fn check(path: impl AsRef<Path>) -> Result<Report> {
    check_with(path, &CheckOptions::default())
}

/// [`check`] with options.
pub fn check_with(path: impl AsRef<Path>, options: &CheckOptions) -> Result<Report> {
    let path = path.as_ref();
    let kind = detect(path)?;
    let mut report = Report { kind, entries: 0, haav_k: None, violations: Vec::new() };
    match kind {
        FileKind::VisCtx => check_vis(path, &mut report)?,
        FileKind::TxtCtx => check_txt(path, &mut report)?,
        FileKind::CaptionDb(_) => check_caption_db(path, &mut report),
        FileKind::HaavVisCtx => haav::check::vis(path, &mut report)?,
        FileKind::HaavTxtCtx => haav::check::txt(path, options.haav_k, &mut report)?,
        FileKind::HaavCaptionDb => haav::check::caption_db(path, &mut report),
    }
    Ok(report)
}

/// Image ids at the root of `path`; other member names are violations.
pub(crate) fn image_ids(path: &Path, report: &mut Report) -> Result<Vec<u64>> {
    let file = h5::open_read(path)?;
    let (ids, other) = h5::numeric_members(path, &file)?;
    for name in other {
        report.push(name, "member name is not a decimal image id");
    }
    report.entries = ids.len();
    Ok(ids)
}

fn check_vis(path: &Path, report: &mut Report) -> Result<()> {
    let r = match VisCtxReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            report.push_err("/", &e);
            return Ok(());
        }
    };
    for id in image_ids(path, report)? {
        if let Err(e) = r.get(id) {
            report.push_err(id.to_string(), &e);
        }
    }
    Ok(())
}

/// Members of an image group that are not views.
pub(crate) fn unexpected_views(path: &Path, id: u64, report: &mut Report) -> Result<bool> {
    let file = h5::open_read(path)?;
    let name = id.to_string();
    match file.group(&name) {
        Ok(g) => {
            for member in g.member_names().unwrap_or_default() {
                if View::from_name(&member).is_none() {
                    report.push(format!("{name}/{member}"), "unexpected member");
                }
            }
            Ok(true)
        }
        Err(_) => {
            report.push(&name, "is not a group");
            Ok(false)
        }
    }
}

fn check_txt(path: &Path, report: &mut Report) -> Result<()> {
    let r = TxtCtxReader::open(path)?;
    let mut dims: Option<(usize, usize, u64)> = None;
    for id in image_ids(path, report)? {
        if !unexpected_views(path, id, report)? {
            continue;
        }
        for view in View::ALL {
            let object = format!("{id}/{view}");
            let v = match r.view(id, view, None, None) {
                Ok(v) => v,
                Err(e) => {
                    report.push_err(&object, &e);
                    continue;
                }
            };
            match dims {
                None => dims = Some((v.k, v.d, id)),
                Some((k, d, first)) if (k, d) != (v.k, v.d) => report.push(
                    &object,
                    format!("k = {}, d = {}, but image {first} has k = {k}, d = {d}", v.k, v.d),
                ),
                Some(_) => {}
            }
            check_scores(report, &object, &v);
        }
    }
    Ok(())
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

fn check_caption_db(path: &Path, report: &mut Report) {
    let db = match CaptionDb::open(path) {
        Ok(db) => db,
        Err(e) => {
            report.push_err("/", &e);
            return;
        }
    };
    report.entries = db.len();
    let data = match db.load() {
        Ok(d) => d,
        Err(e) => {
            report.push_err("/", &e);
            return;
        }
    };
    if data.captions.len() != db.len() {
        report.push(
            schema::CAPTIONS,
            format!("{} captions for {} rows", data.captions.len(), db.len()),
        );
    }
    check_unit_rows(report, schema::KEYS, &data.keys, data.key_dim);
}
