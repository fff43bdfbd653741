//! [`CompactTxtWriter::check_hits`]: whether a caption database holds the hits of entries of
//! the full layout, asked before a compact file is created from them.

use std::path::Path;
use std::sync::Arc;

use crate::compact::db::mismatch_error;
use crate::compact::rows::RowFinder;
use crate::compact::write::CompactTxtWriter;
use crate::entry::{Captions, TxtEntry};
use crate::error::{Error, Result};

impl CompactTxtWriter {
    /// Checks that every hit of `entries` (read from `source`) is a phrase of the caption
    /// database at `caption_db`, loaded as `captions`, with the same feature bit for bit: what
    /// the writer looks each hit up by. A caller converting a txt_ctx checks its first images
    /// with it before creating the compact file, so that the wrong database leaves no file
    /// behind. The error names both files and the first hit not found.
    pub fn check_hits(
        source: &Path,
        caption_db: &Path,
        captions: Arc<Captions>,
        entries: &[TxtEntry],
    ) -> Result<()> {
        let finder = RowFinder::new(caption_db, captions)?;
        for e in entries {
            for view in e.views() {
                let object = format!("{}/{view}", e.id);
                finder.rows(source, &object, e.view(view)).map_err(|err| match err {
                    Error::Input { object, message, .. } => mismatch_error(
                        source,
                        caption_db,
                        format!("{object}: {message}: not the database the hits come from"),
                    ),
                    other => other,
                })?;
            }
        }
        Ok(())
    }
}
