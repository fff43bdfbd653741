//! The chunks of gzip-compressed datasets as h5py's `create_dataset(..., compression="gzip")`
//! lays them out: h5py's chunk shapes (`guess_chunk`), its deflate level, and the chunks of
//! float32 datasets compressed on rayon's threads ([`Packer`]). Both back-ends store them: `h5`
//! through HDF5's direct chunk write, `oldh5` in the files it writes itself.

use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Deflate level of h5py's `compression="gzip"` without `compression_opts`.
pub(crate) const H5PY_GZIP_LEVEL: u8 = 4;

/// The size h5py's `guess_chunk` counts per element: numpy's `itemsize` (8 for the object
/// dtype of variable-length strings).
const F32_ITEMSIZE: usize = 4;
pub(crate) const STRING_ITEMSIZE: usize = 8;

/// h5py's `filters.guess_chunk`, so that the gzip datasets we write have h5py's chunk shapes.
pub(crate) fn guess_chunk(shape: &[usize], typesize: usize) -> Vec<usize> {
    const CHUNK_BASE: f64 = 16.0 * 1024.0;
    const CHUNK_MIN: f64 = 8.0 * 1024.0;
    const CHUNK_MAX: f64 = 1024.0 * 1024.0;
    let mut chunks: Vec<f64> =
        shape.iter().map(|&x| if x == 0 { 1024.0 } else { x as f64 }).collect();
    let ndims = chunks.len();
    let product = |c: &[f64]| c.iter().product::<f64>();
    let dset_size = product(&chunks) * typesize as f64;
    let target = (CHUNK_BASE * 2f64.powf((dset_size / (1024.0 * 1024.0)).log10()))
        .clamp(CHUNK_MIN, CHUNK_MAX);
    let mut idx = 0;
    loop {
        let chunk_bytes = product(&chunks) * typesize as f64;
        if (chunk_bytes < target || (chunk_bytes - target).abs() / target < 0.5)
            && chunk_bytes < CHUNK_MAX
        {
            break;
        }
        if product(&chunks) == 1.0 {
            break;
        }
        chunks[idx % ndims] = (chunks[idx % ndims] / 2.0).ceil();
        idx += 1;
    }
    chunks.into_iter().map(|c| c as usize).collect()
}

/// h5py's chunk shape for a float32 dataset of `shape`.
pub(crate) fn f32_chunk(shape: &[usize]) -> Vec<usize> {
    guess_chunk(shape, F32_ITEMSIZE)
}

/// A float32 dataset to write: name (its link name for `Packer::write` (`h5::packed`)) and object (for
/// errors), its values in row-major order and its shape.
pub(crate) struct F32Array<'d> {
    pub(crate) name: String,
    pub(crate) object: String,
    pub(crate) data: &'d [f32],
    pub(crate) shape: Vec<usize>,
}

/// A float32 dataset whose chunks are compressed, ready to be written.
pub(crate) struct ChunkedF32 {
    /// The size of each axis (at least one axis).
    pub(crate) shape: Vec<usize>,
    /// The chunk's size on each axis.
    pub(crate) chunk: Vec<usize>,
    /// Each chunk's zlib stream, chunks in row-major order of their positions.
    pub(crate) chunks: Vec<Vec<u8>>,
}

/// Compresses the datasets of one output.
pub(crate) struct Packer {
    /// The output, for errors.
    pub(crate) path: PathBuf,
    pub(crate) level: u8,
}

/// Compressed datasets, in the order they were staged, ready to be written into the output.
pub(crate) struct Staged<'p> {
    pub(crate) packer: &'p Packer,
    pub(crate) packed: Vec<ChunkedF32>,
}

impl Staged<'_> {
    /// Staged dataset `i`'s chunk shape and compressed chunks (row-major order of their
    /// positions), for writers that place them themselves.
    pub(crate) fn chunks(&self, i: usize) -> (&[usize], &[Vec<u8>]) {
        let d = &self.packed[i];
        (&d.chunk, &d.chunks)
    }
}

