//! Attributes in dense storage (an object header in HDF5's newer format with more attributes
//! than fit its header, 8 by default: a compact txt_ctx's root): the attribute messages live in
//! a fractal heap, found through the name index (a version 2 B-tree) of the header's attribute
//! info message. [`messages`] finds them, every address and size checked against the file and
//! the heap, so that `validate` checks their strings as it checks those of attributes held in
//! the header.
//!
//! Read: a name index of one node (a leaf root: about 29 attributes), managed objects in the
//! root direct block or in the direct blocks of the root indirect block, no I/O filter. Anything
//! else (deeper indexes, huge or filtered objects) is left to the library; the heap and index
//! themselves carry checksums the library verifies.

use super::parse::{Reader, damaged, u16_at, u32_at, u64_at};
use crate::error::Result;

/// Attribute info message.
pub(crate) const ATTRIBUTE_INFO: u16 = 0x0015;
/// An undefined address.
const UNDEFINED: u64 = u64::MAX;
/// Bytes of a fractal heap header (8-byte offsets and lengths, no I/O filter), checksum included.
const HEAP_HEADER: usize = 146;
/// Bytes of a version 2 B-tree header, checksum included.
const BTREE_HEADER: usize = 38;
/// Record type of a version 2 B-tree indexing attributes by name.
const ATTRIBUTE_NAMES: u8 = 8;

/// A record of the name index: an attribute's heap id and its message flags.
type Record = (Vec<u8>, u8);

/// The fractal heap's doubling table and how its heap ids are encoded.
struct Heap {
    at: u64,
    id_len: usize,
    width: u64,
    start_block: u64,
    max_direct: u64,
    root: u64,
    rows: u64,
    /// Bytes of an offset in a heap id and in a block's header.
    off_size: usize,
    /// Bytes of a length in a heap id.
    len_size: usize,
    checksummed_blocks: bool,
}

/// The bodies of the attribute messages stored densely, as the attribute info message `info`
/// of `object` says; empty where it says none are, or where they are left to the library (see
/// the module's documentation).
pub(crate) fn messages(r: &mut Reader, info: &[u8], object: &str) -> Result<Vec<Vec<u8>>> {
    let what = format!("{object} (dense attributes)");
    let bad = |r: &Reader, at: u64, reason: String| damaged(r.path, &what, Some(at), reason);
    if info.len() < 2 || info[0] != 0 {
        return Err(damaged(r.path, &what, None, "an attribute info message of another version"));
    }
    let flags = info[1];
    let p = 2 + if flags & 1 != 0 { 2 } else { 0 };
    if info.len() < p + 16 {
        return Err(damaged(r.path, &what, None, "a short attribute info message"));
    }
    let (heap_at, names_at) = (u64_at(info, p), u64_at(info, p + 8));
    if heap_at == UNDEFINED || names_at == UNDEFINED {
        return Ok(Vec::new()); // the attributes are held in the header
    }
    let Some(heap) = heap(r, heap_at, &what)? else { return Ok(Vec::new()) };
    let Some(ids) = heap_ids(r, names_at, heap.id_len, &what)? else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(ids.len());
    for (id, message_flags) in ids {
        // Shared attributes live elsewhere; HDF5 checks their checksummed storage.
        if message_flags & 2 != 0 {
            continue;
        }
        if id[0] >> 6 != 0 {
            return Err(bad(r, names_at, format!("a heap id of version {}", id[0] >> 6)));
        }
        if id[0] >> 4 & 3 != 0 {
            continue; // huge or tiny objects: the library's
        }
        let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        let offset = le(&id[1..1 + heap.off_size]);
        let len = le(&id[1 + heap.off_size..1 + heap.off_size + heap.len_size]);
        let Some((block_at, block_offset, size)) = heap.direct_block(r, offset, &what)? else {
            continue;
        };
        let within = offset - block_offset;
        let header = 5 + 8 + heap.off_size as u64 + if heap.checksummed_blocks { 4 } else { 0 };
        if within < header || len == 0 || within.checked_add(len).is_none_or(|end| end > size) {
            return Err(bad(
                r,
                block_at,
                format!("a heap object of {len} bytes at offset {offset} lies outside its block"),
            ));
        }
        let block = r.bytes(block_at, 13, &what)?;
        if &block[..4] != b"FHDB" || u64_at(block, 5) != heap.at {
            return Err(bad(r, block_at, "no fractal heap direct block of this heap".into()));
        }
        out.push(r.bytes(block_at + within, len as usize, &what)?.to_vec());
    }
    Ok(out)
}

