//! The bytes of a small HDF5 file holding float32 datasets (any rank) whose chunks are already
//! deflate-compressed: what `packed` hands to HDF5's object copy (H5Ocopy), which copies
//! compressed chunks as they are. Only what such a file needs, in the versions HDF5 1.8 and
//! later write (superblock 2, object header 2, a compact root group, data layout 3 with a
//! version-1 B-tree of chunks, filter pipeline 2), from the HDF5 file format specification; HDF5
//! itself reads the result (the tests, and every copy).

use std::io::Write;

/// A little-endian float32 dataset stored in deflate-compressed chunks.
pub(crate) struct ChunkedF32 {
    /// Link name in the root group.
    pub(crate) name: String,
    /// The size of each axis (at least one axis).
    pub(crate) shape: Vec<usize>,
    /// The chunk's size on each axis.
    pub(crate) chunk: Vec<usize>,
    /// Deflate level recorded in the filter pipeline.
    pub(crate) level: u8,
    /// Each chunk's zlib stream, chunks in row-major order of their positions.
    pub(crate) chunks: Vec<Vec<u8>>,
}

/// Chunks along each axis of a dataset of `shape` in chunks of `chunk`.
pub(crate) fn grid(shape: &[usize], chunk: &[usize]) -> Vec<usize> {
    shape.iter().zip(chunk).map(|(&n, &c)| n.div_ceil(c)).collect()
}

/// The position of chunk `i` (row-major) in a grid of `grid` chunks per axis.
pub(crate) fn chunk_position(grid: &[usize], mut i: usize) -> Vec<usize> {
    let mut at = vec![0; grid.len()];
    for (a, &g) in at.iter_mut().zip(grid).rev() {
        *a = i % g;
        i /= g;
    }
    at
}

const UNDEF: u64 = u64::MAX;
/// Entries per B-tree node: twice HDF5's default K of 32 for chunk indexes (a file with
/// superblock 2 and no extension uses the default).
const BTREE_ENTRIES: usize = 64;
/// Key of the chunk B-tree of a dataset of `rank` axes: chunk size, filter mask, an offset per
/// axis plus the element axis.
const fn key_size(rank: usize) -> usize {
    4 + 4 + 8 * (rank + 1)
}

const fn node_size(rank: usize) -> usize {
    24 + (BTREE_ENTRIES + 1) * key_size(rank) + BTREE_ENTRIES * 8
}
const SUPERBLOCK_SIZE: usize = 48;

/// Writes the whole file to `out`: superblock, root group, the datasets' headers, then per
/// dataset its B-tree nodes and chunks. The chunks go to `out` as they are (no copy of the
/// file is assembled in memory).
pub(crate) fn write_file(out: &mut impl Write, datasets: &[ChunkedF32]) -> std::io::Result<()> {
    // Sizes first, to place everything: root header, dataset headers, then per dataset its
    // B-tree nodes and chunks.
    let root_len = object_header(&root_messages(datasets, &vec![0; datasets.len()])).len();
    let header_lens: Vec<usize> =
        datasets.iter().map(|d| object_header(&dataset_messages(d, 0)).len()).collect();
    let mut at = (SUPERBLOCK_SIZE + root_len) as u64;
    let mut header_addrs = Vec::with_capacity(datasets.len());
    for len in &header_lens {
        header_addrs.push(at);
        at += *len as u64;
    }
    let mut trees = Vec::with_capacity(datasets.len());
    for d in datasets {
        let tree = Tree::lay_out(d, at);
        at = tree.end;
        trees.push(tree);
    }
    out.write_all(&superblock(at, SUPERBLOCK_SIZE as u64))?;
    out.write_all(&object_header(&root_messages(datasets, &header_addrs)))?;
    for (d, tree) in datasets.iter().zip(&trees) {
        out.write_all(&object_header(&dataset_messages(d, tree.root)))?;
    }
    for (d, tree) in datasets.iter().zip(&trees) {
        tree.write(d, out)?;
    }
    Ok(())
}

fn superblock(eof: u64, root: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(SUPERBLOCK_SIZE);
    b.extend(b"\x89HDF\r\n\x1a\n");
    b.extend([2, 8, 8, 0]); // version, sizes of offsets and lengths, consistency flags
    b.extend(0u64.to_le_bytes()); // base address
    b.extend(UNDEF.to_le_bytes()); // no superblock extension
    b.extend(eof.to_le_bytes());
    b.extend(root.to_le_bytes());
    let sum = lookup3(&b);
    b.extend(sum.to_le_bytes());
    b
}

