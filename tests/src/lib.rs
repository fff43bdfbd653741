//! Workspace end-to-end tests (`e2e/`) and the Python mirror of the original pipeline
//! (`mirror/original_pipeline.py`), which `bins/tests/pipeline_e2e.rs` and
//! `benches/pipeline_vs_mirror.sh` run as their reference.
