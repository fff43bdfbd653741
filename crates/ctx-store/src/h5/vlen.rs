//! Variable-length string datasets read outside libhdf5, as `chunks` reads floats: HDF5 lists
//! the chunks, then any thread reads a chunk (inflating it if compressed), decodes its elements
//! (length, global heap collection address, object index) and takes each string from its global
//! heap collection, read once per band. HDF5 reads strings one heap object at a time under its
//! lock (about 2 µs each here): 2 million phrases would take seconds on one thread.
//!
//! Planned only for 1-d chunked datasets of variable-length strings in files with 8-byte
//! offsets and lengths (HDF5's default); anything else is read through HDF5.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hdf5::Dataset;
use hdf5::types::TypeDescriptor;

use crate::error::{Error, Result};
use crate::h5::{
    self,
    chunks::{self, Stored},
};

/// Bytes of one element in the file: sequence length (4), collection address (8), index (4).
const ELEMENT: usize = 16;
/// Largest global heap collection read (HDF5 makes them 4 KiB, or one object's size).
const MAX_COLLECTION: u64 = 1 << 30;

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
    let desc = h5::descriptor(path, ds, object)?;
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
        let bad = |message: String| Error::Io {
            path: path.to_owned(),
            object: object.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        };
        let bytes =
            self.stored.bytes(path, object, raw, self.chunk_rows * ELEMENT, self.rows * ELEMENT)?;
        let mut heaps: HashMap<u64, Collection> = HashMap::new();
        for (e, slot) in bytes.chunks_exact(ELEMENT).zip(out.iter_mut()) {
            let len = u32::from_le_bytes(e[0..4].try_into().expect("4 bytes")) as usize;
            if len == 0 {
                slot.clear();
                continue;
            }
            let addr = u64::from_le_bytes(e[4..12].try_into().expect("8 bytes"));
            let index = u32::from_le_bytes(e[12..16].try_into().expect("4 bytes"));
            let heap = match heaps.entry(addr) {
                std::collections::hash_map::Entry::Occupied(h) => h.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Collection::read(raw, addr, self.file_len).map_err(&bad)?)
                }
            };
            let text = heap.object(index).filter(|t| t.len() == len).ok_or_else(|| {
                bad(format!(
                    "global heap object {index} at byte {addr} is missing or not {len} bytes"
                ))
            })?;
            *slot = String::from_utf8(text.to_vec())
                .map_err(|e| bad(format!("a string is not UTF-8: {e}")))?;
        }
        Ok(())
    }
}

/// A global heap collection: its bytes and where each object's data lie in them.
struct Collection {
    bytes: Vec<u8>,
    objects: Vec<Option<(usize, usize)>>,
}

impl Collection {
    fn read(raw: &std::fs::File, addr: u64, file_len: u64) -> std::result::Result<Self, String> {
        use std::os::unix::fs::FileExt;
        let mut head = [0u8; 16];
        raw.read_exact_at(&mut head, addr)
            .map_err(|e| format!("global heap at byte {addr}: {e}"))?;
        let size = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
        if &head[..5] != b"GCOL\x01"
            || !(16..=MAX_COLLECTION).contains(&size)
            || addr.checked_add(size).is_none_or(|end| end > file_len)
        {
            return Err(format!("no global heap collection at byte {addr}"));
        }
        let mut bytes = vec![0u8; size as usize];
        raw.read_exact_at(&mut bytes, addr)
            .map_err(|e| format!("global heap at byte {addr}: {e}"))?;
        // Objects: index (2), reference count (2), reserved (4), size (8), data padded to 8;
        // index 0 is the collection's free space, and ends the list.
        let mut objects = Vec::new();
        let mut at = 16usize;
        while at + 16 <= bytes.len() {
            let index = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
            let len = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
            if index == 0 {
                break;
            }
            let start = at + 16;
            let end = usize::try_from(len).ok().and_then(|l| start.checked_add(l));
            let Some(end) = end.filter(|&e| e <= bytes.len()) else {
                return Err(format!(
                    "global heap collection at byte {addr}: object {index} overruns it"
                ));
            };
            if objects.len() <= index {
                objects.resize(index + 1, None);
            }
            objects[index] = Some((start, end - start));
            at = start + (end - start).div_ceil(8) * 8;
        }
        Ok(Self { bytes, objects })
    }

    fn object(&self, index: u32) -> Option<&[u8]> {
        let (start, len) = (*self.objects.get(index as usize)?)?;
        Some(&self.bytes[start..start + len])
    }
}
