//! Gzip-compressed float32 datasets, as h5py's `create_dataset(..., compression="gzip")` lays
//! them out (chunks of h5py's `guess_chunk`, deflate level 4), with the chunks compressed on
//! rayon's threads instead of HDF5's one: HDF5 creates each dataset as the serial writer does
//! and stores the compressed chunks as they are (direct chunk write, `direct_chunk`). HDF5 does
//! every write to the output, so its flushes keep the crash behaviour of the serial writer.

use hdf5::Group;

use crate::error::{Error, Result};
pub(crate) use crate::gzip_chunks::{F32Array, Packer, Staged};
use crate::gzip_chunks::{chunk_position, grid};
use crate::h5::h5err;
use crate::h5::{direct_chunk, gzip};

impl Staged<'_> {
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

impl Packer {
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
