//! Chunked datasets as h5py (libhdf5 with its default, 1.8-compatible formats) writes them: a
//! dataspace with maximum dimensions (unlimited ones too), a fill value allocated
//! incrementally, the deflate filter when compressed, a data layout message (version 3, class
//! chunked) pointing to a version-1 B-tree of type 1 over the chunks, and that B-tree (K = 32:
//! up to 64 chunks a node, more levels for more chunks, every node allocated at its full size as
//! libhdf5 does).
//!
//! A caller describes a dataset ([`Chunked`]) and where its chunks lie ([`ChunkRef`]: written
//! by the caller, addresses absolute) and gets the object header and the B-tree's nodes, laid
//! out in a [`Buf`] at addresses it allocates in the file. Chunks are compressed with
//! [`deflate_chunks`] (rayon, the deflate of `h5::packed`).

use std::path::Path;

use flate2::{Compress, Compression};
use rayon::prelude::*;

use super::UNDEF;
use super::encode::{self, Addr, Buf, Message};
use crate::error::{Error, Result};

/// B-tree K of chunk indices (HDF5's default, `HDF5_BTREE_CHUNK_IK_DEF`): nodes hold up to 2K
/// children.
const CHUNK_K: usize = 32;

/// The element type of a chunked dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    /// IEEE float32, little-endian.
    F32,
    /// Variable-length UTF-8 strings (h5py's `str`): 16-byte references into global heaps.
    VlenStr,
}

impl Dtype {
    /// Bytes per element in a chunk.
    pub(crate) fn size(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::VlenStr => 16,
        }
    }

    fn message(self) -> Message {
        match self {
            Dtype::F32 => encode::f32_type(),
            Dtype::VlenStr => encode::vlen_str_type(),
        }
    }
}

/// A chunked dataset's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunked {
    pub(crate) dtype: Dtype,
    /// Current size of each axis.
    pub(crate) dims: Vec<u64>,
    /// Maximum size of each axis; `None`: unlimited.
    pub(crate) maxdims: Vec<Option<u64>>,
    /// Chunk size on each axis.
    pub(crate) chunk: Vec<u64>,
    /// Deflate level, if the chunks are compressed.
    pub(crate) deflate: Option<u8>,
}

/// A chunk in the file: its offset (in elements, one per axis), address, stored size and
/// filter mask (0: every filter applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChunkRef {
    pub(crate) offset: Vec<u64>,
    pub(crate) addr: u64,
    pub(crate) size: u32,
    pub(crate) filter_mask: u32,
}

impl Chunked {
    /// A dataset whose maximum size is its size.
    pub(crate) fn fixed(dtype: Dtype, dims: &[u64], chunk: &[u64], deflate: Option<u8>) -> Self {
        let maxdims = dims.iter().map(|&d| Some(d)).collect();
        Self { dtype, dims: dims.to_vec(), maxdims, chunk: chunk.to_vec(), deflate }
    }

    /// Bytes of one chunk, uncompressed.
    pub(crate) fn chunk_bytes(&self) -> u64 {
        self.chunk.iter().product::<u64>() * self.dtype.size()
    }

    /// The offsets of the chunks covering the dataset's current size, in row-major order.
    pub(crate) fn chunk_offsets(&self) -> Vec<Vec<u64>> {
        let grid: Vec<u64> =
            self.dims.iter().zip(&self.chunk).map(|(&n, &c)| n.div_ceil(c)).collect();
        let count: u64 = grid.iter().product();
        (0..count)
            .map(|mut i| {
                let mut at = vec![0; grid.len()];
                for ((a, &g), &c) in at.iter_mut().zip(&grid).zip(&self.chunk).rev() {
                    *a = (i % g) * c;
                    i /= g;
                }
                at
            })
            .collect()
    }

    /// The object header's messages, the chunk index at `btree` (undefined: no chunk yet):
    /// dataspace, datatype, fill value, filter pipeline (if compressed), data layout.
    pub(crate) fn messages(&self, btree: Addr) -> Vec<Message> {
        let mut m = vec![self.dataspace(), self.dtype.message(), self.fill_value()];
        if let Some(level) = self.deflate {
            m.push(deflate_pipeline(level));
        }
        m.push(self.layout(btree));
        m
    }

