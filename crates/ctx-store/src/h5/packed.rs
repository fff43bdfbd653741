//! Gzip-compressed float32 datasets, as h5py's `create_dataset(..., compression="gzip")` lays
//! them out (chunks of h5py's `guess_chunk`, deflate level 4), with the chunks compressed on
//! rayon's threads instead of HDF5's one: HDF5 creates each dataset as the serial writer does
//! and stores the compressed chunks as they are (direct chunk write, `direct_chunk`). HDF5 does
//! every write to the output, so its flushes keep the crash behaviour of the serial writer.

use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};
use hdf5::Group;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::h5::h5err;
use crate::h5::{direct_chunk, gzip};

/// A float32 dataset to write: name (its link name for [`Packer::write`]) and object (for
/// errors), its values in row-major order and its shape.
pub(crate) struct F32Array<'d> {
    pub(crate) name: String,
    pub(crate) object: String,
    pub(crate) data: &'d [f32],
    pub(crate) shape: Vec<usize>,
}

/// A float32 dataset whose chunks are compressed, ready to be written.
struct ChunkedF32 {
    /// The size of each axis (at least one axis).
    shape: Vec<usize>,
    /// The chunk's size on each axis.
    chunk: Vec<usize>,
    /// Each chunk's zlib stream, chunks in row-major order of their positions.
    chunks: Vec<Vec<u8>>,
}

/// Compresses the datasets of one output.
pub(crate) struct Packer {
    /// The output, for errors.
    path: PathBuf,
    level: u8,
}

/// Compressed datasets, in the order they were staged, ready to be written into the output.
pub(crate) struct Staged<'p> {
    packer: &'p Packer,
    packed: Vec<ChunkedF32>,
}

impl Staged<'_> {
    /// Staged dataset `i`'s chunk shape and compressed chunks (row-major order of their
    /// positions), for writers that place them themselves.
    pub(crate) fn chunks(&self, i: usize) -> (&[usize], &[Vec<u8>]) {
        let d = &self.packed[i];
        (&d.chunk, &d.chunks)
    }

    /// Writes staged dataset `i` (its index among those staged) into `group` as `to` (`object`
    /// names it in errors): HDF5 creates it as [`gzip::create_f32`] does and stores its
    /// compressed chunks.
    pub(crate) fn write_to(&self, i: usize, group: &Group, to: &str, object: &str) -> Result<()> {
        let path = &self.packer.path;
        let d = self.packed.get(i).ok_or_else(|| Error::Input {
            path: path.clone(),
            object: object.to_owned(),
            message: format!("no staged dataset {i} (of {})", self.packed.len()),
        })?;
        let ds = gzip::create_f32(path, group, to, object, &d.shape, self.packer.level)?;
        let grid = grid(&d.shape, &d.chunk);
        for (i, bytes) in d.chunks.iter().enumerate() {
            let offset: Vec<u64> = chunk_position(&grid, i)
                .iter()
                .zip(&d.chunk)
                .map(|(&p, &c)| (p * c) as u64)
                .collect();
            direct_chunk::write_chunk(&ds, &offset, bytes).map_err(h5err(path, object))?;
        }
        Ok(())
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

    /// Compresses every chunk of `datasets` in parallel, then writes each into `group` under
    /// its name, calling `after(i)` once dataset `i` is in.
    pub(crate) fn write(
        &self,
        group: &Group,
        datasets: &[F32Array<'_>],
        mut after: impl FnMut(usize),
    ) -> Result<()> {
        let staged = self.stage(datasets)?;
        for (i, d) in datasets.iter().enumerate() {
            staged.write_to(i, group, &d.name, &d.object)?;
            after(i);
        }
        Ok(())
    }

    /// Compresses every chunk of every dataset of `datasets` on rayon's threads, for
    /// [`Staged::write_to`].
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
        let chunk = gzip::f32_chunk(&shape);
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
fn grid(shape: &[usize], chunk: &[usize]) -> Vec<usize> {
    shape.iter().zip(chunk).map(|(&n, &c)| n.div_ceil(c)).collect()
}

/// The position of chunk `i` (row-major) in a grid of `grid` chunks per axis.
fn chunk_position(grid: &[usize], mut i: usize) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Datasets of 1 to 3 axes, with partial chunks on every axis, written by direct chunk
    /// writes: the values, h5py's chunk shape and gzip at the level read back through HDF5.
    #[test]
    fn datasets_of_any_rank_read_back_through_hdf5() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.h5");
        let shapes: [&[usize]; 5] = [&[512], &[1, 128, 768], &[5, 32, 768], &[9, 16, 7], &[50, 77]];
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .enumerate()
            .map(|(s, shape)| {
                let n: usize = shape.iter().product();
                (0..n).map(|i| (i * 31 + s * 7) as f32 * 0.25 - 100.0).collect()
            })
            .collect();
        let arrays: Vec<F32Array<'_>> = shapes
            .iter()
            .zip(&data)
            .enumerate()
            .map(|(i, (shape, data))| F32Array {
                name: format!("d{i}"),
                object: format!("/d{i}"),
                data,
                shape: shape.to_vec(),
            })
            .collect();
        let file = hdf5::File::create(&out).unwrap();
        let packer = Packer::new(&out, 4);
        let mut done = Vec::new();
        packer.write(&file, &arrays, |i| done.push(i)).unwrap();
        assert_eq!(done, [0, 1, 2, 3, 4]);
        let staged = packer.stage(&arrays[1..2]).unwrap();
        let g = file.create_group("g").unwrap();
        staged.write_to(0, &g, "renamed", "/g/renamed").unwrap();
        let err = staged.write_to(1, &g, "x", "/g/x").expect_err("refused").to_string();
        assert!(err.contains("/g/x") && err.contains("no staged dataset"), "{err}");
        file.close().unwrap();
        drop(packer);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "files beside the output: {left:?}");

        let file = hdf5::File::open(&out).unwrap();
        for (i, (shape, want)) in shapes.iter().zip(&data).enumerate() {
            let ds = file.dataset(&format!("d{i}")).unwrap();
            assert_eq!(ds.shape(), shape.to_vec(), "d{i}");
            assert_eq!(ds.chunk(), Some(gzip::guess_chunk(shape, 4)), "d{i}");
            assert_eq!(ds.filters(), vec![hdf5::filters::Filter::Deflate(4)], "d{i}");
            let got: Vec<f32> = ds.read_raw().unwrap();
            assert!(&got == want, "d{i}: values differ");
        }
        let got: Vec<f32> = file.dataset("g/renamed").unwrap().read_raw().unwrap();
        assert!(got == data[1]);
    }

    #[test]
    fn an_empty_or_mis_sized_dataset_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let packer = Packer::new(&dir.path().join("x.h5"), 4);
        for (data, shape) in [(&[][..], vec![0, 3]), (&[1.0, 2.0][..], vec![3])] {
            let a = F32Array { name: "a".into(), object: "/a".into(), data, shape };
            let err = packer.stage(&[a]).err().expect("refused").to_string();
            assert!(err.contains("/a") && err.contains("values for shape"), "{err}");
        }
    }
}
