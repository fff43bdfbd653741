//! Variable-length string datasets read outside libhdf5, as `chunks` reads floats: HDF5 lists
//! the chunks, then any thread reads a chunk (inflating it if compressed), decodes its elements
//! (length, global heap collection address, object index) and takes each string from its global
//! heap collection, read once per band. HDF5 reads strings one heap object at a time under its
//! lock (about 2 µs each here): 2 million phrases would take seconds on one thread.
//!
//! Planned only for 1-d chunked datasets of variable-length strings in files with 8-byte
//! offsets and lengths (HDF5's default); anything else is read through HDF5.

use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use hdf5::Dataset;
use hdf5::types::TypeDescriptor;

use crate::bounds;
use crate::error::{Error, Result};
use crate::h5::chunks::{self, Stored};
use crate::oldh5::validate::{self, ELEMENT, Strings};

/// Whether the file (no userblock) uses 8-byte offsets and lengths, read from its superblock.
pub(crate) fn eight_byte_sizes(raw: &std::fs::File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; 16];
    if raw.read_exact_at(&mut head, 0).is_err() || &head[..8] != b"\x89HDF\r\n\x1a\n" {
        return false;
    }
    let sizes = if head[8] < 2 { [head[13], head[14]] } else { [head[9], head[10]] };
    sizes == [8, 8]
}

/// Rows of a string dataset held by one chunk.
pub(crate) struct StrBand {
    object: Arc<str>,
    rows: usize,
    chunk_rows: usize,
    stored: Stored,
    file_len: u64,
}

/// The bands of `ds` (strings, `(rows,)`), one chunk each, in row order; `None` if it is not
/// one of the cases above.
pub(crate) fn plan(
    path: &Path,
    ds: &Dataset,
    object: &str,
    rows: usize,
    file_len: u64,
) -> Result<Option<Vec<StrBand>>> {
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|source| Error::Hdf5 {
        path: path.to_owned(),
        object: object.to_owned(),
        source,
    })?;
    if !matches!(desc, TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii) || rows == 0 {
        return Ok(None);
    }
    let Some((chunk, all)) = chunks::stored(path, ds, object, ELEMENT, file_len)? else {
        return Ok(None);
    };
    let [chunk_rows] = chunk[..] else { return Ok(None) };
    let mut slots: Vec<Option<Stored>> = (0..rows.div_ceil(chunk_rows)).map(|_| None).collect();
    for stored in all {
        match slots.get_mut(stored.offset[0] / chunk_rows) {
            Some(slot @ None) => *slot = Some(stored),
            _ => return Ok(None),
        }
    }
    let object: Arc<str> = object.into();
    Ok(slots
        .into_iter()
        .enumerate()
        .map(|(b, stored)| {
            Some(StrBand {
                object: object.clone(),
                rows: chunk_rows.min(rows - b * chunk_rows),
                chunk_rows,
                stored: stored?,
                file_len,
            })
        })
        .collect())
}

impl StrBand {
    /// Rows the band fills.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Reads the band's strings into `out` (`rows` of them).
    pub(crate) fn read(&self, path: &Path, raw: &std::fs::File, out: &mut [String]) -> Result<()> {
        let object = &*self.object;
        let bytes =
            self.stored.bytes(path, object, raw, self.chunk_rows * ELEMENT, self.rows * ELEMENT)?;
        let mut strings = Strings::new(raw, self.file_len);
        for (e, slot) in bytes.chunks_exact(ELEMENT).zip(out.iter_mut()) {
            *slot = strings.get(e).map_err(|b| b.error(path, object))?;
        }
        Ok(())
    }
}

/// The strings of `ds` (variable-length, `rows` of a 1-d dataset or all of them in row-major
/// order), as `h5::read_strings_in` reads them, but from the file itself, each element's string
/// from its global heap collection, checked (HDF5 trusts those collections, and loops on damaged
/// ones): for contiguous datasets and chunked ones (no filter, or deflate) in files with 8-byte
/// sizes and no userblock. Any other dataset HDF5 reads.
pub(crate) fn strings(
    path: &Path,
    ds: &Dataset,
    object: &str,
    rows: Option<Range<usize>>,
) -> Result<Vec<String>> {
    match read_checked(path, ds, object, rows.clone())? {
        Some(strings) => Ok(strings),
        None => crate::h5::read_strings_in(path, ds, object, rows),
    }
}

/// The strings [`strings`] reads from the file itself, `None` where HDF5 is to read them.
fn read_checked(
    path: &Path,
    ds: &Dataset,
    object: &str,
    rows: Option<Range<usize>>,
) -> Result<Option<Vec<String>>> {
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|source| Error::Hdf5 {
        path: path.to_owned(),
        object: object.to_owned(),
        source,
    })?;
    if !matches!(desc, TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii) {
        return Ok(None); // HDF5 reports the type
    }
    let io = |source| Error::Io { path: path.to_owned(), object: object.to_owned(), source };
    let raw = std::fs::File::open(path).map_err(io)?;
    if !eight_byte_sizes(&raw) {
        return Ok(None);
    }
    let file_len = bounds::file_len(path, &raw)?;
    let shape = ds.shape();
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(n) = n.filter(|&n| n as u64 <= file_len / ELEMENT as u64) else { return Ok(None) };
    let range = match rows {
        Some(r) if shape.len() == 1 && r.start <= r.end && r.end <= n => r,
        Some(_) => return Ok(None),
        None => 0..n,
    };
    if let Some(offset) = ds.offset() {
        let at = offset + (range.start * ELEMENT) as u64;
        let len = range.len() * ELEMENT;
        if at.checked_add(len as u64).is_none_or(|end| end > file_len) {
            let reason = format!("{len} bytes of strings run past the file's end");
            return Err(validate::damaged(path, object, Some(at), reason));
        }
        let mut bytes = vec![0u8; len];
        raw.read_exact_at(&mut bytes, at).map_err(io)?;
        return validate::strings(path, object, &raw, file_len, &bytes).map(Some);
    }
    let Some((chunk, stored)) = chunks::stored(path, ds, object, ELEMENT, file_len)? else {
        return Ok(None);
    };
    if chunk.len() != shape.len() {
        return Ok(None);
    }
    let per_chunk: usize = chunk.iter().product();
    let mut out: Vec<Option<String>> = vec![None; range.len()];
    let mut strings = Strings::new(&raw, file_len);
    let mut at = vec![0usize; shape.len()];
    for s in stored {
        if shape.len() == 1 && (s.offset[0] >= range.end || s.offset[0] + chunk[0] <= range.start) {
            continue;
        }
        let full = per_chunk * ELEMENT;
        let bytes = s.bytes(path, object, &raw, full, full)?;
        for (j, e) in bytes.chunks_exact(ELEMENT).enumerate() {
            // The element's place in the dataset, from its place in the chunk (row-major).
            let mut rest = j;
            for a in (0..shape.len()).rev() {
                at[a] = s.offset[a] + rest % chunk[a];
                rest /= chunk[a];
            }
            if at.iter().zip(&shape).any(|(x, d)| x >= d) {
                continue;
            }
            let flat = at.iter().zip(&shape).fold(0, |acc, (x, d)| acc * d + x);
            if let Some(slot) = flat.checked_sub(range.start).and_then(|i| out.get_mut(i)) {
                *slot = Some(strings.get(e).map_err(|b| b.error(path, object))?);
            }
        }
    }
    // Chunks never written hold the fill value, which HDF5 supplies.
    Ok(out.into_iter().collect())
}