/// A message: type, flags, body.
type Message = (u8, u8, Vec<u8>);

/// Version-2 object header in one chunk (4-byte chunk size), without times or attributes.
fn object_header(messages: &[Message]) -> Vec<u8> {
    let body: usize = messages.iter().map(|(_, _, m)| 4 + m.len()).sum();
    let mut h = Vec::with_capacity(10 + body + 4);
    h.extend(b"OHDR");
    h.extend([2, 0b10]); // version, flags: chunk #0 size in 4 bytes
    h.extend((body as u32).to_le_bytes());
    for (kind, flags, m) in messages {
        h.push(*kind);
        h.extend((m.len() as u16).to_le_bytes());
        h.push(*flags);
        h.extend(m);
    }
    let sum = lookup3(&h);
    h.extend(sum.to_le_bytes());
    h
}

/// A compact ("new style") group: link info, group info, one hard link per dataset.
fn root_messages(datasets: &[ChunkedF32], addrs: &[u64]) -> Vec<Message> {
    let mut link_info = vec![0, 0]; // version, flags
    link_info.extend(UNDEF.to_le_bytes()); // no fractal heap: links are in the header
    link_info.extend(UNDEF.to_le_bytes()); // no name index
    let mut messages = vec![(0x02, 0, link_info), (0x0a, 0, vec![0, 0])];
    for (d, addr) in datasets.iter().zip(addrs) {
        let mut link = vec![1, 0, d.name.len() as u8]; // version, flags (hard, ASCII), name size
        link.extend(d.name.as_bytes());
        link.extend(addr.to_le_bytes());
        messages.push((0x06, 0, link));
    }
    messages
}

fn dataset_messages(d: &ChunkedF32, btree: u64) -> Vec<Message> {
    // Version, rank, flags (no max dims), simple.
    let mut space = vec![2, d.shape.len() as u8, 0, 1];
    for &n in &d.shape {
        space.extend((n as u64).to_le_bytes());
    }
    // IEEE float32, little-endian: class 1 version 1; implied mantissa msb, sign at bit 31.
    let mut dtype = vec![0x11, 0x20, 31, 0];
    dtype.extend(4u32.to_le_bytes());
    dtype.extend(0u16.to_le_bytes()); // bit offset
    dtype.extend(32u16.to_le_bytes()); // precision
    dtype.extend([23, 8, 0, 23]); // exponent location and size, mantissa location and size
    dtype.extend(127u32.to_le_bytes()); // exponent bias
    // Fill value 3: allocation incremental (3), written if set (2), default value.
    let fill = vec![3, 3 | (2 << 2)];
    let mut layout = vec![3, 2, d.shape.len() as u8 + 1]; // version, chunked, axes + elements
    layout.extend(btree.to_le_bytes());
    for &n in &d.chunk {
        layout.extend((n as u32).to_le_bytes());
    }
    layout.extend(4u32.to_le_bytes());
    // Filter pipeline 2: deflate (1), optional (as H5Pset_deflate), one value: the level.
    let mut pipeline = vec![2, 1];
    for v in [1u16, 1, 1] {
        pipeline.extend(v.to_le_bytes());
    }
    pipeline.extend(u32::from(d.level).to_le_bytes());
    vec![
        (0x01, 0, space),
        (0x03, 1, dtype), // constant
        (0x05, 1, fill),
        (0x08, 0, layout),
        (0x0b, 0, pipeline),
    ]
}

/// Where one dataset's B-tree nodes (level by level, leaves first) and chunks go.
struct Tree {
    /// Node addresses per level, leaves first; the last level has one node, the root.
    levels: Vec<Vec<u64>>,
    chunk_addrs: Vec<u64>,
    root: u64,
    end: u64,
}

impl Tree {
    fn lay_out(d: &ChunkedF32, start: u64) -> Tree {
        let node = node_size(d.shape.len());
        let mut at = start;
        let mut levels = Vec::new();
        let mut count = d.chunks.len().max(1);
        loop {
            let nodes = count.div_ceil(BTREE_ENTRIES);
            levels.push((0..nodes).map(|i| at + (i * node) as u64).collect::<Vec<_>>());
            at += (nodes * node) as u64;
            if nodes == 1 {
                break;
            }
            count = nodes;
        }
        let mut chunk_addrs = Vec::with_capacity(d.chunks.len());
        for c in &d.chunks {
            chunk_addrs.push(at);
            at += c.len() as u64;
        }
        let root = levels.last().expect("at least one level")[0];
        Tree { levels, chunk_addrs, root, end: at }
    }

