//! `caption_db.hdf5` in the original's layout (and HAAV's, whose `features` are `values`)
//! written without the HDF5 library: per batch a
//! group `"0"`, `"1"`, ... at the root with `keys`, `features` (float32 rows) and `captions`
//! (and `sources`, when the rows have them: variable-length strings), each compressed as h5py's
//! `create_dataset(..., compression="gzip")` writes it (chunks of h5py's `guess_chunk`, deflate
//! level 4). A batch is new objects only, appended after the file's end and committed by the
//! superblock ([`NativeFile`]).

use std::path::Path;

use super::chunked::{self, ChunkRef, Chunked, Dtype};
use super::encode::{self, Addr, Buf, Entry};
use super::file::{NativeFile, RootAttr, io};
use crate::error::{Error, Result};
use crate::gzip_chunks::{F32Array, Packer};
use crate::gzip_chunks::{H5PY_GZIP_LEVEL, guess_chunk};
use crate::schema;
use crate::testing::{self, WritePoint};

/// Objects of one global heap collection (their index is 16 bits).
const COLLECTION_OBJECTS: usize = 65_535;
/// numpy's item size of h5py's string arrays (objects), which `guess_chunk` counts.
const STRING_ITEMSIZE: usize = 8;

/// A `caption_db.hdf5` (original layout) being written by this module.
pub(crate) struct NativeCaptionGroups {
    f: NativeFile,
    packer: Packer,
    /// The name of the second float dataset (`features`, HAAV's `values`).
    second: &'static str,
    /// Batch groups in the file.
    batches: usize,
    /// Rows in the file, for the test recording's commit marks.
    rows: u64,
}

impl NativeCaptionGroups {
    /// Creates `path` with the string root `attributes`; `second`: the second float dataset's
    /// name.
    pub(crate) fn create(
        path: &Path,
        attributes: &[(&str, &str)],
        second: &'static str,
        overwrite: bool,
    ) -> Result<Self> {
        let attrs: Vec<RootAttr> = attributes.iter().map(|&(n, v)| RootAttr::Str(n, v)).collect();
        let f = NativeFile::create(path, &attrs, overwrite)?;
        let packer = Packer::new(path, H5PY_GZIP_LEVEL);
        Ok(Self { f, packer, second, batches: 0, rows: 0 })
    }

    /// Opens an existing file of `batches` groups holding `rows` rows to add batches, if it is
    /// in h5py's default format (`None` otherwise).
    pub(crate) fn append(
        path: &Path,
        second: &'static str,
        batches: usize,
        rows: usize,
    ) -> Result<Option<Self>> {
        let keep = |name: &str| name.parse::<usize>().is_ok_and(|b| b < batches);
        Ok(NativeFile::append(path, keep)?.map(|f| Self {
            f,
            packer: Packer::new(path, H5PY_GZIP_LEVEL),
            second,
            batches,
            rows: rows as u64,
        }))
    }

