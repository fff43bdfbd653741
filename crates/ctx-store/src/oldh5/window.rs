//! One read per image: a reader of many images learns where an image's bytes lie around its
//! group header (in h5py's default layout, as our writers write it, an image is one stretch of
//! the file: its floats, its texts' heap, then the headers, the group's last) and reads that
//! stretch of the next image at once, instead of a block per miss and a read per dataset.
//!
//! The stretch is learnt from the previous image: what [`Reader::bytes`] was asked for
//! (metadata) and what [`Reader::read_into`] was (floats). When both together span at most
//! [`WHOLE`] bytes they are read at once (the floats are then copied from the block); otherwise
//! the metadata alone, if it spans at most [`WHOLE`], and the floats straight into place. A file
//! laid out otherwise (HDF5's own allocation, metadata far from data) learns nothing and is read
//! as before; the window is only a hint: a byte outside it is read as a miss.

use std::os::unix::fs::FileExt;

use super::parse::{Reader, Seen};
use crate::error::{Error, Result};

/// The most bytes read at once for one image.
const WHOLE: u64 = 256 << 10;

impl Reader<'_> {
    /// What was asked for since the last call.
    pub(crate) fn take_seen(&mut self) -> Seen {
        std::mem::take(&mut self.seen)
    }

    /// Reads `start..end` (clamped to the file) into the block, unless the block holds it.
    pub(crate) fn prefetch(&mut self, start: u64, end: u64, what: &str) -> Result<()> {
        let end = end.min(self.len);
        if start >= end {
            return Ok(());
        }
        if start >= self.block_at && end <= self.block_at + self.block.len() as u64 {
            return Ok(());
        }
        self.block.resize((end - start) as usize, 0);
        let file = self.file();
        file.read_exact_at(&mut self.block, start).map_err(|source| Error::Io {
            path: self.path.to_owned(),
            object: what.to_owned(),
            source,
        })?;
        self.block_at = start;
        Ok(())
    }
}

/// Where an image's bytes lie around its group header, learnt from the last image read.
#[derive(Default)]
pub(crate) struct Window {
    /// The last image's group header, while its bytes are being asked for.
    last: Option<u64>,
    /// Bytes before and after the group header to read at once.
    around: Option<(u64, u64)>,
}

impl Window {
    /// Learns from what `r` read of the last image, then reads the stretch of the image whose
    /// group header is at `at` into `r`'s block.
    pub(crate) fn enter(&mut self, r: &mut Reader<'_>, at: u64, object: &str) -> Result<()> {
        let seen = r.take_seen();
        if let Some(last) = self.last.take() {
            self.around = learn(last, seen);
        }
        self.last = Some(at);
        match self.around {
            Some((before, after)) => {
                r.prefetch(at.saturating_sub(before), at.saturating_add(after), object)
            }
            None => Ok(()),
        }
    }
}

/// The stretch around group header `at` to read next time, from what was read of its image
/// (with an eighth more on each side, and 512 bytes, for images of longer texts).
fn learn(at: u64, seen: Seen) -> Option<(u64, u64)> {
    let fits = |s: Option<(u64, u64)>| s.filter(|&(a, e)| a <= at && e > at && e - a <= WHOLE);
    let (a, e) = fits(seen.all).or_else(|| fits(seen.metadata))?;
    let (before, after) = (at - a, e - at);
    Some((before + before / 8 + 512, after + after / 8 + 512))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_image_or_its_metadata_or_nothing() {
        let mut s = Seen::default();
        s.data(1000, 9000);
        s.metadata(9000, 20_000);
        // Everything spans 19,000 bytes around the header at 18,000.
        assert_eq!(learn(18_000, s), Some((17_000 + 2125 + 512, 2000 + 250 + 512)));
        // Floats far before: the metadata alone.
        let mut s = Seen::default();
        s.data(0, 4 << 20);
        s.metadata(5 << 20, (5 << 20) + 8000);
        let at = (5 << 20) + 7000;
        assert_eq!(learn(at, s), Some((7000 + 875 + 512, 1000 + 125 + 512)));
        // Metadata spread over the file: nothing.
        let mut s = Seen::default();
        s.metadata(100, 200);
        s.metadata(10 << 20, (10 << 20) + 100);
        assert_eq!(learn(150, s), None);
        assert_eq!(learn(150, Seen::default()), None);
    }
}
