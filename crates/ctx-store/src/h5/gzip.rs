//! Chunked, gzip-compressed datasets as h5py's `create_dataset(name, data=..., compression="gzip")`
//! writes them: chunk shape from h5py's `guess_chunk`, deflate level 4. HAAV's scripts write
//! every dataset of their three files this way.

use std::path::Path;

use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Group};

use crate::bounds;
use crate::error::{Error, Result};
use crate::h5::{self, h5err};

pub(crate) use crate::gzip_chunks::{H5PY_GZIP_LEVEL, STRING_ITEMSIZE, f32_chunk, guess_chunk};

/// h5py refuses a chunked dataset with an empty axis (the guessed chunk is larger than it), and
/// so does HDF5: an empty axis is an input error here too.
fn check_shape(path: &Path, object: &str, shape: &[usize]) -> Result<()> {
    if shape.contains(&0) {
        return Err(Error::Input {
            path: path.to_owned(),
            object: object.to_owned(),
            message: format!("shape {shape:?} has an empty axis (gzip datasets cannot)"),
        });
    }
    Ok(())
}

/// Creates an empty gzip-compressed float32 dataset `name` of `shape` under `group`, deflate at
/// `level`, as h5py's `create_dataset` does before it writes the values.
pub(crate) fn create_f32(
    path: &Path,
    group: &Group,
    name: &str,
    object: &str,
    shape: &[usize],
    level: u8,
) -> Result<Dataset> {
    check_shape(path, object, shape)?;
    group
        .new_dataset::<f32>()
        .shape(shape)
        .chunk(f32_chunk(shape))
        .deflate(level)
        .create(name)
        .map_err(h5err(path, object))
}

/// Writes a gzip-compressed float32 dataset `name` of `shape` under `group`.
pub(crate) fn write_f32(
    path: &Path,
    group: &Group,
    name: &str,
    object: &str,
    shape: &[usize],
    data: &[f32],
) -> Result<()> {
    bounds::check_len(path, object, shape, data.len())?;
    let ds = create_f32(path, group, name, object, shape, H5PY_GZIP_LEVEL)?;
    ds.write_raw(data).map_err(h5err(path, object))
}

/// Writes a gzip-compressed dataset of variable-length UTF-8 strings, as h5py writes a (nested)
/// list of `str`.
pub(crate) fn write_strings(
    path: &Path,
    group: &Group,
    name: &str,
    object: &str,
    shape: &[usize],
    data: &[String],
) -> Result<()> {
    bounds::check_len(path, object, shape, data.len())?;
    check_shape(path, object, shape)?;
    let values = h5::to_varlen(path, object, data)?;
    let ds = group
        .new_dataset::<VarLenUnicode>()
        .shape(shape)
        .chunk(guess_chunk(shape, STRING_ITEMSIZE))
        .deflate(H5PY_GZIP_LEVEL)
        .create(name)
        .map_err(h5err(path, object))?;
    ds.write_raw(&values).map_err(h5err(path, object))
}

#[cfg(test)]
mod tests {
    use super::guess_chunk;

    #[test]
    fn guess_chunk_matches_h5py_examples() {
        // Values printed by h5py 3.16's h5py._hl.filters.guess_chunk.
        assert_eq!(guess_chunk(&[512, 512], 4), vec![64, 64]);
        assert_eq!(guess_chunk(&[512], 8), vec![512]);
        assert_eq!(guess_chunk(&[100, 512], 4), vec![25, 128]);
    }
}
