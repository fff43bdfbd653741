//! Test support, not part of the API: a process-wide hook that the writers call at fixed points
//! of every batch write, so that a crash test can stop a writer at a known point and kill it
//! there (`tests/crash.rs` with its writer process, `tests/support/crash_writer.rs`).

use std::sync::OnceLock;

/// A point inside a writer's `write_batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePoint {
    /// Entry `n` of the batch (0-based: an image; for a caption database, its `keys`,
    /// `features` and `captions`) has been created in HDF5's metadata cache, not yet flushed.
    Entry(usize),
    /// The data thread has written group `n` (0-based, about 1 MiB each) of the batch's floats.
    RawData(usize),
    /// Every object and float of the batch is written; HDF5's flush of its metadata comes next.
    BeforeFlush,
    /// A file written without the HDF5 library: the batch's images and the root group's new
    /// index are written, the superblock that commits them is not.
    Index,
    /// HDF5's flush of the batch returned: the batch is on disk.
    Flushed,
}

static HOOK: OnceLock<fn(WritePoint)> = OnceLock::new();

/// Installs `hook` for the rest of the process; false if one was installed already.
pub fn set_write_hook(hook: fn(WritePoint)) -> bool {
    HOOK.set(hook).is_ok()
}

/// Calls the hook, if one is installed.
pub(crate) fn at(point: WritePoint) {
    if let Some(hook) = HOOK.get() {
        hook(point);
    }
}
