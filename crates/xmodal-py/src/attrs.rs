//! The root attributes of a file, as h5py's `dict(f.attrs)` shows them (integers, floats and
//! strings; the context files hold no other kind).

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn err(path: &Path, name: &str, e: hdf5::Error) -> PyErr {
    PyValueError::new_err(format!("{}: attribute {name:?}: {e}", path.display()))
}

/// Every scalar root attribute of `path` with a numeric or string type; others are left out.
pub(crate) fn root<'py>(py: Python<'py>, path: &Path) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let file = hdf5::File::open(path).map_err(|e| err(path, "/", e))?;
    for name in file.attr_names().map_err(|e| err(path, "/", e))? {
        let a = file.attr(&name).map_err(|e| err(path, &name, e))?;
        if !a.is_scalar() {
            continue;
        }
        let e = |e| err(path, &name, e);
        let td = a.dtype().and_then(|t| t.to_descriptor()).map_err(e)?;
        let value: Py<PyAny> = match td {
            TypeDescriptor::Integer(_) => {
                a.read_scalar::<i64>().map_err(e)?.into_pyobject(py)?.into_any().unbind()
            }
            TypeDescriptor::Unsigned(_) => {
                a.read_scalar::<u64>().map_err(e)?.into_pyobject(py)?.into_any().unbind()
            }
            TypeDescriptor::Float(_) => {
                a.read_scalar::<f64>().map_err(e)?.into_pyobject(py)?.into_any().unbind()
            }
            TypeDescriptor::VarLenUnicode => {
                let s = a.read_scalar::<VarLenUnicode>().map_err(e)?;
                s.as_str().into_pyobject(py)?.into_any().unbind()
            }
            TypeDescriptor::VarLenAscii => {
                let s = a.read_scalar::<VarLenAscii>().map_err(e)?;
                s.as_str().into_pyobject(py)?.into_any().unbind()
            }
            _ => continue,
        };
        out.set_item(name, value)?;
    }
    Ok(out)
}
