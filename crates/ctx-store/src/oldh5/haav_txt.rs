//! HAAV's `txt_ctx.hdf5` written as h5py writes it with HAAV's `retrieve_captions.py`: the
//! provenance strings and `fdim` (int64) at the root; per image a group holding `whole`, `five`
//! and `nine`, each with `features` and `scores` (float32) and `texts` (variable-length UTF-8),
//! gzip-compressed in h5py's chunks.
//!
//! A batch is one write: the texts of every image (a global heap collection per image, more for
//! over 65,535 texts), which places them before anything refers to them; then every chunk
//! (floats and the texts' references, compressed on rayon's threads); then the chunk indices,
//! dataset headers and groups. The superblock commits it ([`NativeFile`]).

use std::path::Path;

use super::encode::{self, Addr, Buf, Entry};
use super::file::{NativeFile, RootAttr, io};
use super::gzip_batch::{self, Stored};
use crate::bounds;
use crate::entry::TxtEntry;
use crate::error::{Error, Result};
use crate::gzip_chunks;
use crate::id::ImageId;
use crate::schema::{self, View};
use crate::testing::{self, WritePoint};

/// Objects per global heap collection (their indices are 16-bit).
const COLLECTION_OBJECTS: usize = 65_535;

/// A HAAV `txt_ctx.hdf5` being written by this module.
pub(crate) struct NativeHaavTxt {
    f: NativeFile,
    packer: gzip_chunks::Packer,
}

impl NativeHaavTxt {
    /// Creates `path` with root attributes `attributes`, in this order.
    pub(crate) fn create(path: &Path, attributes: &[RootAttr], overwrite: bool) -> Result<Self> {
        let f = NativeFile::create(path, attributes, overwrite)?;
        Ok(Self { packer: gzip_chunks::Packer::new(path, gzip_chunks::H5PY_GZIP_LEVEL), f })
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise); `complete` are its complete images (read by the caller through HDF5), any
    /// other member of the root group is dropped from the index, to be written again.
    pub(crate) fn append(path: &Path, complete: &[ImageId]) -> Result<Option<Self>> {
        let keep: std::collections::HashSet<&str> = complete.iter().map(ImageId::as_str).collect();
        let packer = gzip_chunks::Packer::new(path, gzip_chunks::H5PY_GZIP_LEVEL);
        Ok(NativeFile::append(path, |name| keep.contains(name))?.map(|f| Self { f, packer }))
    }

    /// Writes a batch of images (HAAV's layout checked by the caller) in one write, and commits
    /// it.
    pub(crate) fn write_batch(&mut self, entries: &[TxtEntry], names: &[String]) -> Result<()> {
        self.f.check_new(names.iter().map(String::as_str))?;
        if entries.is_empty() {
            return Ok(());
        }
        let path = self.f.path.clone();
        let mut arrays = Vec::with_capacity(entries.len() * 6);
        for e in entries {
            for view in View::ALL {
                let v = e.view(view);
                let shape = view.shape(v.k);
                let fshape = [shape.as_slice(), &[v.d]].concat();
                for (name, data, shape) in
                    [(schema::FEATURES, &v.features, fshape), (schema::SCORES, &v.scores, shape)]
                {
                    let object = schema::txt_object(&e.id, view, name);
                    bounds::check_len(&path, &object, &shape, data.len())?;
                    let name = name.to_owned();
                    arrays.push(gzip_chunks::F32Array { name, object, data, shape });
                }
                let object = schema::txt_object(&e.id, view, schema::TEXTS);
                bounds::check_len(&path, &object, &view.shape(v.k), v.texts.len())?;
                if let Some(t) = v.texts.iter().find(|t| t.contains('\0')) {
                    return Err(Error::Input {
                        path,
                        object,
                        message: format!("text {t:?} holds a NUL byte, which HDF5 strings cannot"),
                    });
                }
            }
        }
        // The texts first, at known addresses, so that their references can be compressed.
        let start = self.f.eof;
        let mut heaps = Buf::default();
        let mut refs = Vec::with_capacity(entries.len() * 3);
        for e in entries {
            let texts: Vec<&str> = View::ALL
                .iter()
                .flat_map(|&v| e.view(v).texts.iter().map(String::as_str))
                .collect();
            let collections: Vec<u64> = texts
                .chunks(COLLECTION_OBJECTS)
                .map(|c| start + encode::global_heap(&mut heaps, c.iter().map(|t| t.as_bytes())))
                .collect();
            let mut index = 0;
            for view in View::ALL {
                let v = e.view(view);
                let mut b = Buf::default();
                for t in &v.texts {
                    let (c, i) = (index / COLLECTION_OBJECTS, index % COLLECTION_OBJECTS);
                    encode::vlen_ref(&mut b, t.len(), Addr::Abs(collections[c]), i as u32 + 1);
                    index += 1;
                }
                refs.push((view.shape(v.k), b.bytes));
            }
        }
        let floats = gzip_batch::f32_datasets(&self.packer, &arrays)?;
        let texts = gzip_batch::string_datasets(&path, "/", &refs)?;
        // Per image and view: features, scores, texts.
        let mut floats = floats.into_iter();
        let mut texts = texts.into_iter();
        let stored: Vec<Stored> = (0..entries.len() * 3)
            .flat_map(|_| {
                let f = floats.by_ref().take(2).collect::<Vec<_>>();
                f.into_iter().chain(texts.next())
            })
            .collect();
        let chunks_at = start + heaps.here();
        let (chunk_refs, meta_at) = gzip_batch::place(chunks_at, &stored);
        let mut meta = Buf::default();
        let mut members = Vec::with_capacity(entries.len());
        let mut next = stored.iter().zip(&chunk_refs);
        for (i, name) in names.iter().enumerate() {
            let mut views = Vec::with_capacity(3);
            for view in View::ALL {
                let datasets: Vec<(&str, Entry)> =
                    [schema::FEATURES, schema::SCORES, schema::TEXTS]
                        .into_iter()
                        .zip(next.by_ref())
                        .map(|(n, (s, r))| (n, gzip_batch::dataset(&mut meta, s, r)))
                        .collect();
                views.push((view.name(), encode::small_group(&mut meta, &datasets)));
            }
            let group = encode::small_group(&mut meta, &views);
            members.push((name.clone(), gzip_batch::absolute(group, meta_at)));
            testing::at(WritePoint::Entry(i));
        }
        let end = meta_at + meta.here();
        let meta = meta.relocate(meta_at);
        let heaps = heaps.relocate(start);
        let mut slices = vec![&heaps[..]];
        slices.extend(gzip_batch::chunk_slices(&stored));
        slices.push(&meta);
        self.f.io.write_at(start, &slices).map_err(io(&path, "/"))?;
        self.f.commit_batch(members, end)?;
        tracing::debug!(n = entries.len(), "HAAV txt_ctx batch written");
        Ok(())
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}
