//! Each phrase's source, where the texts came with one: a `sources` dataset beside `captions`
//! (in every batch group of the original layout, at the root of the contiguous one).

use crate::error::Result;
use crate::h5::{h5err, sources};
use crate::kind::CaptionLayout;
use crate::original::caption_db::{CHUNK_ROWS, CaptionDb};

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
            out.extend(sources::read(&self.path, &g, &prefix, None)?);
        }
        Ok(Some(out))
    }

    /// The sources of part `i` (as [`load_part`](Self::load_part) reads it), `None` without.
    pub(crate) fn sources_part(&self, i: usize) -> Result<Option<Vec<String>>> {
        if !self.sources {
            return Ok(None);
        }
        let (g, prefix, rows) = match self.layout {
            CaptionLayout::Original => {
                let (name, n) = &self.groups[i];
                let g = self.file.group(name).map_err(h5err(&self.path, name))?;
                (g, format!("{name}/"), 0..*n)
            }
            CaptionLayout::Contiguous => {
                let start = i * CHUNK_ROWS;
                (self.root()?, String::new(), start..self.len.min(start + CHUNK_ROWS))
            }
        };
        sources::read(&self.path, &g, &prefix, Some(rows)).map(Some)
    }
}
