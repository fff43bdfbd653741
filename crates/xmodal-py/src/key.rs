//! Image ids as Python passes them: integers, or strings as h5py's `f[name]` takes them (the
//! decimal `str(id)` of an integer id, or another source's name such as `"dog_01"`).

use ctx_store::ImageId;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

/// The id `key` names, or `None` when it names none (a negative number, another type). A string
/// is the group name as it is: `"007"` is not image 7.
pub(crate) fn parse(key: &Bound<'_, PyAny>) -> Option<ImageId> {
    if let Ok(s) = key.cast::<PyString>() {
        return Some(ImageId::from(s.to_str().ok()?));
    }
    key.extract::<u64>().ok().map(ImageId::from)
}

/// A row number of a caption database: an integer, or its decimal string.
pub(crate) fn row(key: &Bound<'_, PyAny>) -> Option<u64> {
    parse(key)?.as_u64()
}

/// [`parse`], or Python's `KeyError` naming the key.
pub(crate) fn require(key: &Bound<'_, PyAny>, what: &str) -> PyResult<ImageId> {
    parse(key).ok_or_else(|| not_a(key, what))
}

/// Python's `KeyError`: `key` is not `what`.
pub(crate) fn not_a(key: &Bound<'_, PyAny>, what: &str) -> PyErr {
    let shown = key.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    pyo3::exceptions::PyKeyError::new_err(format!("{shown} is not {what}"))
}

/// Ids for Python: a uint64 array when every id is an integer (COCO's files), else a list of
/// `str` (the group names, for files of other sources).
pub(crate) fn to_py(py: Python<'_>, ids: Vec<ImageId>) -> PyResult<Bound<'_, PyAny>> {
    match ids.iter().map(ImageId::as_u64).collect::<Option<Vec<u64>>>() {
        Some(ints) => crate::arrays::owned(py, &[ints.len()], ints),
        None => Ok(PyList::new(py, ids.iter().map(ImageId::as_str))?.into_any()),
    }
}
