//! Reading back what an appending writer needs from an existing file in h5py's default format:
//! the superblock, the root object header's messages and the root group's members. Files in any
//! other format (superblock 2 and later, "new style" root groups, other B-tree sizes) are
//! answered with `None`, and the caller appends through the HDF5 library instead.

use std::os::unix::fs::FileExt;
use std::path::Path;

use super::encode::{Addr, ENTRY_SIZE, Entry, SNOD_SIZE, SUPERBLOCK_SIZE, TREE_SIZE};
use super::{INTERNAL_K, LEAF_K};
use crate::{Error, Result};

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

struct Reader<'a> {
    path: &'a Path,
    file: &'a std::fs::File,
    len: u64,
}

impl Reader<'_> {
    fn bytes(&self, at: u64, n: usize, what: &str) -> Result<Vec<u8>> {
        if at.checked_add(n as u64).is_none_or(|end| end > self.len) {
            return Err(self.corrupt(what, format!("{n} bytes at {at} lie past the file's end")));
        }
        let mut b = vec![0; n];
        self.file.read_exact_at(&mut b, at).map_err(|source| Error::Io {
            path: self.path.to_owned(),
            object: what.to_owned(),
            source,
        })?;
        Ok(b)
    }

    fn corrupt(&self, what: &str, message: String) -> Error {
        Error::Schema { path: self.path.to_owned(), message: format!("{what}: {message}") }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The parts of `file` an appending writer needs, or `None` if the file is not in h5py's default
/// format (then the HDF5 library appends).
pub(crate) fn read(path: &Path, file: &std::fs::File) -> Result<Option<Existing>> {
    let len = crate::bounds::file_len(path, file)?;
    let r = Reader { path, file, len };
    if len < SUPERBLOCK_SIZE as u64 {
        return Ok(None);
    }
    let sb = r.bytes(0, SUPERBLOCK_SIZE, "superblock")?;
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
    let messages = header_messages(&r, root)?;
    let Some(stab) = messages.iter().find(|m| m.0 == 0x0011) else {
        return Ok(None); // a "new style" root group
    };
    if stab.2.len() < 16 {
        return Err(r.corrupt("/", "short symbol table message".into()));
    }
    let (tree, heap_at) = (u64_at(&stab.2, 0), u64_at(&stab.2, 8));
    let hh = r.bytes(heap_at, 32, "/ (local heap)")?;
    if &hh[..4] != b"HEAP" {
        return Err(r.corrupt("/ (local heap)", "no HEAP signature".into()));
    }
    let heap_len = u64_at(&hh, 8);
    if heap_len > len {
        return Err(r.corrupt("/ (local heap)", format!("size {heap_len}")));
    }
    let heap = r.bytes(u64_at(&hh, 24), heap_len as usize, "/ (local heap)")?;
    let mut members = Vec::new();
    walk(&r, tree, &heap, 0, &mut members)?;
    let sorted = members.windows(2).all(|w| w[0].0 < w[1].0);
    if !sorted {
        return Err(r.corrupt("/", "root group members out of order".into()));
    }
    let root_messages =
        messages.into_iter().filter(|m| !matches!(m.0, 0x0000 | 0x0010 | 0x0011)).collect();
    Ok(Some(Existing { eof, root_messages, members, heap }))
}

/// Every message of a version-1 object header, continuations followed.
fn header_messages(r: &Reader, at: u64) -> Result<Vec<(u16, u8, Vec<u8>)>> {
    let what = "/ (object header)";
    let h = r.bytes(at, 16, what)?;
    if h[0] != 1 {
        return Err(r.corrupt(what, format!("object header version {}", h[0])));
    }
    let count = usize::from(u16_at(&h, 2));
    let mut blocks = vec![(at + 16, u64::from(u32_at(&h, 8)))];
    let mut out = Vec::with_capacity(count);
    while let Some((start, size)) = blocks.pop() {
        let b = r.bytes(start, size as usize, what)?;
        let mut o = 0;
        while o + 8 <= b.len() {
            let (kind, len, flags) = (u16_at(&b, o), usize::from(u16_at(&b, o + 2)), b[o + 4]);
            let body =
                b.get(o + 8..o + 8 + len).ok_or_else(|| r.corrupt(what, "message".into()))?;
            if kind == 0x0010 && len >= 16 {
                blocks.push((u64_at(body, 0), u64_at(body, 8)));
            }
            out.push((kind, flags, body.to_vec()));
            o += 8 + len;
        }
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
        .ok_or_else(|| r.corrupt("/ (local heap)", format!("no name at offset {offset}")))
}

fn walk(
    r: &Reader,
    at: u64,
    heap: &[u8],
    depth: usize,
    out: &mut Vec<(Box<str>, Entry)>,
) -> Result<()> {
    if depth > 16 {
        return Err(r.corrupt("/ (B-tree)", "deeper than 16 levels".into()));
    }
    let what = "/ (B-tree)";
    let sig = r.bytes(at, 4, what)?;
    if &sig[..] == b"SNOD" {
        let b = r.bytes(at, SNOD_SIZE, "/ (symbol table node)")?;
        let n = usize::from(u16_at(&b, 6)).min(2 * LEAF_K);
        for i in 0..n {
            let e = &b[8 + i * ENTRY_SIZE..8 + (i + 1) * ENTRY_SIZE];
            let group =
                (u32_at(e, 16) == 1).then(|| (Addr::Abs(u64_at(e, 24)), Addr::Abs(u64_at(e, 32))));
            let entry = Entry { name: u64_at(e, 0), header: Addr::Abs(u64_at(e, 8)), group };
            out.push((name_at(r, heap, entry.name)?, entry));
        }
        return Ok(());
    }
    let b = r.bytes(at, TREE_SIZE, what)?;
    if &b[..4] != b"TREE" || b[4] != 0 {
        return Err(r.corrupt(what, format!("no group B-tree node at {at}")));
    }
    let n = usize::from(u16_at(&b, 6)).min(2 * INTERNAL_K);
    for i in 0..n {
        walk(r, u64_at(&b, 24 + 16 * i + 8), heap, depth + 1, out)?;
    }
    Ok(())
}