    /// The object header, appended to `out`; returns its address (relative to `out`'s region).
    pub(crate) fn header(&self, out: &mut Buf, btree: Addr) -> u64 {
        encode::object_header(out, self.messages(btree))
    }

    /// Dataspace message version 1 with maximum dimensions (unlimited: all ones).
    fn dataspace(&self) -> Message {
        let mut b = Buf::default();
        b.put(&[1, self.dims.len() as u8, 1, 0, 0, 0, 0, 0]);
        for &n in &self.dims {
            b.u64(n);
        }
        for m in &self.maxdims {
            b.u64(m.unwrap_or(UNDEF));
        }
        Message::new(0x0001, 0, b)
    }

    /// Fill value message version 2: allocation incremental, the library's default value;
    /// written at allocation for strings, if set for floats (h5py's).
    fn fill_value(&self) -> Message {
        let mut b = Buf::default();
        b.put(&[2, 3, if self.dtype == Dtype::VlenStr { 0 } else { 2 }, 1]);
        b.u32(0);
        Message::new(0x0005, 1, b)
    }

    /// Data layout message version 3, class chunked: the B-tree's address and the chunk's
    /// dimensions, the element size last.
    fn layout(&self, btree: Addr) -> Message {
        let mut b = Buf::default();
        b.put(&[3, 2, self.chunk.len() as u8 + 1]);
        b.put_addr(btree);
        for &c in &self.chunk {
            b.u32(c as u32);
        }
        b.u32(self.dtype.size() as u32);
        Message::new(0x0008, 0, b)
    }

    /// Bytes of one B-tree key: chunk size, filter mask, an offset per axis and the element's.
    fn key_size(&self) -> usize {
        8 + 8 * (self.chunk.len() + 1)
    }

    /// Bytes of one B-tree node (room for 2K children and 2K + 1 keys).
    pub(crate) fn node_size(&self) -> u64 {
        (24 + (2 * CHUNK_K + 1) * self.key_size() + 2 * CHUNK_K * 8) as u64
    }

    /// Bytes of the B-tree over `chunks` chunks ([`Chunked::btree`]'s).
    pub(crate) fn btree_size(&self, chunks: usize) -> u64 {
        let mut nodes = 0;
        let mut n = chunks;
        while n > 0 {
            n = n.div_ceil(2 * CHUNK_K);
            nodes += n;
            if n == 1 {
                break;
            }
        }
        nodes as u64 * self.node_size()
    }

    /// The B-tree over `chunks` (any order; their offsets distinct), its nodes appended to
    /// `out` (leaves first, the root last, each at its full size); returns the root's address
    /// (relative to `out`'s region), undefined without chunks.
    pub(crate) fn btree(&self, out: &mut Buf, chunks: &[ChunkRef]) -> Addr {
        if chunks.is_empty() {
            return Addr::Abs(UNDEF);
        }
        debug_assert!(chunks.iter().all(|c| c.offset.len() == self.chunk.len()));
        let mut sorted: Vec<&ChunkRef> = chunks.iter().collect();
        sorted.sort_unstable_by(|a, b| a.offset.cmp(&b.offset));
        // The key after the last chunk: its offset plus the chunk's size, the element's last.
        let last = sorted.last().expect("not empty");
        let mut end: Vec<u64> = last.offset.iter().zip(&self.chunk).map(|(o, c)| o + c).collect();
        end.push(self.dtype.size());
        let end = Key { size: 0, mask: 0, offset: end };
        // Each level's nodes: (first key, address); children's first keys are their keys.
        let mut level: Vec<(Key, Addr)> = sorted
            .iter()
            .map(|c| {
                let mut offset = c.offset.clone();
                offset.push(0);
                (Key { size: c.size, mask: c.filter_mask, offset }, Addr::Abs(c.addr))
            })
            .collect();
        let mut depth = 0u8;
        loop {
            let groups: Vec<&[(Key, Addr)]> = level.chunks(2 * CHUNK_K).collect();
            let start = out.here();
            let at = |i: usize| Addr::Rel(start + i as u64 * self.node_size());
            let mut next = Vec::with_capacity(groups.len());
            for (i, g) in groups.iter().enumerate() {
                let right_key = groups.get(i + 1).map_or(&end, |n| &n[0].0);
                let left = if i == 0 { Addr::Abs(UNDEF) } else { at(i - 1) };
                let right = if i + 1 == groups.len() { Addr::Abs(UNDEF) } else { at(i + 1) };
                let node = self.node(out, depth, (left, right), g, right_key);
                debug_assert_eq!(Addr::Rel(node), at(i));
                next.push((g[0].0.clone(), Addr::Rel(node)));
            }
            if next.len() == 1 {
                return next[0].1;
            }
            level = next;
            depth += 1;
        }
    }

