//! Reading back what an appending writer needs from an existing file in h5py's default format:
//! the superblock, the root object header's messages and the root group's members. Files in any
//! other format (superblock 2 and later, "new style" root groups, other B-tree sizes) are
//! answered with `None`, and the caller appends through the HDF5 library instead.

use std::os::unix::fs::FileExt;
use std::path::Path;

use super::encode::{Addr, ENTRY_SIZE, Entry, SNOD_SIZE, SUPERBLOCK_SIZE, TREE_SIZE};
use super::{INTERNAL_K, LEAF_K};
use crate::bounds;
use crate::error::{Error, Result};

/// What [`read`] found.
pub(crate) struct Existing {
    /// End of file the superblock records.
    pub(crate) eof: u64,
    /// The root object header's messages other than its symbol table (attributes), as they are.
    pub(crate) root_messages: Vec<(u16, u8, Vec<u8>)>,
    /// The root group's members, sorted by name, names as offsets into `heap`.
    pub(crate) members: Vec<(Box<str>, Entry)>,
    /// The root group's local heap data.
    pub(crate) heap: Vec<u8>,
}

/// Reads small pieces of a file through a block of [`BLOCK`] bytes, so that the metadata of an
/// image (a dozen objects near each other) costs a few reads, not one per object.
pub(crate) struct Reader<'a> {
    pub(crate) path: &'a Path,
    file: &'a std::fs::File,
    pub(crate) len: u64,
    pub(super) block: Vec<u8>,
    pub(super) block_at: u64,
    /// Bytes the next read that misses the block reads at least.
    block_size: usize,
    /// Bytes each read after the first reads at least.
    later_block_size: usize,
    /// The bytes asked for since [`take_seen`](Self::take_seen) (see [`Seen`]).
    pub(super) seen: Seen,
}

/// Bytes read at once for metadata.
const BLOCK: usize = 64 * 1024;

impl<'a> Reader<'a> {
    pub(crate) fn new(path: &'a Path, file: &'a std::fs::File, len: u64) -> Self {
        Self::with_blocks(path, file, len, BLOCK, BLOCK)
    }

    /// A reader whose first read reads `first` bytes at least, and every later one `then`: an
    /// object's header alone is read whole by the first, its neighbours by the later ones.
    pub(crate) fn with_blocks(
        path: &'a Path,
        file: &'a std::fs::File,
        len: u64,
        first: usize,
        then: usize,
    ) -> Self {
        Self {
            path,
            file,
            len,
            block: Vec::new(),
            block_at: 0,
            block_size: first,
            later_block_size: then,
            seen: Seen::default(),
        }
    }

    /// `n` bytes at `at`, which must lie within the file.
    pub(crate) fn bytes(&mut self, at: u64, n: usize, what: &str) -> Result<&[u8]> {
        let Some(end) = at.checked_add(n as u64).filter(|&end| end <= self.len) else {
            return Err(self.corrupt(what, format!("{n} bytes at {at} lie past the file's end")));
        };
        self.seen.metadata(at, end);
        let cached = at >= self.block_at && end <= self.block_at + self.block.len() as u64;
        if !cached {
            let want = n.max(self.block_size.min((self.len - at) as usize));
            self.block.resize(want, 0);
            self.file.read_exact_at(&mut self.block, at).map_err(|source| Error::Io {
                path: self.path.to_owned(),
                object: what.to_owned(),
                source,
            })?;
            self.block_at = at;
            self.block_size = self.later_block_size;
        }
        let from = (at - self.block_at) as usize;
        Ok(&self.block[from..from + n])
    }

    /// Reads `out.len()` bytes at `at` into `out` (bulk data): what the block holds of their
    /// start is copied from it (in h5py's files a dataset's data follow its header, which the
    /// block was read for), the rest read straight into `out`.
    pub(crate) fn read_into(&mut self, at: u64, out: &mut [u8], what: &str) -> Result<()> {
        if at.checked_add(out.len() as u64).is_none_or(|end| end > self.len) {
            return Err(self.corrupt(what, format!("{} bytes at {at} lie past the end", out.len())));
        }
        self.seen.data(at, at + out.len() as u64);
        let block_end = self.block_at + self.block.len() as u64;
        let (mut at, mut out) = (at, out);
        if at >= self.block_at && at < block_end {
            let n = ((block_end - at) as usize).min(out.len());
            let from = (at - self.block_at) as usize;
            out[..n].copy_from_slice(&self.block[from..from + n]);
            (at, out) = (at + n as u64, &mut out[n..]);
        }
        if out.is_empty() {
            return Ok(());
        }
        self.file.read_exact_at(out, at).map_err(|source| Error::Io {
            path: self.path.to_owned(),
            object: what.to_owned(),
            source,
        })
    }

    pub(crate) fn corrupt(&self, what: &str, message: String) -> Error {
        damaged(self.path, what, None, message)
    }

