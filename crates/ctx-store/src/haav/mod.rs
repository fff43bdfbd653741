//! HAAV's three files (GT-RIPL/HAAV, CVPR 2023): the same names as the original's, another
//! layout, every dataset gzip-compressed as its `ctx/` scripts write them with h5py, and read
//! as its training code (`haav/data/field.py`) reads them. `docs/hdf5-schema.md` puts the two
//! profiles side by side.

use std::path::Path;

use crate::error::{Error, Result};

pub(crate) mod caption_db;
pub(crate) mod txt;
pub(crate) mod vis;

/// A size written as an int64 attribute (h5py's type for a Python `int`), named `object` in the
/// error if it does not fit, or is 0 (HAAV's datasets are gzip-compressed: no empty axis).
pub(crate) fn attr_size(path: &Path, object: &str, value: usize) -> Result<i64> {
    match i64::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Error::Input {
            path: path.to_owned(),
            object: object.to_owned(),
            message: format!("{value} is not a size (1 to 2^63 - 1)"),
        }),
    }
}
