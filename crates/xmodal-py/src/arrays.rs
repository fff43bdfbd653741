//! Rust buffers handed to numpy: the array takes the buffer over, nothing is copied.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, PyArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use ctx_store::ViewEntry;

/// `values` as a numpy array of `shape` (row-major), owning the buffer.
pub(crate) fn owned<'py, T: Element>(
    py: Python<'py>,
    shape: &[usize],
    values: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| PyValueError::new_err(format!("array of shape {shape:?}: {e}")))?;
    Ok(PyArray::from_owned_array(py, a).into_any())
}

/// Texts as h5py returns a variable-length string dataset: an object array of `bytes`.
pub(crate) fn texts<'py>(
    py: Python<'py>,
    shape: &[usize],
    texts: &[String],
) -> PyResult<Bound<'py, PyAny>> {
    let objects: Vec<Py<PyAny>> =
        texts.iter().map(|t| PyBytes::new(py, t.as_bytes()).into_any().unbind()).collect();
    owned(py, shape, objects)
}

/// One view of a txt_ctx entry as h5py's group holds it: `features`, `scores`, `texts`.
pub(crate) fn view<'py>(py: Python<'py>, v: ViewEntry) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let (fshape, sshape) = (v.features_shape(), v.scores_shape());
    d.set_item("features", owned(py, &fshape, v.features)?)?;
    d.set_item("scores", owned(py, &sshape, v.scores)?)?;
    d.set_item("texts", texts(py, &sshape, &v.texts)?)?;
    Ok(d)
}

/// Strings packed for numpy: their UTF-8 bytes one after the other, and `n + 1` offsets.
#[derive(Default)]
pub(crate) struct PackedTexts {
    pub(crate) bytes: Vec<u8>,
    pub(crate) offsets: Vec<u64>,
}

impl PackedTexts {
    /// Room for `n` strings of about `bytes_each` bytes.
    pub(crate) fn with_capacity(n: usize, bytes_each: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        Self { bytes: Vec::with_capacity(n * bytes_each), offsets }
    }

    /// Appends one string.
    pub(crate) fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as u64);
    }

    /// `(bytes, offsets)` as two numpy arrays (uint8 and uint64).
    pub(crate) fn into_py<'py>(
        mut self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let (nb, no) = (self.bytes.len(), self.offsets.len());
        Ok((owned(py, &[nb], self.bytes)?, owned(py, &[no], self.offsets)?))
    }
}