    /// The file read.
    pub(crate) fn file(&self) -> &'a std::fs::File {
        self.file
    }
}

/// [`Error::Damaged`]: the file's structures are not sound.
pub(crate) fn damaged(
    path: &Path,
    object: &str,
    offset: Option<u64>,
    reason: impl Into<String>,
) -> Error {
    Error::Damaged {
        path: path.to_owned(),
        object: object.to_owned(),
        offset,
        reason: reason.into(),
    }
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The parts of `file` an appending writer needs, or `None` if the file is not in h5py's default
/// format (then the HDF5 library appends).
pub(crate) fn read(path: &Path, file: &std::fs::File) -> Result<Option<Existing>> {
    let len = bounds::file_len(path, file)?;
    let mut r = Reader::new(path, file, len);
    if len < SUPERBLOCK_SIZE as u64 {
        return Ok(None);
    }
    let sb = r.bytes(0, SUPERBLOCK_SIZE, "superblock")?.to_vec();
    let plain = &sb[..8] == b"\x89HDF\r\n\x1a\n"
        && sb[8..16] == [0, 0, 0, 0, 0, 8, 8, 0]
        && usize::from(u16_at(&sb, 16)) == LEAF_K
        && usize::from(u16_at(&sb, 18)) == INTERNAL_K
        && u64_at(&sb, 24) == 0
        && u64_at(&sb, 48) == super::UNDEF;
    if !plain {
        return Ok(None);
    }
    let eof = u64_at(&sb, 40);
    if eof > len {
        return Err(r.corrupt(
            "superblock",
            format!("truncated file: the superblock says {eof} bytes, the file has {len}"),
        ));
    }
    let root = u64_at(&sb, 56 + 8);
    let messages = header_messages(&mut r, root, "/")?;
    let Some(stab) = messages.iter().find(|m| m.0 == 0x0011) else {
        return Ok(None); // a "new style" root group
    };
    if stab.2.len() < 16 {
        return Err(r.corrupt("/", "short symbol table message".into()));
    }
    let (tree, heap_at) = (u64_at(&stab.2, 0), u64_at(&stab.2, 8));
    let heap = local_heap(&mut r, heap_at, "/")?;
    let mut members = Vec::new();
    walk(&mut r, tree, &heap, 0, &mut members)?;
    let sorted = members.windows(2).all(|w| w[0].0 < w[1].0);
    if !sorted {
        return Err(r.corrupt("/", "root group members out of order".into()));
    }
    let root_messages =
        messages.into_iter().filter(|m| !matches!(m.0, 0x0000 | 0x0010 | 0x0011)).collect();
    Ok(Some(Existing { eof, root_messages, members, heap }))
}

/// The data segment of the local heap at `at`.
pub(crate) fn local_heap(r: &mut Reader, at: u64, object: &str) -> Result<Vec<u8>> {
    let what = format!("{object} (local heap)");
    let hh: [u8; 32] = r.bytes(at, 32, &what)?.try_into().expect("32 bytes");
    if &hh[..4] != b"HEAP" {
        return Err(r.corrupt(&what, "no HEAP signature".into()));
    }
    let (len, data) = (u64_at(&hh, 8), u64_at(&hh, 24));
    if len > r.len {
        return Err(r.corrupt(&what, format!("size {len}")));
    }
    Ok(r.bytes(data, len as usize, &what)?.to_vec())
}

/// A message of an object header: type, flags, body.
pub(crate) type RawMessage = (u16, u8, Vec<u8>);

/// Every message of a version-1 object header, continuations followed.
pub(crate) fn header_messages(r: &mut Reader, at: u64, object: &str) -> Result<Vec<RawMessage>> {
    let what = format!("{object} (object header)");
    let what = what.as_str();
    let h: [u8; 16] = r.bytes(at, 16, what)?.try_into().expect("16 bytes");
    if h[0] != 1 {
        return Err(r.corrupt(what, format!("object header version {}", h[0])));
    }
    let count = usize::from(u16_at(&h, 2));
    let mut blocks = vec![(at + 16, u64::from(u32_at(&h, 8)))];
    // Room for the messages the header claims, as far as the file can hold them (8 bytes each
    // at least): the count is the file's word, unchecked until the chunks are read.
    let mut out = Vec::with_capacity(count.min(usize::try_from(r.len / 8).unwrap_or(usize::MAX)));
    // Continuations followed (a few at most): none may lead back to a chunk read already.
    let mut seen = Vec::new();
    while let Some((start, size)) = blocks.pop() {
        if seen.contains(&start) {
            return Err(r.corrupt(what, format!("continued twice into byte {start}")));
        }
        seen.push(start);
        if size > r.len {
            return Err(r.corrupt(what, format!("a chunk of {size} bytes")));
        }
        let b = r.bytes(start, size as usize, what)?.to_vec();
        let mut o = 0;
        let mut found = Vec::new();
        while o + 8 <= b.len() {
            let (kind, len, flags) = (u16_at(&b, o), usize::from(u16_at(&b, o + 2)), b[o + 4]);
            let Some(body) = b.get(o + 8..o + 8 + len) else {
                return Err(r.corrupt(what, "a message past its chunk".into()));
            };
            if kind == 0x0010 && len >= 16 {
                found.push((u64_at(body, 0), u64_at(body, 8)));
            }
            out.push((kind, flags, body.to_vec()));
            o += 8 + len;
        }
        blocks.extend(found);
        if out.len() > count {
            return Err(r.corrupt(what, "more messages than the header says".into()));
        }
    }
    Ok(out)
}

fn name_at(r: &Reader, heap: &[u8], offset: u64) -> Result<Box<str>> {
    let tail = heap.get(offset as usize..).unwrap_or(&[]);
    let end = tail.iter().position(|&c| c == 0);
    end.and_then(|e| std::str::from_utf8(&tail[..e]).ok())
        .map(Into::into)
        .ok_or_else(|| r.corrupt("(local heap)", format!("no name at offset {offset}")))
}

/// The members of the old-style group whose B-tree is at `at` (names from `heap`), in the
/// B-tree's order. Every node lies inside the file, is visited once, and has the level its
/// parent says (leaves: symbol-table nodes), so that a damaged index cannot loop.
pub(crate) fn walk(
    r: &mut Reader,
    at: u64,
    heap: &[u8],
    depth: usize,
    out: &mut Vec<(Box<str>, Entry)>,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    walk_node(r, at, heap, depth, None, &mut seen, out)
}

fn walk_node(
    r: &mut Reader,
    at: u64,
    heap: &[u8],
    depth: usize,
    level: Option<u8>,
    seen: &mut std::collections::HashSet<u64>,
    out: &mut Vec<(Box<str>, Entry)>,
) -> Result<()> {
    let what = "(B-tree)";
    let bad = |r: &Reader, reason: String| damaged(r.path, what, Some(at), reason);
    if depth > 16 {
        return Err(bad(r, "deeper than 16 levels".into()));
    }
    if !seen.insert(at) {
        return Err(bad(r, "a group B-tree node reached twice".into()));
    }
    if r.bytes(at, 4, what)? == b"SNOD" {
        if level.is_some_and(|l| l != 0) {
            return Err(bad(r, "a symbol-table node where the B-tree has inner nodes".into()));
        }
        let b = r.bytes(at, SNOD_SIZE, "(symbol table node)")?.to_vec();
        let n = usize::from(u16_at(&b, 6));
        if b[4] != 1 || n > 2 * LEAF_K {
            return Err(bad(
                r,
                format!("a symbol-table node of version {} with {n} entries", b[4]),
            ));
        }
        for i in 0..n {
            let e = &b[8 + i * ENTRY_SIZE..8 + (i + 1) * ENTRY_SIZE];
            let group =
                (u32_at(e, 16) == 1).then(|| (Addr::Abs(u64_at(e, 24)), Addr::Abs(u64_at(e, 32))));
            let entry = Entry { name: u64_at(e, 0), header: Addr::Abs(u64_at(e, 8)), group };
            out.push((name_at(r, heap, entry.name)?, entry));
        }
        return Ok(());
    }
    let b = r.bytes(at, TREE_SIZE, what)?.to_vec();
    if &b[..4] != b"TREE" || b[4] != 0 {
        return Err(bad(r, "no group B-tree node (signature)".into()));
    }
    let (node_level, n) = (b[5], usize::from(u16_at(&b, 6)));
    // A node's children are one level down; level 0's are symbol-table nodes.
    if level.is_some_and(|l| l != node_level + 1) || n > 2 * INTERNAL_K {
        return Err(bad(r, format!("a group B-tree node of level {node_level} with {n} children")));
    }
    let children: Vec<u64> = (0..n).map(|i| u64_at(&b, 24 + 16 * i + 8)).collect();
    for child in children {
        walk_node(r, child, heap, depth + 1, Some(node_level), seen, out)?;
    }
    Ok(())
}

/// The bytes asked of a [`Reader`]: first address and end, of metadata and of everything.
#[derive(Default, Clone, Copy)]
pub(crate) struct Seen {
    pub(super) metadata: Option<(u64, u64)>,
    pub(super) all: Option<(u64, u64)>,
}

impl Seen {
    pub(crate) fn metadata(&mut self, at: u64, end: u64) {
        widen(&mut self.metadata, at, end);
        widen(&mut self.all, at, end);
    }

    pub(crate) fn data(&mut self, at: u64, end: u64) {
        widen(&mut self.all, at, end);
    }
}

fn widen(span: &mut Option<(u64, u64)>, at: u64, end: u64) {
    *span = Some(span.map_or((at, end), |(a, e)| (a.min(at), e.max(end))));
}
