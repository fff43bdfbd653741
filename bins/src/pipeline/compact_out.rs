//! `retrieve-captions --txt-layout compact`: the txt_ctx written in ctx-store's compact layout,
//! each hit as its row in the caption database and its score.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};
use ctx_store::{Captions, CompactIds, CompactTxtWriter, ImageId, Profile, Provenance};

use super::Common;
use super::output::{Open, RunIdentity, decide};

/// The layouts of the txt_ctx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TxtLayout {
    /// Features, scores and texts per image and view (the original's files).
    Full,
    /// Rows in the caption database and scores per image and view.
    Compact,
}

/// Records the compact layout in the run's arguments (the full layout, the default, is not
/// recorded, so that the files of earlier runs resume as before); refused with `--format json`.
pub fn record(
    arguments: &mut serde_json::Map<String, serde_json::Value>,
    layout: TxtLayout,
    json: bool,
) -> Result<()> {
    if layout == TxtLayout::Compact {
        if json {
            bail!("--txt-layout compact is a layout of the hdf5 format, not of --format json");
        }
        arguments.insert("txt_layout".into(), "compact".into());
    }
    Ok(())
}

/// Creates `out` in the compact layout for hits of `caption_db` (loaded as `captions`), or
/// opens it to resume; the writer and the images it holds already. `ids` (every image of the
/// run, known before the first batch) decides how the file stores ids: int64 where all are
/// integers, else names; a file resumed keeps its own, and one of integers is refused for
/// named images.
pub fn open(
    out: &Path,
    id: &RunIdentity,
    (profile, ids): (Profile, CompactIds),
    caption_db: &Path,
    captions: &Arc<Captions>,
    c: &Common,
) -> Result<(CompactTxtWriter, HashSet<ImageId>)> {
    let prov = id.provenance();
    let (w, done) = match decide(out, id, c.overwrite, |p: &Path| Provenance::of_file(p))? {
        Open::Create => {
            let captions = captions.clone();
            let w = CompactTxtWriter::create_with_ids(
                out, profile, caption_db, captions, ids, &prov, true,
            )?;
            (w, Vec::new())
        }
        Open::Resume => CompactTxtWriter::append(out, caption_db, captions.clone())?,
    };
    if w.profile() != profile {
        bail!("{}: a compact txt_ctx of the {} profile", out.display(), w.profile());
    }
    if (w.ids(), ids) == (CompactIds::Integers, CompactIds::Names) {
        bail!(
            "{}: its image ids are int64, but images of this run are named otherwise (write them \
             to a new file)",
            out.display()
        );
    }
    Ok((w, done.into_iter().collect()))
}