    /// The key of chunk `i`: its size, no filter skipped, and its offsets in elements; `i` one
    /// past the last chunk gives the right bound HDF5 writes (the last chunk's scaled offsets
    /// plus one on every axis).
    fn key(d: &ChunkedF32, i: usize) -> Vec<u8> {
        let grid = grid(&d.shape, &d.chunk);
        // Scaled offsets on every axis, the element axis last.
        let (scaled, size): (Vec<usize>, u32) = match d.chunks.get(i) {
            Some(c) => (chunk_position(&grid, i).into_iter().chain([0]).collect(), c.len() as u32),
            None => {
                let last = chunk_position(&grid, d.chunks.len() - 1);
                (last.into_iter().chain([0]).map(|s| s + 1).collect(), 0)
            }
        };
        let mut k = Vec::with_capacity(key_size(d.shape.len()));
        k.extend(size.to_le_bytes());
        k.extend(0u32.to_le_bytes());
        for (s, n) in scaled.iter().zip(d.chunk.iter().chain([&4])) {
            k.extend(((s * n) as u64).to_le_bytes());
        }
        k
    }

    fn write(&self, d: &ChunkedF32, w: &mut impl Write) -> std::io::Result<()> {
        // Children of each level's nodes: chunk indexes at the leaves, then node indexes; a
        // node's keys are its children's first keys and, last, the key after its last child.
        let mut first_chunk: Vec<usize> = (0..d.chunks.len()).collect();
        let mut child_addrs = self.chunk_addrs.clone();
        let mut out = Vec::with_capacity(node_size(d.shape.len()));
        for (level, nodes) in self.levels.iter().enumerate() {
            let mut next_first = Vec::with_capacity(nodes.len());
            for (n, _addr) in nodes.iter().enumerate() {
                let lo = n * BTREE_ENTRIES;
                let hi = (lo + BTREE_ENTRIES).min(child_addrs.len());
                out.clear();
                out.extend(b"TREE");
                out.extend([1, level as u8]);
                out.extend(((hi - lo) as u16).to_le_bytes());
                let sibling = |i: Option<usize>| i.and_then(|i| nodes.get(i)).copied();
                out.extend(sibling(n.checked_sub(1)).unwrap_or(UNDEF).to_le_bytes());
                out.extend(sibling(Some(n + 1)).unwrap_or(UNDEF).to_le_bytes());
                for c in lo..hi {
                    out.extend(Self::key(d, first_chunk[c]));
                    out.extend(child_addrs[c].to_le_bytes());
                }
                let after = first_chunk.get(hi).copied().unwrap_or(d.chunks.len());
                out.extend(Self::key(d, after));
                out.resize(node_size(d.shape.len()), 0);
                w.write_all(&out)?;
                next_first.push(first_chunk[lo]);
            }
            first_chunk = next_first;
            child_addrs = nodes.clone();
        }
        for c in &d.chunks {
            w.write_all(c)?;
        }
        Ok(())
    }
}

/// Bob Jenkins' lookup3 hash (`hashlittle`, initial value 0): HDF5's metadata checksum.
pub(crate) fn lookup3(data: &[u8]) -> u32 {
    let init = 0xdead_beef_u32.wrapping_add(data.len() as u32);
    let (mut a, mut b, mut c) = (init, init, init);
    let word = |k: &[u8], i: usize| -> u32 {
        (0..4).map(|j| u32::from(k.get(i + j).copied().unwrap_or(0)) << (8 * j)).sum()
    };
    let mut k = data;
    while k.len() > 12 {
        a = a.wrapping_add(word(k, 0));
        b = b.wrapping_add(word(k, 4));
        c = c.wrapping_add(word(k, 8));
        // mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    // The last 1..=12 bytes, zero-padded (the reference's fall-through switch).
    a = a.wrapping_add(word(k, 0));
    b = b.wrapping_add(word(k, 4));
    c = c.wrapping_add(word(k, 8));
    // final
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

#[cfg(test)]
mod tests {
    use super::lookup3;

    #[test]
    fn lookup3_matches_the_reference_values() {
        // From lookup3.c's driver5: hashlittle("", 0, 0) and "Four score and seven years ago".
        assert_eq!(lookup3(b""), 0xdeadbeef);
        assert_eq!(lookup3(b"Four score and seven years ago"), 0x17770551);
    }
}