    /// One B-tree node at `level` over `children` (first key, address), `right_key` after them.
    fn node(
        &self,
        out: &mut Buf,
        level: u8,
        siblings: (Addr, Addr),
        children: &[(Key, Addr)],
        right_key: &Key,
    ) -> u64 {
        debug_assert!(children.len() <= 2 * CHUNK_K);
        let (at, start) = (out.here(), out.bytes.len());
        out.put(b"TREE");
        out.put(&[1, level]);
        out.u16(children.len() as u16);
        out.put_addr(siblings.0);
        out.put_addr(siblings.1);
        for (key, child) in children {
            key.encode(out);
            out.put_addr(*child);
        }
        right_key.encode(out);
        out.bytes.resize(start + self.node_size() as usize, 0);
        at
    }
}

/// A chunk B-tree key.
#[derive(Clone, Debug)]
struct Key {
    size: u32,
    mask: u32,
    /// Offsets in elements, one per axis and 0 for the element.
    offset: Vec<u64>,
}

impl Key {
    fn encode(&self, out: &mut Buf) {
        out.u32(self.size);
        out.u32(self.mask);
        for &o in &self.offset {
            out.u64(o);
        }
    }
}

/// Filter pipeline message version 1: deflate at `level` (optional, as `H5Pset_deflate` sets
/// it), with its name, as libhdf5 writes it.
fn deflate_pipeline(level: u8) -> Message {
    let mut b = Buf::default();
    b.put(&[1, 1, 0, 0, 0, 0, 0, 0]);
    b.u16(1); // filter id: deflate
    b.u16(8); // name length, padded
    b.u16(1); // flags: optional
    b.u16(1); // client values
    b.put(b"deflate\0");
    b.u32(u32::from(level));
    b.u32(0); // padding after an odd number of client values
    Message::new(0x000b, 1, b)
}

