//! Typed reader and writer for the three HDF5 files of the cross-modal context pipeline, the
//! files the Python original writes and its users' training code reads with h5py.
//!
//! - [`VisCtxWriter`] / [`VisCtxReader`]: `vis_ctx.hdf5`, one float32 `(fdim,)` dataset per
//!   image id and the root attribute `fdim`.
//! - [`TxtCtxWriter`] / [`TxtCtxReader`]: `txt_ctx.hdf5`, per image `whole`/`five`/`nine` groups
//!   of `features`, `scores` and `texts` (or `whole` alone: [`ViewEntry::absent`]).
//! - [`CaptionDbWriter`] / [`CaptionDb`]: `caption_db.hdf5`, in the original's group-per-batch
//!   layout or our contiguous one, detected on open.
//! - HAAV's profile of the same three files (GT-RIPL/HAAV, CVPR 2023: grid and pooled image
//!   features, pre-layer-norm caption `values`, 8k/2k/k texts per view, everything gzip):
//!   [`HaavVisCtxWriter`] / [`HaavVisCtxReader`], [`HaavTxtCtxWriter`] / [`HaavTxtCtxReader`],
//!   [`HaavCaptionDbWriter`] / [`HaavCaptionDb`]; files we write record their [`Profile`] in
//!   the `xctx_kind` attribute.
//! - [`detect`] (six kinds, from their layout), [`summarize`] and [`check`]: what `ctx-inspect`
//!   shows.
//! - [`CompactTxtWriter`]: a `txt_ctx.hdf5` of either profile in the compact layout, each hit
//!   as its row in the caption database and its score; [`TxtCtxReader`] and
//!   [`HaavTxtCtxReader`] read it as the full layout, joined from the caption database
//!   ([`compact_info`] tells the layout).
//!
//! The layout is documented in `docs/hdf5-schema.md`; the names live in [`schema`]. Files we
//! write read through h5py exactly as the original's do (same names, dtypes, shapes, string
//! type); they use HDF5's 1.8 group format, which stays fast with 123,287 images at the root.
//! Writers flush after every batch, so a killed writer leaves a readable file holding every
//! finished batch, and `append` resumes it.
//!
//! # Layers
//!
//! The modules form layers, listed bottom-up. A module imports only from lower layers, or from
//! its own layer's siblings where stated below; nothing imports through this file's
//! re-exports, and no import cycle exists (`tests/layers.rs` checks all three).
//!
//! 1. Foundation: `error`, `schema` (the names, `parse_id`), `id` (image ids: `ImageId`, `Key`),
//!    `testing` (the crash-test hook),
//!    `sync` (when writers sync to the disk); on
//!    them `bounds` (sizes read from files, `check_len`), `kind` (the vocabulary: `Profile`,
//!    `FileKind`, `CaptionLayout`), `entry` (the entries as plain data), `provenance` and
//!    `gzip_chunks` (h5py's gzip chunk shapes and the float chunks compressed on rayon, which
//!    both back-ends store); `testing` builds test entries of `entry`.
//! 2. Format back-ends: `h5` (the HDF5 library: `resume`, `gzip`, `packed`, `direct_chunk`,
//!    `chunks`, `vlen`, and reading and writing `provenance`) and `oldh5` (h5py's default file
//!    format written and read without the library, and `validate`, the checks of damaged
//!    files); `h5` runs `oldh5::validate` before the library reads a file, `oldh5` does not use
//!    `h5`.
//! 3. Typed files: `original` (`vis`, `txt`, `caption_db`) and `haav` (the same three), which
//!    writes and reads its `txt_ctx` through the original's; `compact` (the compact layout of
//!    either profile's `txt_ctx`), which `original::txt` reads through: `compact` imports
//!    neither, and is handed the loader of the caption database of its profile.
//! 4. Operations over files: `ops::inspect` (`detect`, `summarize`), `ops::check` and
//!    `ops::merge` (each with `original` and `haav`; both tell the kind by `ops::inspect`),
//!    `ops::commit` (where a file stands after its writer stopped, and its roll-back),
//!    `ops::batch` (feature `tch`).
//! 5. This file: the public face, the one list of what the crate exports.
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

mod bounds;
mod compact;
mod entry;
mod error;
mod gzip_chunks;
mod h5;
mod haav;
mod id;
mod kind;
mod oldh5;
mod ops;
mod original;
mod provenance;
pub mod schema;
mod sync;
#[doc(hidden)]
pub mod testing;

pub use compact::write::CompactTxtWriter;
pub use compact::{CaptionDbIdentity, CompactIds, CompactInfo, compact_info};
pub use entry::{
    Caption, Captions, HaavVisCtx, HaavVisEntry, PackedTexts, TxtArrays, TxtEntry, ViewArrays,
    ViewEntry, VisCtx,
};
pub use error::{Error, Result};
pub use h5::hdf5_version;
pub use haav::caption_db::{HaavCaptionDb, HaavCaptionDbWriter};
pub use haav::txt::{HaavTxtCtxReader, HaavTxtCtxWriter};
pub use haav::vis::{HaavVisCtxReader, HaavVisCtxWriter};
pub use id::{ImageId, Key};
pub use kind::{CaptionLayout, FileKind, Profile};
#[cfg(feature = "tch")]
pub use ops::batch::haav::{
    HaavTxtBatch, HaavTxtView, HaavVisBatch, haav_txt_batch, haav_vis_batch,
};
#[cfg(feature = "tch")]
pub use ops::batch::original::{TxtBatch, txt_batch, vis_batch};
pub use ops::check::report::{Report, Violation};
pub use ops::check::{CheckOptions, check, check_with};
pub use ops::commit::{CommitState, commit_state, recover};
pub use ops::inspect::{Summary, detect, summarize};
pub use ops::merge::{Merged, merge};
pub use original::caption_db::{CaptionDb, CaptionDbWriter};
pub use original::txt::{TxtCtxReader, TxtCtxWriter};
pub use original::vis::{VisCtxReader, VisCtxWriter};
pub use provenance::Provenance;
pub use schema::View;
pub use sync::{SyncPolicy, set_sync_policy, sync_policy};