/// The fractal heap at `at`; `None` for one left to the library (an I/O filter).
fn heap(r: &mut Reader, at: u64, what: &str) -> Result<Option<Heap>> {
    let h = r.bytes(at, HEAP_HEADER, what)?.to_vec();
    let bad = |reason: String| damaged(r.path, what, Some(at), reason);
    if &h[..4] != b"FRHP" || h[4] != 0 {
        return Err(bad("no fractal heap header (signature or version)".into()));
    }
    if u16_at(&h, 7) != 0 {
        return Ok(None);
    }
    let id_len = usize::from(u16_at(&h, 5));
    let width = u64::from(u16_at(&h, 110));
    let (start_block, max_direct) = (u64_at(&h, 112), u64_at(&h, 120));
    let max_heap_bits = u64::from(u16_at(&h, 128));
    let max_managed = u64::from(u32_at(&h, 10));
    let (root, rows) = (u64_at(&h, 132), u64::from(u16_at(&h, 140)));
    let pow2 = |v: u64| v.is_power_of_two();
    if width == 0
        || !pow2(width)
        || !pow2(start_block)
        || !pow2(max_direct)
        || start_block > max_direct
        || !(1..=64).contains(&max_heap_bits)
        || max_managed == 0
    {
        return Err(bad("a fractal heap's doubling table is not sound".into()));
    }
    let bytes_of = |bits: u64| bits.div_ceil(8) as usize;
    let off_size = bytes_of(max_heap_bits);
    let len_size =
        bytes_of(u64::from(max_direct.ilog2())).min(bytes_of(u64::from(max_managed.ilog2())));
    if id_len < 1 + off_size + len_size || id_len > 64 {
        return Err(bad(format!("heap ids of {id_len} bytes")));
    }
    let checksummed_blocks = h[9] & 2 != 0;
    let heap = Heap {
        at,
        id_len,
        width,
        start_block,
        max_direct,
        root,
        rows,
        off_size,
        len_size,
        checksummed_blocks,
    };
    Ok(Some(heap))
}

impl Heap {
    /// The direct block holding heap offset `offset`: its address, its offset in the heap and
    /// its size; `None` where it lies in a nested indirect block (left to the library).
    fn direct_block(
        &self,
        r: &mut Reader,
        offset: u64,
        what: &str,
    ) -> Result<Option<(u64, u64, u64)>> {
        let bad = |r: &Reader, at: u64, reason: String| damaged(r.path, what, Some(at), reason);
        if self.root == UNDEFINED {
            return Err(bad(r, self.at, "a heap id in an empty fractal heap".into()));
        }
        if self.rows == 0 {
            if offset >= self.start_block {
                return Err(bad(r, self.at, format!("heap offset {offset} past its only block")));
            }
            return Ok(Some((self.root, 0, self.start_block)));
        }
        let head = r.bytes(self.root, 13, what)?;
        if &head[..4] != b"FHIB" || u64_at(head, 5) != self.at {
            return Err(bad(r, self.root, "no fractal heap indirect block of this heap".into()));
        }
        // Rows 0 and 1 hold blocks of the starting size, each later row blocks twice as large.
        let (w, s) = (self.width, self.start_block);
        let row = match w.checked_mul(s).map(|ws| offset / ws) {
            Some(0) => 0,
            Some(q) => 1 + u64::from(q.ilog2()),
            None => {
                return Err(bad(r, self.at, "a fractal heap's doubling table overflows".into()));
            }
        };
        let direct_rows = u64::from(self.max_direct.ilog2() - s.ilog2()) + 2;
        if row >= self.rows.min(direct_rows) {
            return Ok(None);
        }
        let (row_start, size) = match row {
            0 => (0, s),
            _ => ((w * s) << (row - 1), s << (row - 1)),
        };
        let col = (offset - row_start) / size;
        let block_offset = row_start + col * size;
        let entry = row * w + col;
        let header = 5 + 8 + self.off_size as u64;
        let at = self.root + header + entry * 8;
        let block = u64_at(r.bytes(at, 8, what)?, 0);
        if block == UNDEFINED || block.checked_add(size).is_none_or(|end| end > r.len) {
            return Err(bad(r, at, format!("heap offset {offset} in a block outside the file")));
        }
        Ok(Some((block, block_offset, size)))
    }
}

/// The heap ids and message flags of the records of the attribute name index at `at`; `None`
/// for an index of more than one node (left to the library).
fn heap_ids(r: &mut Reader, at: u64, id_len: usize, what: &str) -> Result<Option<Vec<Record>>> {
    let h = r.bytes(at, BTREE_HEADER, what)?.to_vec();
    let bad = |r: &Reader, at: u64, reason: String| damaged(r.path, what, Some(at), reason);
    if &h[..4] != b"BTHD" || h[4] != 0 || h[5] != ATTRIBUTE_NAMES {
        return Err(bad(r, at, "no attribute name index (B-tree signature or type)".into()));
    }
    let (node, record, depth) =
        (u64::from(u32_at(&h, 6)), usize::from(u16_at(&h, 10)), u16_at(&h, 12));
    let (root, n) = (u64_at(&h, 16), usize::from(u16_at(&h, 24)));
    if root == UNDEFINED || n == 0 {
        return Ok(Some(Vec::new()));
    }
    if depth > 0 {
        return Ok(None);
    }
    if record < id_len + 1 || (6 + n * record + 4) as u64 > node {
        return Err(bad(r, at, format!("{n} records of {record} bytes in a node of {node}")));
    }
    let leaf = r.bytes(root, 6 + n * record, what)?;
    if &leaf[..4] != b"BTLF" || leaf[5] != ATTRIBUTE_NAMES {
        return Err(bad(r, root, "no attribute name index leaf (signature or type)".into()));
    }
    Ok(Some(
        leaf[6..].chunks_exact(record).map(|rec| (rec[..id_len].to_vec(), rec[id_len])).collect(),
    ))
}
