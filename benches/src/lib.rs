//! Workspace benchmarks live in `benches/`.