/// Each of `chunks` as one zlib stream at `level` (what HDF5's deflate filter stores),
/// compressed on rayon's threads; `object` names the dataset in errors.
pub(crate) fn deflate_chunks(
    path: &Path,
    object: &str,
    chunks: &[&[u8]],
    level: u8,
) -> Result<Vec<Vec<u8>>> {
    let init = || Compress::new(Compression::new(u32::from(level)), true);
    chunks
        .par_iter()
        .map_init(init, |z, data| {
            z.reset();
            crate::gzip_chunks::deflate(z, data).map_err(|e| Error::Io {
                path: path.to_owned(),
                object: object.to_owned(),
                source: std::io::Error::other(e),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oldh5::encode::Entry;
    use crate::oldh5::file::NativeFile;
    use hdf5::types::VarLenUnicode;

    /// A test dataset: description and values (floats, or strings).
    struct Case {
        name: &'static str,
        d: Chunked,
        floats: Vec<f32>,
        strings: Vec<String>,
    }

    fn floats(name: &'static str, dims: &[u64], max: Option<u64>, chunk: &[u64], z: bool) -> Case {
        let mut d = Chunked::fixed(Dtype::F32, dims, chunk, z.then_some(4));
        d.maxdims[0] = max;
        let n: u64 = dims.iter().product();
        let floats = (0..n).map(|i| (i % 1000) as f32 * 0.5 - 7.0).collect();
        Case { name, d, floats, strings: Vec::new() }
    }

    fn strings(name: &'static str, n: u64, max: Option<u64>, chunk: u64, z: bool) -> Case {
        let mut d = Chunked::fixed(Dtype::VlenStr, &[n], &[chunk], z.then_some(4));
        d.maxdims[0] = max;
        let strings = (0..n).map(|i| format!("s{i}é").repeat(i as usize % 4)).collect();
        Case { name, d, floats: Vec::new(), strings }
    }

    /// The cases: gzip or not, float32 or strings, one chunk, over 64 and over 64² chunks,
    /// partial chunks at the edges, unlimited maximum sizes.
    fn cases() -> Vec<Case> {
        vec![
            floats("f_one", &[5, 7], Some(5), &[5, 7], true),
            floats("f_gz", &[150, 7], Some(150), &[2, 4], true),
            floats("f_grow", &[995, 3], None, &[10, 3], false),
            floats("f_deep", &[4200], None, &[1], false),
            floats("f_empty", &[0, 3], None, &[16, 3], false),
            strings("s_gz", 70, Some(70), 1, true),
            strings("s_one", 10, None, 16, false),
        ]
    }

    /// The chunk at `offset` of a dataset's element bytes `all` (row-major), zero beyond its
    /// edges.
    fn gather(d: &Chunked, all: &[u8], offset: &[u64]) -> Vec<u8> {
        let e = d.dtype.size() as usize;
        let mut out = vec![0u8; d.chunk_bytes() as usize];
        let count: u64 = d.chunk.iter().product();
        for i in 0..count {
            // The element's index in the chunk, then in the dataset.
            let (mut rest, mut src, mut dst, mut inside) = (i, 0u64, 0u64, true);
            let mut idx = vec![0; d.chunk.len()];
            for a in (0..d.chunk.len()).rev() {
                idx[a] = rest % d.chunk[a];
                rest /= d.chunk[a];
            }
            for a in 0..d.chunk.len() {
                let x = offset[a] + idx[a];
                inside &= x < d.dims[a];
                src = src * d.dims[a] + x;
                dst = dst * d.chunk[a] + idx[a];
            }
            if inside {
                let (s, t) = (src as usize * e, dst as usize * e);
                out[t..t + e].copy_from_slice(&all[s..s + e]);
            }
        }
        out
    }

    /// Writes the cases at the root of a new file, one batch.
    fn write(path: &Path, cases: &[Case]) {
        let mut f = NativeFile::create(path, &[], false).unwrap();
        let mut b = Buf::default();
        let mut members = Vec::new();
        let base = f.eof;
        for c in cases {
            // Strings: one collection, then the references.
            let elements: Vec<u8> = if c.d.dtype == Dtype::VlenStr {
                let gcol = encode::global_heap(&mut b, c.strings.iter().map(|s| s.as_bytes()));
                let mut refs = Buf::default();
                for (i, s) in c.strings.iter().enumerate() {
                    encode::vlen_ref(&mut refs, s.len(), Addr::Abs(base + gcol), i as u32 + 1);
                }
                refs.bytes
            } else {
                bytemuck::cast_slice(&c.floats).to_vec()
            };
            let offsets = c.d.chunk_offsets();
            let raw: Vec<Vec<u8>> = offsets.iter().map(|o| gather(&c.d, &elements, o)).collect();
            let raw: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
            let stored = match c.d.deflate {
                Some(level) => deflate_chunks(path, c.name, &raw, level).unwrap(),
                None => raw.iter().map(|r| r.to_vec()).collect(),
            };
            let mut chunks = Vec::new();
            for (offset, bytes) in offsets.into_iter().zip(&stored) {
                let addr = base + b.here();
                b.put(bytes);
                b.pad8();
                chunks.push(ChunkRef { offset, addr, size: bytes.len() as u32, filter_mask: 0 });
            }
            // Reversed: the B-tree sorts them.
            chunks.reverse();
            let before = b.here();
            let tree = c.d.btree(&mut b, &chunks);
            assert_eq!(b.here() - before, c.d.btree_size(chunks.len()), "{}", c.name);
            let header = c.d.header(&mut b, tree);
            members.push((
                c.name.to_string(),
                Entry { name: 0, header: Addr::Abs(base + header), group: None },
            ));
        }
        let end = base + b.here();
        let bytes = b.relocate(base);
        f.io.write_at(base, &[&bytes]).unwrap();
        f.commit_batch(members, end).unwrap();
        f.finish().unwrap();
    }

    #[test]
    fn libhdf5_reads_chunked_datasets_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunked.h5");
        let cases = cases();
        write(&path, &cases);
        let file = hdf5::File::open(&path).unwrap();
        for c in &cases {
            let ds = file.dataset(c.name).unwrap();
            let dims: Vec<usize> = c.d.dims.iter().map(|&d| d as usize).collect();
            assert_eq!(ds.shape(), dims, "{}", c.name);
            let chunk: Vec<usize> = c.d.chunk.iter().map(|&d| d as usize).collect();
            assert_eq!(ds.chunk(), Some(chunk), "{}", c.name);
            let filters: Vec<_> =
                c.d.deflate.map(hdf5::filters::Filter::Deflate).into_iter().collect();
            assert_eq!(ds.filters(), filters, "{}", c.name);
            let max: Vec<Option<usize>> =
                c.d.maxdims.iter().map(|m| m.map(|m| m as usize)).collect();
            assert_eq!(ds.space().unwrap().maxdims(), max, "{}", c.name);
            if c.d.dtype == Dtype::F32 {
                let got: Vec<f32> = ds.read_raw().unwrap();
                assert!(got == c.floats, "{}: values differ", c.name);
            } else {
                let got: Vec<VarLenUnicode> = ds.read_raw().unwrap();
                let got: Vec<&str> = got.iter().map(|s| s.as_str()).collect();
                assert_eq!(got, c.strings, "{}", c.name);
            }
        }
    }

    /// Both pinned h5py versions read the datasets as written.
    #[test]
    fn h5py_reads_chunked_datasets_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunked.h5");
        let cases = cases();
        write(&path, &cases);
        let mut want = String::new();
        for c in &cases {
            let max: Vec<String> =
                c.d.maxdims.iter().map(|m| m.map_or("None".into(), |m| m.to_string())).collect();
            let z = if c.d.deflate.is_some() { "gzip 4" } else { "None None" };
            want += &format!("{} {:?} {:?} {:?} {z} ", c.name, c.d.dims, max, c.d.chunk);
            if c.d.dtype == Dtype::F32 {
                let sum = c.floats.iter().fold(0.0, |s, &x| s + f64::from(x));
                want += &format!("{sum:.1}\n");
            } else {
                want += &format!("{}\n", c.strings.join("|"));
            }
        }
        for python in [test_support::python(), test_support::old_h5py_python()] {
            let out = test_support::run_python_code_with(&python, H5PY_READ, &[&path]);
            assert_eq!(out, want, "{}", python.display());
        }
    }

    const H5PY_READ: &str = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    for name in ["f_one", "f_gz", "f_grow", "f_deep", "f_empty", "s_gz", "s_one"]:
        d = f[name]
        shape = "[" + ", ".join(str(x) for x in d.shape) + "]"
        chunks = "[" + ", ".join(str(x) for x in d.chunks) + "]"
        maxs = "[" + ", ".join('"%s"' % x for x in d.maxshape) + "]"
        head = f"{name} {shape} {maxs} {chunks} {d.compression} {d.compression_opts}"
        if d.dtype.kind == "f":
            print(head, "%.1f" % float(d[()].astype(np.float64).sum()))
        else:
            print(head, "|".join(s.decode() for s in d[()]))
"#;
}
