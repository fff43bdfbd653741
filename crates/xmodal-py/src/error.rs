//! `ctx-store`'s errors as Python exceptions, with its one-line messages.

use ctx_store::Error;
use pyo3::PyErr;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyValueError};

/// `FileNotFoundError` for a missing file, `KeyError` for a missing image or row, `OSError` when
/// the system refuses to open or read, `ValueError` for a file that is not a context file (or
/// whose content disagrees with the schema).
pub(crate) fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::NotFound { .. } => PyFileNotFoundError::new_err(message),
        // A compact txt_ctx whose caption database is not there.
        Error::CaptionDb { caption_db, .. } if !caption_db.exists() => {
            PyFileNotFoundError::new_err(message)
        }
        Error::Missing { .. } => PyKeyError::new_err(message),
        Error::Open { .. } | Error::Io { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `ctx_store::Result` into `PyResult`.
pub(crate) trait IntoPy<T> {
    /// See [`to_py`].
    fn py_err(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for ctx_store::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
