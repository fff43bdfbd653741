//! HAAV's `vis_ctx.hdf5` written as h5py writes it with HAAV's `encode_images.py`: root
//! attributes `fdim_pooled` and `fdim_grid` (int64) and the provenance strings; per image a
//! group holding `pooled_features (fdim_pooled,)` and `grid_features (tokens, fdim_grid)`,
//! float32, gzip-compressed in h5py's chunks. A batch is one write (its chunks, compressed on
//! rayon's threads, then the chunk indices, dataset headers and image groups), committed by the
//! superblock ([`NativeFile`]).

use std::path::Path;

use super::encode::{self, Buf};
use super::file::{NativeFile, RootAttr, io};
use super::gzip_batch::{self, Stored};
use crate::error::Result;
use crate::gzip_chunks;
use crate::id::ImageId;
use crate::schema;
use crate::testing::{self, WritePoint};

/// A HAAV `vis_ctx.hdf5` being written by this module.
pub(crate) struct NativeHaavVis {
    f: NativeFile,
    packer: gzip_chunks::Packer,
}

/// One batch: each image's name, then its grids and pooled vectors back to back.
pub(crate) struct VisBatch<'a> {
    pub(crate) names: &'a [String],
    pub(crate) tokens: usize,
    pub(crate) fdim_grid: usize,
    pub(crate) fdim_pooled: usize,
    pub(crate) grid: &'a [f32],
    pub(crate) pooled: &'a [f32],
}

impl NativeHaavVis {
    /// Creates `path` with root attributes `attributes`, in this order.
    pub(crate) fn create(path: &Path, attributes: &[RootAttr], overwrite: bool) -> Result<Self> {
        let f = NativeFile::create(path, attributes, overwrite)?;
        Ok(Self { packer: gzip_chunks::Packer::new(path, gzip_chunks::H5PY_GZIP_LEVEL), f })
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise); `ids` are its complete images (read by the caller through HDF5), any other
    /// member of the root group is dropped from the index, to be written again.
    pub(crate) fn append(path: &Path, ids: &[ImageId]) -> Result<Option<Self>> {
        let keep: std::collections::HashSet<&str> = ids.iter().map(ImageId::as_str).collect();
        let packer = gzip_chunks::Packer::new(path, gzip_chunks::H5PY_GZIP_LEVEL);
        Ok(NativeFile::append(path, |name| keep.contains(name))?.map(|f| Self { f, packer }))
    }

    /// Writes a batch (its sizes checked by the caller) in one write, and commits it.
    pub(crate) fn write_batch(&mut self, b: &VisBatch<'_>) -> Result<()> {
        self.f.check_new(b.names.iter().map(String::as_str))?;
        if b.names.is_empty() {
            return Ok(());
        }
        let (gsize, psize) = (b.tokens * b.fdim_grid, b.fdim_pooled);
        // Each image's two datasets, in the order HAAV's script writes them.
        let arrays: Vec<gzip_chunks::F32Array<'_>> = b
            .names
            .iter()
            .enumerate()
            .flat_map(|(i, id)| {
                [
                    (schema::POOLED_FEATURES, &b.pooled[i * psize..(i + 1) * psize], vec![psize]),
                    (
                        schema::GRID_FEATURES,
                        &b.grid[i * gsize..(i + 1) * gsize],
                        vec![b.tokens, b.fdim_grid],
                    ),
                ]
                .map(|(name, data, shape)| gzip_chunks::F32Array {
                    name: name.to_owned(),
                    object: format!("{id}/{name}"),
                    data,
                    shape,
                })
            })
            .collect();
        let stored: Vec<Stored> = gzip_batch::f32_datasets(&self.packer, &arrays)?;
        let start = self.f.eof;
        let (refs, meta_at) = gzip_batch::place(start, &stored);
        let mut meta = Buf::default();
        let mut members = Vec::with_capacity(b.names.len());
        for (i, name) in b.names.iter().enumerate() {
            let datasets: Vec<(&str, encode::Entry)> = (2 * i..2 * i + 2)
                .map(|j| (schema_name(j), gzip_batch::dataset(&mut meta, &stored[j], &refs[j])))
                .collect();
            let group = encode::small_group(&mut meta, &datasets);
            members.push((name.clone(), gzip_batch::absolute(group, meta_at)));
            testing::at(WritePoint::Entry(i));
        }
        let end = meta_at + meta.here();
        let meta = meta.relocate(meta_at);
        let mut slices = gzip_batch::chunk_slices(&stored);
        slices.push(&meta);
        self.f.io.write_at(start, &slices).map_err(io(&self.f.path, "/"))?;
        self.f.commit_batch(members, end)?;
        tracing::debug!(n = b.names.len(), "HAAV vis_ctx batch written");
        Ok(())
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}

/// The name of an image's dataset `j` (pooled, then grid).
fn schema_name(j: usize) -> &'static str {
    if j.is_multiple_of(2) { schema::POOLED_FEATURES } else { schema::GRID_FEATURES }
}
