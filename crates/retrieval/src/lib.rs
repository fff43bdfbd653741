//! Exact cosine top-k over L2-normalised keys (the phrase database), batched over queries and
//! chunked over keys with a running top-k merge, on the CPU or a CUDA device.
//!
//! Two ways to the same (exact) answer:
//! - [`Precision::F32`]: every score in f32.
//! - [`Precision::Fast`] (default): a screening pass keeps the best `candidates + 1` keys per
//!   query (at least k + 64 in bf16 or f16, k + 16 in f32); the candidates are re-scored in
//!   f32. A query's answer is accepted only when the largest screened score left out, plus a
//!   proven bound on the screening error, is below its k-th exact score; otherwise that query
//!   is screened once more with 16 times the candidates, and if still unproven searched in f32.
//!   So results never depend on the precision, only the speed does.
//!
//! The screening type ([`Screening`]) is f16 on CUDA (with f32 scores: cuBLAS then never
//! rounds a partial sum to f16); on the CPU bf16 where the CPU multiplies
//! bf16 itself (AVX512-BF16, AMX-BF16) and f32 elsewhere, where libtorch's bf16 product is
//! several times slower than its f32 one. The bound used by the proof is the chosen type's.
//!
//! Products run in libtorch on either device. Selecting the best candidates of each score chunk
//! runs in libtorch on CUDA (`topk`, after a block-maximum pre-selection) and in Rust on the
//! CPU (`host`: a per-query threshold scan, and re-scoring from host memory). On the CPU the
//! search runs on threads of its own, one per libtorch intra-op thread, each multiplying its
//! share of the keys with libtorch on one thread and scanning the scores as they are made.
//!
//! Results are sorted by descending score, ties broken by the lower id. Every libtorch step is
//! fallible: a failed allocation is an [`Error::OutOfMemory`] naming the sizes and the setting
//! to lower, never a panic.
//!
//! [`IvfIndex`] rebuilds the original's approximate faiss index, for comparison.
//!
//! ```no_run
//! # fn main() -> retrieval::Result<()> {
//! use retrieval::{Index, IndexOptions};
//! let keys = vec![0.6f32, 0.8, 1.0, 0.0, 0.0, 1.0]; // three unit keys of 2
//! let index = Index::from_slice(&keys, 2, &IndexOptions::default())?;
//! let hits = index.search(&[1.0, 0.0], 2)?;
//! assert_eq!(hits.ids, [1, 0]);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod bare;
mod error;
mod host;
mod index;
mod ivf;
mod kmeans;
mod screening;
mod topk;

pub use bare::bare_products;
pub use error::{Error, Result};
pub use index::{
    DEFAULT_KEY_CHUNK_CPU, DEFAULT_KEY_CHUNK_CUDA, Hits, Index, IndexOptions, Precision,
};
pub use ivf::{IvfIndex, IvfOptions, original_nlist, original_nprobe};
pub use screening::{SCREENING_ENV, Screening, cpu_has_bf16};
