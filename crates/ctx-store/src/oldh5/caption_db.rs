//! `caption_db.hdf5` in the contiguous layout written without the HDF5 library: root datasets
//! `keys`, `features` (float32 rows, chunks of [`CHUNK_ROWS`] rows, uncompressed), `captions`
//! and, when the rows have them, `sources` (variable-length strings, chunks of 8 ×
//! [`CHUNK_ROWS`]), every one with an unlimited first axis, grown batch by batch.
//!
//! Each chunk is allocated once at its full size; a batch writes its rows into the chunks'
//! bytes no committed row uses (the rest of the last chunk, in place, then new chunks after the
//! file's end), its strings into new global heap collections, then new B-trees (where chunks
//! were added) and new object headers whose dataspaces count the new rows, all after the end,
//! and commits ([`NativeFile`]): the committed state never shows the bytes a batch writes
//! before its commit.

use std::path::Path;

use super::chunked::{ChunkRef, Chunked, Dtype};
use super::encode::{self, Addr, Buf, Entry};
use super::file::{NativeFile, RootAttr, io};
use crate::error::Result;
use crate::schema;
use crate::testing::{self, WritePoint};

/// Rows per chunk of the float datasets (the strings' chunks hold 8 times as many).
pub(crate) const CHUNK_ROWS: u64 = 2048;
/// Objects of one global heap collection (their index is 16 bits).
const COLLECTION_OBJECTS: usize = 65_535;

const _: () = assert!(cfg!(target_endian = "little"), "floats are written as they lie in memory");

/// One growing dataset: its description (rows so far) and its chunks, in row order.
pub(crate) struct Growing {
    pub(crate) name: &'static str,
    pub(crate) d: Chunked,
    pub(crate) chunks: Vec<ChunkRef>,
}

impl Growing {
    /// An empty dataset of `width`-wide float rows (`None`: strings).
    pub(crate) fn new(name: &'static str, width: Option<usize>) -> Self {
        let d = match width {
            Some(w) => Chunked {
                dtype: Dtype::F32,
                dims: vec![0, w as u64],
                maxdims: vec![None, Some(w as u64)],
                chunk: vec![CHUNK_ROWS, (w as u64).max(1)],
                deflate: None,
            },
            None => Chunked {
                dtype: Dtype::VlenStr,
                dims: vec![0],
                maxdims: vec![None],
                chunk: vec![CHUNK_ROWS * 8],
                deflate: None,
            },
        };
        Self { name, d, chunks: Vec::new() }
    }

    fn row_bytes(&self) -> u64 {
        self.d.chunk[1..].iter().product::<u64>() * self.d.dtype.size()
    }

    fn rows(&self) -> u64 {
        self.d.dims[0]
    }
}

/// A `caption_db.hdf5` (contiguous layout) being written by this module.
pub(crate) struct NativeCaptionDb {
    f: NativeFile,
    /// `keys`, `features`, `captions`.
    sets: [Growing; 3],
    sources: Option<Growing>,
}

/// Where a batch's bytes go: writes into committed chunks' unused bytes and into new chunks
/// (address, bytes), and the new chunks' space after the file's end.
struct Placed {
    writes: Vec<(u64, Vec<u8>)>,
    reserved: u64,
}

impl NativeCaptionDb {
    /// Creates `path` with the string root `attributes` and the empty datasets.
    pub(crate) fn create(
        path: &Path,
        attributes: &[(&str, &str)],
        key_dim: usize,
        feature_dim: usize,
        overwrite: bool,
    ) -> Result<Self> {
        let attrs: Vec<RootAttr> = attributes.iter().map(|&(n, v)| RootAttr::Str(n, v)).collect();
        let sets = [
            Growing::new(schema::KEYS, Some(key_dim)),
            Growing::new(schema::FEATURES, Some(feature_dim)),
            Growing::new(schema::CAPTIONS, None),
        ];
        // The empty datasets are in the file's first commit.
        let f = NativeFile::create_with(path, &attrs, overwrite, |eof| {
            let mut meta = Buf::default();
            let members = headers(sets.iter(), &mut meta, eof);
            (meta.relocate(eof), members)
        })?;
        Ok(Self { f, sets, sources: None })
    }

    /// Opens an existing file to add rows, if it is in h5py's default format (`None`
    /// otherwise); `sets` and `sources`: its datasets as they are (read by the caller through
    /// HDF5).
    pub(crate) fn append(
        path: &Path,
        sets: [Growing; 3],
        sources: Option<Growing>,
    ) -> Result<Option<Self>> {
        Ok(NativeFile::append(path, |_| true)?.map(|f| Self { f, sets, sources }))
    }

