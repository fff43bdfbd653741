//! Typed reader and writer for the three HDF5 files of the cross-modal context pipeline, the
//! files the Python original writes and its users' training code reads with h5py.
//!
//! - [`VisCtxWriter`] / [`VisCtxReader`]: `vis_ctx.hdf5`, one float32 `(fdim,)` dataset per
//!   image id and the root attribute `fdim`.
//! - [`TxtCtxWriter`] / [`TxtCtxReader`]: `txt_ctx.hdf5`, per image `whole`/`five`/`nine` groups
//!   of `features`, `scores` and `texts`.
//! - [`CaptionDbWriter`] / [`CaptionDb`]: `caption_db.hdf5`, in the original's group-per-batch
//!   layout or our contiguous one, detected on open.
//! - [`detect`], [`summarize`] and [`check`]: what `ctx-inspect` shows.
//!
//! The layout is documented in `docs/hdf5-schema.md`; the names live in [`schema`]. Files we
//! write read through h5py exactly as the original's do (same names, dtypes, shapes, string
//! type); they use HDF5's 1.8 group format, which stays fast with 123,287 images at the root.
//! Writers flush after every batch, so a killed writer leaves a readable file holding every
//! finished batch, and `append` resumes it.
//!
//! ```no_run
//! # fn main() -> ctx_store::Result<()> {
//! use ctx_store::{Provenance, TxtCtxReader, View, VisCtxWriter};
//!
//! let mut w = VisCtxWriter::create("vis_ctx.hdf5", 768, &Provenance::new("demo", "{}"), false)?;
//! w.write_batch(&[531912], &[0.0_f32; 768])?;
//! w.finish()?;
//!
//! // f[f"{531912}/five/features"][2, :4] in h5py:
//! let r = TxtCtxReader::open("txt_ctx.hdf5")?;
//! let v = r.view(531912, View::Five, Some(2), Some(4))?;
//! assert_eq!(v.features_shape(), vec![4, v.d]);
//! // Preload everything (in parallel), as the M2 training code does:
//! let all = r.preload()?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod schema;
#[doc(hidden)]
pub mod testing;

#[cfg(feature = "tch")]
mod batch;
mod bounds;
mod caption_db;
mod check;
mod chunks;
mod error;
mod h5;
mod kind;
mod merge;
mod minih5;
mod packed;
mod provenance;
mod txt;
mod vlen;
mod vis;

#[cfg(feature = "tch")]
pub use batch::{TxtBatch, txt_batch, vis_batch};
pub use caption_db::{Caption, CaptionDb, CaptionDbWriter, CaptionLayout, Captions};
pub use check::{Report, Violation, check};
pub use error::{Error, Result};
pub use kind::{FileKind, Summary, detect, summarize};
pub use merge::{Merged, merge};
pub use provenance::Provenance;
pub use schema::View;
pub use txt::{TxtCtxReader, TxtCtxWriter, TxtEntry, ViewEntry};
pub use vis::{VisCtx, VisCtxReader, VisCtxWriter};

/// The version of the HDF5 C library this crate was built with, e.g. `1.14.6`.
pub fn hdf5_version() -> String {
    let (a, b, c) = hdf5::library_version();
    format!("{a}.{b}.{c}")
}
