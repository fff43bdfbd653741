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
mod preload_direct;

/// ctx-store's own preload of a txt_ctx (every image into its entries, nothing handed to
/// Python), timed: the reference of `benches/python_vs_h5py.py`. Returns the seconds and the
/// bytes loaded (features, scores, texts).
#[pyfunction]
fn _bench_rust_preload(py: Python<'_>, path: std::path::PathBuf) -> PyResult<(f64, usize)> {
    use error::IntoPy;
    py.detach(|| {
        let start = std::time::Instant::now();
        let all = ctx_store::TxtCtxReader::open(&path)?.preload()?;
        let secs = start.elapsed().as_secs_f64();
        let bytes = all
            .iter()
            .flat_map(|e| [&e.whole, &e.five, &e.nine])
            .map(|v| {
                (v.features.len() + v.scores.len()) * 4
                    + v.texts.iter().map(String::len).sum::<usize>()
            })
            .sum();
        Ok((secs, bytes))
    })
    .py_err()
}

/// The module object Python imports as `xmodal_ctx._native`.
#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::CtxFile>()?;
    m.add_function(wrap_pyfunction!(file::open, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_rust_preload, m)?)?;
    m.add("HDF5_VERSION", ctx_store::hdf5_version())?;
    Ok(())
}