impl Staged<'_> {
    /// Each staged dataset's chunk shape and compressed chunks (row-major), in the order they
    /// were staged, for a writer that stores them itself (`oldh5`).
    pub(crate) fn into_chunks(self) -> Vec<(Vec<usize>, Vec<Vec<u8>>)> {
        self.packed.into_iter().map(|d| (d.chunk, d.chunks)).collect()
    }
}

impl Packer {
    /// A packer for `path` (named in errors), compressing at `level`.
    pub(crate) fn new(path: &Path, level: u8) -> Self {
        Self { path: path.to_owned(), level }
    }

    /// Compresses every chunk of every dataset of `datasets` on rayon's threads, for
    /// `Staged::write_to` (`h5::packed`).
    pub(crate) fn stage(&self, datasets: &[F32Array<'_>]) -> Result<Staged<'_>> {
        let packed: Vec<ChunkedF32> =
            datasets.par_iter().map(|d| self.compress(d)).collect::<Result<_>>()?;
        Ok(Staged { packer: self, packed })
    }

    /// The dataset's chunks (h5py's `guess_chunk`), compressed on rayon's threads.
    fn compress(&self, d: &F32Array<'_>) -> Result<ChunkedF32> {
        let values: usize = d.shape.iter().product();
        if values == 0 || values != d.data.len() {
            return Err(Error::Input {
                path: self.path.clone(),
                object: d.object.clone(),
                message: format!(
                    "{} values for shape {:?} (gzip datasets cannot be empty)",
                    d.data.len(),
                    d.shape
                ),
            });
        }
        let shape = d.shape.clone();
        let chunk = f32_chunk(&shape);
        let grid = grid(&shape, &chunk);
        let count: usize = grid.iter().product();
        let per_chunk: usize = chunk.iter().product();
        let level = self.level;
        // One compressor and one chunk buffer per task, reset for each chunk (a new zlib state
        // is a few hundred KiB to clear).
        let init =
            || (Compress::new(Compression::new(u32::from(level)), true), vec![0f32; per_chunk]);
        let chunks = (0..count)
            .into_par_iter()
            .map_init(init, |(z, values), i| {
                gather(d.data, &shape, &chunk, &chunk_position(&grid, i), values);
                z.reset();
                deflate(z, bytemuck::cast_slice(values)).map_err(|e| Error::Io {
                    path: self.path.clone(),
                    object: d.object.clone(),
                    source: std::io::Error::other(e),
                })
            })
            .collect::<Result<_>>()?;
        Ok(ChunkedF32 { shape, chunk, chunks })
    }
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

/// The values of the chunk at `position` (in chunks) of `data` (row-major, `shape`) into
/// `out` (row-major, `chunk`), zero beyond the dataset's edges (HDF5's fill value).
fn gather(data: &[f32], shape: &[usize], chunk: &[usize], position: &[usize], out: &mut [f32]) {
    let rank = shape.len();
    let first: Vec<usize> = position.iter().zip(chunk).map(|(&p, &c)| p * c).collect();
    // The part of the chunk inside the dataset.
    let inside: Vec<usize> = (0..rank).map(|a| chunk[a].min(shape[a] - first[a])).collect();
    if inside != chunk {
        out.fill(0.0);
    }
    // Runs along the last axis, for every index of the other axes inside the dataset.
    let last = rank - 1;
    let mut at = vec![0usize; last];
    loop {
        let (mut src, mut dst) = (0, 0);
        for a in 0..rank {
            let i = if a < last { at[a] } else { 0 };
            src = src * shape[a] + first[a] + i;
            dst = dst * chunk[a] + i;
        }
        out[dst..dst + inside[last]].copy_from_slice(&data[src..src + inside[last]]);
        // The next index of the other axes (odometer, last of them fastest).
        let mut a = last;
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            at[a] += 1;
            if at[a] < inside[a] {
                break;
            }
            at[a] = 0;
        }
    }
}

/// `data` as one zlib stream (what HDF5's deflate filter stores), by `z` (fresh or reset).
pub(crate) fn deflate(
    z: &mut Compress,
    data: &[u8],
) -> std::result::Result<Vec<u8>, flate2::CompressError> {
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
