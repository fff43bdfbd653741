//! `xmodal_ctx._native`: the compiled part of the `xmodal_ctx` Python package, `ctx-store`'s
//! readers for Python training code. Every read releases the GIL; a preload fills contiguous
//! arrays on all cores and hands them to numpy without a copy.
//!
//! The Python side (`python/xmodal_ctx`) wraps it: `xmodal_ctx.open(path)`, the preloaded
//! arrays' per-image views, and the drop-in `TxtCtxField` / `VisCtxField` of the original's M2
//! and of HAAV's training code.

use pyo3::prelude::*;

mod arrays;
mod attrs;
mod error;
mod file;
mod key;
mod preload;

/// The module object Python imports as `xmodal_ctx._native`.
#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::CtxFile>()?;
    m.add_function(wrap_pyfunction!(file::open, m)?)?;
    m.add("HDF5_VERSION", ctx_store::hdf5_version())?;
    Ok(())
}