    /// Appends batch group `"B"` (checked by the caller: `keys` and `features` hold
    /// `captions.len()` rows, `sources` as many when the rows have them) and commits it.
    pub(crate) fn write_batch(
        &mut self,
        (keys, key_dim): (&[f32], usize),
        (features, feature_dim): (&[f32], usize),
        captions: &[&str],
        sources: Option<&[&str]>,
    ) -> Result<()> {
        let n = captions.len();
        let name = self.batches.to_string();
        let path = self.f.path.clone();
        if n == 0 {
            return Err(Error::Input {
                path,
                object: name,
                message: "an empty batch (gzip datasets cannot be empty)".into(),
            });
        }
        let obj = |d: &str| format!("{name}/{d}");
        let rows = |d: &str, data, width| F32Array {
            name: d.to_owned(),
            object: obj(d),
            data,
            shape: vec![n, width],
        };
        let floats = [rows(schema::KEYS, keys, key_dim), rows(self.second, features, feature_dim)];
        let staged = self.packer.stage(&floats)?;
        testing::at(WritePoint::Entry(0));
        let eof = self.f.eof;
        let mut b = Buf::with_capacity(0, 64 * 1024);
        // The strings' collections first: their addresses go into the chunks compressed below.
        let texts: Vec<(&str, &[&str])> = std::iter::once((schema::CAPTIONS, captions))
            .chain(sources.map(|s| (schema::SOURCES, s)))
            .collect();
        let all: Vec<&[u8]> =
            texts.iter().flat_map(|(_, t)| t.iter().map(|s| s.as_bytes())).collect();
        let collections: Vec<u64> = all
            .chunks(COLLECTION_OBJECTS)
            .map(|c| eof + encode::global_heap(&mut b, c.iter().copied()))
            .collect();
        let mut members = Vec::with_capacity(4);
        for (i, f) in floats.iter().enumerate() {
            let (chunk, stored) = staged.chunks(i);
            let shape: Vec<u64> = f.shape.iter().map(|&x| x as u64).collect();
            let chunk: Vec<u64> = chunk.iter().map(|&x| x as u64).collect();
            let d = Chunked::fixed(Dtype::F32, &shape, &chunk, Some(H5PY_GZIP_LEVEL));
            members.push((f.name.as_str(), dataset(&mut b, eof, &d, stored)));
        }
        testing::at(WritePoint::Entry(1));
        let mut index = 0;
        for (dataset_name, t) in &texts {
            let mut refs = Buf::with_capacity(0, t.len() * 16);
            for s in t.iter() {
                let (c, i) = (index / COLLECTION_OBJECTS, index % COLLECTION_OBJECTS);
                encode::vlen_ref(&mut refs, s.len(), Addr::Abs(collections[c]), i as u32 + 1);
                index += 1;
            }
            let chunk = guess_chunk(&[n], STRING_ITEMSIZE)[0];
            let mut raw: Vec<Vec<u8>> = refs.bytes.chunks(chunk * 16).map(<[u8]>::to_vec).collect();
            if let Some(last) = raw.last_mut() {
                last.resize(chunk * 16, 0); // the fill value beyond the dataset's end
            }
            let raw: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
            let stored = chunked::deflate_chunks(&path, &obj(dataset_name), &raw, H5PY_GZIP_LEVEL)?;
            let d =
                Chunked::fixed(Dtype::VlenStr, &[n as u64], &[chunk as u64], Some(H5PY_GZIP_LEVEL));
            members.push((*dataset_name, dataset(&mut b, eof, &d, &stored)));
        }
        let group = encode::small_group(&mut b, &members);
        let abs = |a: Addr| match a {
            Addr::Rel(r) => Addr::Abs(eof + r),
            a => a,
        };
        let group = Entry {
            name: 0,
            header: abs(group.header),
            group: group.group.map(|(tree, heap)| (abs(tree), abs(heap))),
        };
        let end = eof + b.here();
        let bytes = b.relocate(eof);
        testing::at(WritePoint::Entry(2));
        self.f.io.write_at(eof, &[&bytes]).map_err(io(&path, "/"))?;
        self.rows += n as u64;
        self.f.progress = Some(self.rows);
        self.f.commit_batch([(name, group)], end)?;
        self.batches += 1;
        tracing::debug!(n, batches = self.batches, "caption_db batch group written");
        Ok(())
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}

/// A compressed dataset `d` of `stored` chunks (row-major order of their positions): the chunks,
/// its B-tree and object header appended to `b` (whose region starts at `eof`); its entry.
fn dataset(b: &mut Buf, eof: u64, d: &Chunked, stored: &[Vec<u8>]) -> Entry {
    let mut chunks = Vec::with_capacity(stored.len());
    for (offset, bytes) in d.chunk_offsets().into_iter().zip(stored) {
        let addr = eof + b.here();
        b.put(bytes);
        b.pad8();
        chunks.push(ChunkRef { offset, addr, size: bytes.len() as u32, filter_mask: 0 });
    }
    let tree = d.btree(b, &chunks);
    let header = d.header(b, tree);
    Entry { name: 0, header: Addr::Rel(header), group: None }
}
