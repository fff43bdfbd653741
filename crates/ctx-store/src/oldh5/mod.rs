//! Writing the original's `txt_ctx.hdf5` and `vis_ctx.hdf5` in the HDF5 file format itself, without the HDF5
//! library: the structures h5py writes by default (superblock 0, object headers 1,
//! symbol-table groups, contiguous datasets, global heap collections for the texts), laid out
//! image by image as one sequential append per batch (`file`: what both kinds share; `txt`,
//! `vis`: their images).
//!
//! A batch is committed by rewriting the superblock (96 bytes at offset 0, one `pwrite`) after
//! everything it points to is in the file: the images, then the root group's changed
//! symbol-table nodes, a new B-tree over them, its heap and a new root object header, all after
//! the end the previous superblock records. A writer killed at any point leaves the file as of
//! its last commit, readable by HDF5 and resumable. The HDF5 library stays the reader (and the
//! verifier, in the tests), and writes the files of other formats we append to.
//!
//! For power cuts, the writer syncs by the [`crate::SyncPolicy`]: a sync before the superblock
//! (a barrier: the data it points to are on the disk first), then the superblock, its copy in
//! the sync record (`synced`) and a sync. A file cut between two syncs is rolled back to its
//! sync record when it is opened to be continued (`synced`). All file I/O goes through `io`,
//! which the crash simulator's tests record.
//!
//! The same structures are read back without the library to preload a whole `txt_ctx.hdf5`
//! (ours or h5py's), in parallel (`read`); anything else goes through the library, after
//! `validate` checked the structures the library would trust (global heaps, B-trees, headers),
//! or, for objects opened later, `access` checks them when they are opened.

pub(crate) mod access;
pub(crate) mod caption_db;
pub(crate) mod caption_groups;
// Used by the caption_db and HAAV writers as they move onto it.
#[allow(dead_code)]
pub(crate) mod chunked;
mod dense_attrs;
mod encode;
pub(crate) mod file;
#[cfg(test)]
mod fuzz;
mod gzip_batch;
pub(crate) mod haav_txt;
pub(crate) mod haav_vis;
mod io;
mod parse;
pub(crate) mod read;
pub(crate) mod read_into;
mod root;
pub(crate) mod synced;
pub(crate) mod txt;
pub(crate) mod validate;
pub(crate) mod vis;
mod window;

/// The undefined address.
const UNDEF: u64 = u64::MAX;
/// Group leaf node K (symbol-table nodes hold up to 2K entries): HDF5's default, as h5py writes.
const LEAF_K: usize = 4;
/// Group internal node K (B-tree nodes have up to 2K children): HDF5's default.
const INTERNAL_K: usize = 16;
