//! Sizes read from a file are checked before anything is allocated with them: a negative or huge
//! `fdim`, `k`, `d` or row count (a damaged file, or one declaring datasets it never wrote) is an
//! [`Error::OutOfRange`] naming the file and the object, not an allocation failure or a panic.

use std::path::Path;

use crate::error::{Error, Result};

/// Largest feature size, key size or texts per crop (`fdim`, `d`, `k`) accepted from a file.
/// CLIP's widest tower is 1,664 wide; the published files have 768, 512 and 16.
pub(crate) const MAX_DIM: usize = 1 << 16;

/// Most bytes of values a dataset may hold per byte of the file: deflate's limit (about
/// 1032:1), for compressed data; uncompressed values are stored in full, so a file of `n` bytes
/// holds fewer than `n / 4` float32 values of them.
const MAX_EXPANSION: u128 = 1032;

/// `value`, a size read from `object` (`what` says which), if it is in `0..=MAX_DIM`.
pub(crate) fn dim(path: &Path, object: &str, what: &str, value: i128) -> Result<usize> {
    match usize::try_from(value) {
        Ok(v) if v <= MAX_DIM => Ok(v),
        _ => Err(out_of_range(path, object, what, value, MAX_DIM as u128)),
    }
}

/// The product of `factors` (a count of float32 values, `what` of `object`) if a file of
/// `file_len` bytes can hold that many values: at most `file_len * MAX_EXPANSION / 4`.
pub(crate) fn values(
    path: &Path,
    object: &str,
    what: &str,
    factors: &[usize],
    file_len: u64,
) -> Result<usize> {
    let count =
        factors.iter().try_fold(1u128, |acc, &f| acc.checked_mul(f as u128)).unwrap_or(u128::MAX);
    let limit = u128::from(file_len) * MAX_EXPANSION / 4;
    match usize::try_from(count) {
        Ok(n) if count <= limit => Ok(n),
        _ => Err(out_of_range(
            path,
            object,
            &format!("{what}, in a file of {file_len} bytes"),
            i128::try_from(count).unwrap_or(i128::MAX),
            limit,
        )),
    }
}

/// The length of the file at `path`, for [`values`].
pub(crate) fn file_len(path: &Path, file: &std::fs::File) -> Result<u64> {
    file.metadata().map(|m| m.len()).map_err(|source| Error::Io {
        path: path.to_owned(),
        object: "/".into(),
        source,
    })
}

/// An [`Error::Input`] unless `shape` holds exactly `len` values.
pub(crate) fn check_len(path: &Path, object: &str, shape: &[usize], len: usize) -> Result<()> {
    let want: usize = shape.iter().product();
    if want != len {
        return Err(Error::Input {
            path: path.to_owned(),
            object: object.to_owned(),
            message: format!("shape {shape:?} needs {want} values, got {len}"),
        });
    }
    Ok(())
}

fn out_of_range(path: &Path, object: &str, what: &str, value: i128, limit: u128) -> Error {
    Error::OutOfRange {
        path: path.to_owned(),
        object: object.to_owned(),
        what: what.to_owned(),
        value,
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_and_value_counts_are_bounded() {
        let p = Path::new("f.h5");
        assert_eq!(dim(p, "/@fdim", "fdim", 768).unwrap(), 768);
        assert_eq!(dim(p, "/@fdim", "fdim", MAX_DIM as i128).unwrap(), MAX_DIM);
        for bad in [-1, MAX_DIM as i128 + 1, 1 << 40] {
            let e = dim(p, "/@fdim", "fdim", bad).unwrap_err();
            assert!(matches!(e, Error::OutOfRange { value, .. } if value == bad), "{e:?}");
        }
        // 1,000 bytes hold at most 258,000 values (compressed); overflowing products are refused.
        assert_eq!(values(p, "keys", "rows", &[258, 1000], 1000).unwrap(), 258_000);
        assert!(values(p, "keys", "rows", &[258_001], 1000).is_err());
        let e = values(p, "keys", "rows", &[usize::MAX, usize::MAX, 9], 1 << 30).unwrap_err();
        assert!(matches!(e, Error::OutOfRange { value: i128::MAX, .. }), "{e:?}");
        assert!(e.to_string().contains("f.h5") && e.to_string().contains("keys"), "{e}");
    }
}
