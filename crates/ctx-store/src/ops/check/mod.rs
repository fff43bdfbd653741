//! `ctx-inspect FILE --check`: validate a whole file against the schema of its kind, collecting
//! every violation instead of stopping at the first. HAAV's files are checked against what
//! HAAV's training code needs (`haav`).

use std::path::Path;

use crate::error::{Error, Result};
use crate::kind::FileKind;
use crate::ops::check::report::Report;
use crate::ops::inspect::detect;

mod compact;
mod haav;
mod original;
pub(crate) mod report;

/// Options of [`check_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// HAAV's txt_ctx: the `k` of HAAV's training code (`TxtCtxField(k=...)`, 8 by default
    /// there): every image's views must hold at least 8k, 2k and k texts per crop. `None`: the
    /// file's own k, the texts per crop of the first image's `nine` view.
    pub haav_k: Option<usize>,
}

/// Validates the file at `path` against the schema of its kind. File-level failures (missing,
/// not HDF5, not a context file) and damage ([`Error::Damaged`]: structures that are not
/// sound, wherever in the file) are errors; everything else is collected in the report.
pub fn check(path: impl AsRef<Path>) -> Result<Report> {
    check_with(path, &CheckOptions::default())
}

/// [`check`] with options.
pub fn check_with(path: impl AsRef<Path>, options: &CheckOptions) -> Result<Report> {
    let path = path.as_ref();
    let kind = detect(path)?;
    let mut report =
        Report { kind, entries: 0, haav_k: None, violations: Vec::new(), damage: None };
    if let Some(info) = crate::compact::compact_info(path)? {
        compact::txt(path, &info, &mut report)?;
        return Ok(report);
    }
    match kind {
        FileKind::VisCtx => original::vis(path, &mut report)?,
        FileKind::TxtCtx => original::txt(path, &mut report)?,
        FileKind::CaptionDb(_) => original::caption_db(path, &mut report),
        FileKind::HaavVisCtx => haav::vis(path, &mut report)?,
        FileKind::HaavTxtCtx => haav::txt(path, options.haav_k, &mut report)?,
        FileKind::HaavCaptionDb => haav::caption_db(path, &mut report),
    }
    // A damaged file is damaged, whatever else its readable parts show.
    if let Some((path, object, offset, reason)) = report.damage.take() {
        return Err(Error::Damaged { path, object, offset, reason });
    }
    Ok(report)
}
