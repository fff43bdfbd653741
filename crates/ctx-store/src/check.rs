//! `ctx-inspect FILE --check`: validate a whole file against the schema, collecting every
//! violation instead of stopping at the first.

use std::path::Path;

use crate::h5;
use crate::kind::{FileKind, detect};
use crate::{CaptionDb, Error, Result, TxtCtxReader, View, VisCtxReader, schema};

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
    /// Every violation found.
    pub violations: Vec<Violation>,
}

impl Report {
    fn push(&mut self, object: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation { object: object.into(), message: message.into() });
    }

    fn push_err(&mut self, object: impl Into<String>, e: &Error) {
        // The error names the file already; keep the part after "<file>: ".
        let text = e.to_string();
        let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m).to_owned();
        self.push(object, message);
    }
}

/// Validates the file at `path` against the schema of its kind. File-level failures (missing,
/// not HDF5, not a context file) are errors; everything else is collected in the report.
pub fn check(path: impl AsRef<Path>) -> Result<Report> {
    let path = path.as_ref();
    let kind = detect(path)?;
    let mut report = Report { kind, entries: 0, violations: Vec::new() };
    match kind {
        FileKind::VisCtx => check_vis(path, &mut report)?,
        FileKind::TxtCtx => check_txt(path, &mut report)?,
        FileKind::CaptionDb(_) => check_caption_db(path, &mut report),
    }
    Ok(report)
}

fn check_vis(path: &Path, report: &mut Report) -> Result<()> {
    let r = match VisCtxReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            report.push_err("/", &e);
            return Ok(());
        }
    };
    let file = h5::open_read(path)?;
    let (ids, other) = h5::numeric_members(path, &file)?;
    for name in other {
        report.push(name, "member name is not a decimal image id");
    }
    report.entries = ids.len();
    for id in ids {
        if let Err(e) = r.get(id) {
            report.push_err(id.to_string(), &e);
        }
    }
    Ok(())
}

fn check_txt(path: &Path, report: &mut Report) -> Result<()> {
    let r = TxtCtxReader::open(path)?;
    let file = h5::open_read(path)?;
    let (ids, other) = h5::numeric_members(path, &file)?;
    for name in other {
        report.push(name, "member name is not a decimal image id");
    }
    report.entries = ids.len();
    let mut dims: Option<(usize, usize, u64)> = None;
    for id in ids {
        let name = id.to_string();
        match file.group(&name) {
            Ok(g) => {
                for member in g.member_names().unwrap_or_default() {
                    if View::from_name(&member).is_none() {
                        report.push(format!("{name}/{member}"), "unexpected member");
                    }
                }
            }
            Err(_) => {
                report.push(&name, "is not a group");
                continue;
            }
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
            let rows: Vec<&[f32]> = v.scores.chunks(v.k.max(1)).collect();
            let unsorted: Vec<usize> =
                (0..rows.len()).filter(|&c| rows[c].windows(2).any(|w| w[0] < w[1])).collect();
            let scores = format!("{object}/{}", schema::SCORES);
            if !unsorted.is_empty() {
                report.push(&scores, format!("not in descending order in crops {unsorted:?}"));
            }
            if v.scores.iter().any(|s| !s.is_finite()) {
                report.push(&scores, "non-finite score");
            }
        }
    }
    Ok(())
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
    let mut bad = 0usize;
    let mut first_bad = None;
    for (i, key) in data.keys.chunks(data.key_dim.max(1)).enumerate() {
        let norm = key.iter().map(|x| x * x).sum::<f32>().sqrt();
        if (norm - 1.0).abs() > 1e-3 {
            bad += 1;
            first_bad.get_or_insert((i, norm));
        }
    }
    if let Some((i, norm)) = first_bad {
        report.push(
            schema::KEYS,
            format!("{bad} keys are not L2-normalised (first: row {i}, norm {norm})"),
        );
    }
}
