//! Each phrase's source, where the texts came with one: a `sources` dataset beside `captions`
//! (in every batch group of the original layout, at the root of the contiguous one).

use crate::error::Result;
use crate::h5::sources;
use crate::original::caption_db::CaptionDb;

impl CaptionDb {
    /// Whether the phrases have sources (the `sources` dataset).
    pub fn has_sources(&self) -> bool {
        self.sources
    }

    /// Each phrase's source (the image whose caption it is), in row order; `None` when the
    /// database has no sources (Visual Genome's phrases, a plain text file).
    pub fn sources(&self) -> Result<Option<Vec<String>>> {
        if !self.sources {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(self.len);
        for (g, prefix, _) in self.parts_in_order()? {
            out.extend(sources::read(&self.path, &self.checks, &g, &prefix, None)?);
        }
        Ok(Some(out))
    }

    /// The sources of part `i` (as [`load_part`](Self::load_part) reads it), `None` without.
    pub(crate) fn sources_part(&self, i: usize) -> Result<Option<Vec<String>>> {
        if !self.sources {
            return Ok(None);
        }
        let (g, prefix, rows) = self.part(i)?;
        sources::read(&self.path, &self.checks, &g, &prefix, Some(rows)).map(Some)
    }
}
