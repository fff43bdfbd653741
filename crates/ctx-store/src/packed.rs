//! Gzip-compressed float32 datasets, as h5py's `create_dataset(..., compression="gzip")` lays
//! them out (chunks of h5py's `guess_chunk`, deflate level 4), with the chunks compressed on
//! rayon's threads instead of HDF5's one: the compressed chunks go into a small HDF5 file of
//! their own (`minih5`), next to the output, and HDF5's object copy (H5Ocopy, which copies
//! compressed chunks as they are) puts each dataset into the output. HDF5 does every write to
//! the output, so its flushes keep the crash behaviour of the serial writer.

use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};
use hdf5::Group;
use rayon::prelude::*;

use crate::h5::h5err;
use crate::minih5::{self, ChunkedF32};
use crate::{Error, Result};

/// A float32 dataset to write: name and object (for errors), rows of `width` values.
pub(crate) struct F32Rows<'d> {
    pub(crate) name: &'d str,
    pub(crate) object: String,
    pub(crate) data: &'d [f32],
    pub(crate) width: usize,
}

/// The scratch file of one output, removed when dropped.
pub(crate) struct Packer {
    /// The output, for errors.
    path: PathBuf,
    scratch: PathBuf,
    level: u8,
}

impl Packer {
    /// A packer for `path`, compressing at `level`; its scratch file sits beside `path`.
    pub(crate) fn new(path: &Path, level: u8) -> Self {
        let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy());
        let scratch = path.with_file_name(format!(".{name}.xctx-chunks"));
        Self { path: path.to_owned(), scratch, level }
    }

    /// Compresses every chunk of `datasets` in parallel, then has HDF5 copy each into `group`
    /// under its name, calling `after(i)` once dataset `i` is in.
    pub(crate) fn write(
        &self,
        group: &Group,
        datasets: &[F32Rows<'_>],
        mut after: impl FnMut(usize),
    ) -> Result<()> {
        let packed: Vec<ChunkedF32> =
            datasets.iter().map(|d| self.compress(d)).collect::<Result<_>>()?;
        let bytes = minih5::file_bytes(&packed);
        let io = |source| Error::Io {
            path: self.path.clone(),
            object: format!("(scratch file {})", self.scratch.display()),
            source,
        };
        std::fs::write(&self.scratch, &bytes).map_err(io)?;
        let scratch = hdf5::File::open(&self.scratch).map_err(h5err(&self.scratch, "/"))?;
        for (i, d) in datasets.iter().enumerate() {
            let src = scratch.dataset(d.name).map_err(h5err(&self.scratch, d.name))?;
            src.copy_to(group, d.name).map_err(h5err(&self.path, &d.object))?;
            after(i);
        }
        scratch.close().map_err(h5err(&self.scratch, "/"))
    }

    /// The dataset's chunks, compressed on rayon's threads.
    fn compress(&self, d: &F32Rows<'_>) -> Result<ChunkedF32> {
        let rows = d.data.len() / d.width.max(1);
        if rows == 0 || d.width == 0 || rows * d.width != d.data.len() {
            return Err(Error::Input {
                path: self.path.clone(),
                object: d.object.clone(),
                message: format!(
                    "{} values do not make rows of {} (gzip datasets cannot be empty)",
                    d.data.len(),
                    d.width
                ),
            });
        }
        let shape = [rows, d.width];
        let c = crate::caption_db::guess_chunk(&shape, 4);
        let chunk = [c[0], c[1]];
        let across = d.width.div_ceil(chunk[1]);
        let count = rows.div_ceil(chunk[0]) * across;
        let level = self.level;
        // One compressor and one chunk buffer per task, reset for each chunk (a new zlib state
        // is a few hundred KiB to clear).
        let init = || {
            (
                Compress::new(Compression::new(u32::from(level)), true),
                vec![0f32; chunk[0] * chunk[1]],
            )
        };
        let chunks = (0..count)
            .into_par_iter()
            .map_init(init, |(z, values), i| {
                let (r0, c0) = ((i / across) * chunk[0], (i % across) * chunk[1]);
                // The chunk's values, row-major, zero beyond the edges (HDF5's fill value).
                let cols = chunk[1].min(d.width - c0);
                let full_rows = chunk[0].min(rows - r0);
                if cols < chunk[1] || full_rows < chunk[0] {
                    values.fill(0.0);
                }
                for r in 0..full_rows {
                    let src = &d.data[(r0 + r) * d.width + c0..][..cols];
                    values[r * chunk[1]..][..cols].copy_from_slice(src);
                }
                z.reset();
                deflate(z, bytemuck::cast_slice(values)).map_err(|e| Error::Io {
                    path: self.path.clone(),
                    object: d.object.clone(),
                    source: std::io::Error::other(e),
                })
            })
            .collect::<Result<_>>()?;
        Ok(ChunkedF32 { name: d.name.to_owned(), shape, chunk, level, chunks })
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.scratch) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("removing {:?}: {e}", self.scratch);
            }
            _ => {}
        }
    }
}

/// `data` as one zlib stream (what HDF5's deflate filter stores), by `z` (fresh or reset).
fn deflate(z: &mut Compress, data: &[u8]) -> std::result::Result<Vec<u8>, flate2::CompressError> {
    // zlib's compressBound, plus room for the header and check value.
    let mut out = Vec::with_capacity(data.len() + data.len() / 1000 + 64);
    loop {
        let input = &data[z.total_in() as usize..];
        if z.compress_vec(input, &mut out, FlushCompress::Finish)? == Status::StreamEnd {
            return Ok(out);
        }
        out.reserve(out.capacity().max(64));
    }
}
