//! Typed reader and writer for the three HDF5 files of the cross-modal context pipeline, the
//! files the Python original writes and its users' training code reads with h5py.
//!
//! - [`VisCtxWriter`] / [`VisCtxReader`]: `vis_ctx.hdf5`, one float32 `(fdim,)` dataset per
//!   image id and the root attribute `fdim`.
//! - [`TxtCtxWriter`] / [`TxtCtxReader`]: `txt_ctx.hdf5`, per image `whole`/`five`/`nine` groups
//!   of `features`, `scores` and `texts`.
//! - [`CaptionDbWriter`] / [`CaptionDb`]: `caption_db.hdf5`, in the original's group-per-batch
//!   layout or our contiguous one, detected on open.
//! - HAAV's profile of the same three files (GT-RIPL/HAAV, CVPR 2023: grid and pooled image
//!   features, pre-layer-norm caption `values`, 8k/2k/k texts per view, everything gzip):
//!   [`HaavVisCtxWriter`] / [`HaavVisCtxReader`], [`HaavTxtCtxWriter`] / [`HaavTxtCtxReader`],
//!   [`HaavCaptionDbWriter`] / [`HaavCaptionDb`]; files we write record their [`Profile`] in
//!   the `xctx_kind` attribute.
//! - [`detect`] (six kinds, from their layout), [`summarize`] and [`check`]: what `ctx-inspect`
//!   shows.
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
mod direct_chunk;
mod error;
mod gzip;
mod h5;
mod haav;
mod kind;
mod merge;
mod oldh5;
mod packed;
mod provenance;
mod resume;
mod txt;
mod vis;
mod vlen;

#[cfg(feature = "tch")]
pub use batch::{TxtBatch, txt_batch, vis_batch};
pub use caption_db::{Caption, CaptionDb, CaptionDbWriter, CaptionLayout, Captions};
pub use check::{CheckOptions, Report, Violation, check, check_with};
pub use error::{Error, Result};
#[cfg(feature = "tch")]
pub use haav::batch::{HaavTxtBatch, HaavTxtView, HaavVisBatch, haav_txt_batch, haav_vis_batch};
pub use haav::caption_db::{HaavCaptionDb, HaavCaptionDbWriter};
pub use haav::txt::{HaavTxtCtxReader, HaavTxtCtxWriter};
pub use haav::vis::{HaavVisCtx, HaavVisCtxReader, HaavVisCtxWriter, HaavVisEntry};
pub use kind::{FileKind, Profile, Summary, detect, summarize};
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
