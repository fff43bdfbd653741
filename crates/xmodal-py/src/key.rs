//! Image ids as Python passes them: integers, or the decimal strings h5py's `f[str(id)]` takes.

use pyo3::prelude::*;
use pyo3::types::PyString;

/// The id `key` names, or `None` when it names none (a negative number, a string that is not
/// the canonical decimal form of one, another type).
pub(crate) fn parse(key: &Bound<'_, PyAny>) -> Option<u64> {
    if let Ok(s) = key.cast::<PyString>() {
        let s = s.to_str().ok()?;
        let id: u64 = s.parse().ok()?;
        return (id.to_string() == s).then_some(id);
    }
    key.extract::<u64>().ok()
}

/// [`parse`], or Python's `KeyError` naming the key.
pub(crate) fn require(key: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    parse(key).ok_or_else(|| {
        let shown = key.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
        pyo3::exceptions::PyKeyError::new_err(format!("{shown} is not {what}"))
    })
}
