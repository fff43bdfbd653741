//! Helpers shared by the workspace's tests (after cargo's `cargo-test-support`): the workspace
//! root, the project's Python interpreter (with h5py, torch, ...), running reference scripts,
//! readable comparisons, and a crate's imports checked against its layers.
#![allow(clippy::print_stderr, clippy::missing_panics_doc)]
#![warn(missing_docs)]

mod compare;
mod fixtures;
mod imports;
mod layers;
mod python;
mod rng;

pub use compare::{assert_close, max_row_rel};
pub use fixtures::{read_f32_file, reference_outputs, tiny_clip, write_f32_file};
pub use imports::{Import, ModuleGraph, ROOT, read_sources};
pub use layers::{Layer, Layering, cycles};
pub use python::{
    old_h5py_python, python, run_python, run_python_code, run_python_code_with, run_python_json,
    run_python_json_with, run_python_with_input, workspace_root,
};
pub use rng::Rng;