    /// Appends one batch (checked by the caller: `keys` and `features` hold `captions.len()`
    /// rows, `sources` as many when the rows have them) and commits it.
    pub(crate) fn write_batch(
        &mut self,
        keys: &[f32],
        features: &[f32],
        captions: &[&str],
        sources: Option<&[&str]>,
    ) -> Result<()> {
        let n = captions.len() as u64;
        let start = self.sets[0].rows();
        if sources.is_some() && self.sources.is_none() {
            self.sources = Some(Growing::new(schema::SOURCES, None));
        }
        // Strings first, in collections after the new chunks: their references are the rows.
        let texts: Vec<&[&str]> = std::iter::once(captions).chain(sources).collect();
        let mut strings = Vec::new();
        for t in &texts {
            strings.extend(t.iter().map(|s| s.as_bytes()));
        }
        let mut placed = Placed { writes: Vec::new(), reserved: 0 };
        let keys_bytes: &[u8] = bytemuck::cast_slice(keys);
        let features_bytes: &[u8] = bytemuck::cast_slice(features);
        let eof = self.f.eof;
        let [k, f, c] = &mut self.sets;
        place(k, start, n, keys_bytes, eof, &mut placed);
        testing::at(WritePoint::Entry(0));
        place(f, start, n, features_bytes, eof, &mut placed);
        testing::at(WritePoint::Entry(1));
        // The collections' addresses are known once every new chunk is placed.
        let string_sets: Vec<&mut Growing> =
            std::iter::once(c).chain(self.sources.as_mut()).collect();
        let new_chunks: u64 =
            string_sets.iter().map(|g| new_chunks(g, start, n) * g.d.chunk_bytes()).sum::<u64>();
        let mut meta = Buf::with_capacity(placed.reserved + new_chunks, 64 * 1024);
        let collections: Vec<u64> = strings
            .chunks(COLLECTION_OBJECTS)
            .map(|c| eof + encode::global_heap(&mut meta, c.iter().copied()))
            .collect();
        let mut index = 0;
        for (g, t) in string_sets.into_iter().zip(&texts) {
            let mut refs = Buf::with_capacity(0, t.len() * 16);
            for s in t.iter() {
                let (col, i) = (index / COLLECTION_OBJECTS, index % COLLECTION_OBJECTS);
                encode::vlen_ref(&mut refs, s.len(), Addr::Abs(collections[col]), i as u32 + 1);
                index += 1;
            }
            place(g, start, n, &refs.bytes, eof, &mut placed);
        }
        debug_assert_eq!(placed.reserved, meta.here() - meta.bytes.len() as u64);
        testing::at(WritePoint::Entry(2));
        self.commit(placed, meta.bytes)
    }

    /// Writes the batch's rows (`placed`), then after the file's end its collections
    /// (`strings`, laid out after the new chunks), each dataset's B-tree and object header, and
    /// commits them.
    fn commit(&mut self, placed: Placed, strings: Vec<u8>) -> Result<()> {
        let eof = self.f.eof;
        let path = self.f.path.clone();
        for (at, bytes) in &placed.writes {
            self.f.io.write_at(*at, &[bytes]).map_err(io(&path, "/"))?;
        }
        let origin = placed.reserved + strings.len() as u64;
        let mut meta = Buf::with_capacity(origin, 16 * 1024);
        let members = headers(self.sets.iter().chain(&self.sources), &mut meta, eof);
        let end = eof + meta.here();
        let tail = meta.relocate(eof);
        let at = eof + placed.reserved;
        self.f.io.write_at(at, &[&strings, &tail]).map_err(io(&path, "/"))?;
        self.f.progress = Some(self.sets[0].rows());
        self.f.commit_replacing(members, end)
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}

/// Each dataset's B-tree and object header, appended to `meta` (whose region starts at `eof`);
/// returns their root entries.
fn headers<'g>(
    sets: impl Iterator<Item = &'g Growing>,
    meta: &mut Buf,
    eof: u64,
) -> Vec<(String, Entry)> {
    sets.map(|g| {
        let tree = g.d.btree(meta, &g.chunks);
        let header = eof + g.d.header(meta, tree);
        (g.name.to_owned(), Entry { name: 0, header: Addr::Abs(header), group: None })
    })
    .collect()
}

/// Chunks `g` needs for rows `start..start + n` that it does not have.
fn new_chunks(g: &Growing, start: u64, n: u64) -> u64 {
    let rows = g.d.chunk[0];
    ((start + n).div_ceil(rows)).saturating_sub(g.chunks.len() as u64)
}

/// Places rows `start..start + n` of `g` (`bytes`, row-major): into the unused bytes of its
/// last chunk, then into new chunks reserved after `eof`; `g` then counts them.
fn place(g: &mut Growing, start: u64, n: u64, bytes: &[u8], eof: u64, placed: &mut Placed) {
    let per = g.d.chunk[0];
    let row = g.row_bytes();
    debug_assert_eq!(bytes.len() as u64, n * row);
    let mut r = start;
    while r < start + n {
        let ci = (r / per) as usize;
        if ci == g.chunks.len() {
            let size = g.d.chunk_bytes();
            let mut offset = vec![0; g.d.chunk.len()];
            offset[0] = ci as u64 * per;
            g.chunks.push(ChunkRef {
                offset,
                addr: eof + placed.reserved,
                size: size as u32,
                filter_mask: 0,
            });
            placed.reserved += size.next_multiple_of(8);
        }
        let upto = ((ci as u64 + 1) * per).min(start + n);
        let at = g.chunks[ci].addr + (r - ci as u64 * per) * row;
        let from = ((r - start) * row) as usize;
        let to = ((upto - start) * row) as usize;
        if to > from {
            placed.writes.push((at, bytes[from..to].to_vec()));
        }
        r = upto;
    }
    g.d.dims[0] = start + n;
}
