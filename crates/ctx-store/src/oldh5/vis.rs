//! `vis_ctx.hdf5` written as h5py writes the original's: root attribute `fdim` (int64), and per
//! image a contiguous float32 `(fdim,)` dataset named by its id at the root. A batch is one
//! write (each image's floats, then its object header), committed by the superblock
//! ([`NativeFile`]).

use std::path::Path;

use super::encode::{self, Addr, Buf, Entry};
use super::file::{NativeFile, RootAttr, io};
use crate::error::Result;
use crate::id::ImageId;
use crate::testing::{self, WritePoint};

const _: () = assert!(cfg!(target_endian = "little"), "floats are written as they lie in memory");

/// A `vis_ctx.hdf5` being written by this module.
pub(crate) struct NativeVis {
    f: NativeFile,
    fdim: usize,
}

impl NativeVis {
    /// Creates `path` with root attributes `fdim` and then the string `attributes`.
    pub(crate) fn create(
        path: &Path,
        fdim: usize,
        fdim_attr: (&str, i64),
        attributes: &[(&str, &str)],
        overwrite: bool,
    ) -> Result<Self> {
        let mut all = vec![RootAttr::I64(fdim_attr.0, fdim_attr.1)];
        all.extend(attributes.iter().map(|&(name, value)| RootAttr::Str(name, value)));
        Ok(Self { f: NativeFile::create(path, &all, overwrite)?, fdim })
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise); `ids` are its images (read by the caller through HDF5), any other member of
    /// the root group is dropped from the index.
    pub(crate) fn append(path: &Path, fdim: usize, ids: &[ImageId]) -> Result<Option<Self>> {
        let keep: std::collections::HashSet<&str> = ids.iter().map(ImageId::as_str).collect();
        Ok(NativeFile::append(path, |name| keep.contains(name))?.map(|f| Self { f, fdim }))
    }

    /// Writes images `names` (`features`: their vectors back to back; both checked by the
    /// caller) in one write, and commits them.
    pub(crate) fn write_batch(&mut self, names: &[String], features: &[f32]) -> Result<()> {
        self.f.check_new(names.iter().map(String::as_str))?;
        let floats = self.fdim * 4;
        let aligned = floats.next_multiple_of(8);
        let pad = [0u8; 8];
        let mut headers = Vec::with_capacity(names.len());
        let mut members = Vec::with_capacity(names.len());
        let mut at = self.f.eof;
        for (i, name) in names.iter().enumerate() {
            let mut b = Buf::with_capacity(aligned as u64, 128);
            let data = if floats == 0 { Addr::Abs(super::UNDEF) } else { Addr::Rel(0) };
            let messages = vec![
                encode::dataspace(&[self.fdim]),
                encode::f32_type(),
                encode::fill_value(false),
                encode::contiguous(data, floats as u64),
            ];
            let header = encode::object_header(&mut b, messages);
            let len = b.here();
            headers.push(b.relocate(at));
            members.push((
                name.clone(),
                Entry { name: 0, header: Addr::Abs(at + header), group: None },
            ));
            at += len;
            testing::at(WritePoint::Entry(i));
        }
        let mut slices: Vec<&[u8]> = Vec::with_capacity(3 * names.len());
        for (i, header) in headers.iter().enumerate() {
            let row = &features[i * self.fdim..(i + 1) * self.fdim];
            slices.push(bytemuck::cast_slice(row));
            slices.push(&pad[..aligned - floats]);
            slices.push(header);
        }
        let start = self.f.eof;
        self.f.io.write_at(start, &slices).map_err(io(&self.f.path, "/"))?;
        self.f.commit_batch(members, at)?;
        tracing::debug!(n = names.len(), "vis_ctx batch written");
        Ok(())
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}
