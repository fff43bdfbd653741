//! `--check` of a txt_ctx of the compact layout: its datasets' shapes, every row within the
//! caption database, and the caption database found and the one it was made with (all checked
//! by opening it joined); then every image joined as the full layout's checks read it.

use std::path::Path;

use crate::compact::CompactInfo;
use crate::error::Result;
use crate::haav::txt::HaavTxtCtxReader;
use crate::kind::Profile;
use crate::ops::check::report::{Report, check_scores};
use crate::original::txt::TxtCtxReader;

/// Checks the compact txt_ctx at `path` (`info`: its root).
pub(crate) fn txt(path: &Path, info: &CompactInfo, report: &mut Report) -> Result<()> {
    report.entries = info.images;
    let joined = match info.profile {
        Profile::Original => TxtCtxReader::open(path).and_then(|r| r.preload()),
        Profile::Haav => HaavTxtCtxReader::open(path).and_then(|r| r.preload()),
    };
    match joined {
        Ok(all) => {
            for e in all {
                for view in e.views() {
                    check_scores(report, &format!("{}/{view}", e.id), e.view(view));
                }
            }
        }
        Err(e) => report.push_err("/", &e),
    }
    Ok(())
}
