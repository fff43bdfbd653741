//! Test support, not part of the API: a process-wide hook that the writers call at fixed points
//! of every batch write, so that a crash test can stop a writer at a known point and kill it
//! there (`tests/crash.rs` with its writer process, `tests/support/crash_writer.rs`); and the
//! native writer's I/O recorded or failing, for the crash simulator (`tests/power_cut.rs`).

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

/// One operation of the native writer's file I/O, as the crash simulator records it
/// ([`start_recording`]), in the order they completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoOp {
    /// `bytes` written at `at`.
    Write {
        /// The offset.
        at: u64,
        /// What was written.
        bytes: Vec<u8>,
    },
    /// The file truncated or extended to this length.
    SetLen(u64),
    /// A sync (`fdatasync`) returned: everything above is on the disk.
    Sync,
    /// Not an operation: the file's commit record now holds this many batches (its last write
    /// above committed them).
    Committed(u64),
    /// Not an operation: the sync above made the commit of this many batches survive a power
    /// cut.
    Durable(u64),
}

/// How the native writer's files are written (tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IoMode {
    Real,
    Record,
    FailAfter(u64),
}

static IO: std::sync::Mutex<(Option<IoMode>, Vec<IoOp>)> =
    std::sync::Mutex::new((None, Vec::new()));
static REBOOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn io_state() -> std::sync::MutexGuard<'static, (Option<IoMode>, Vec<IoOp>)> {
    IO.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Files the native writer opens from now on record their I/O (see [`take_recording`]).
pub fn start_recording() {
    *io_state() = (Some(IoMode::Record), Vec::new());
}

/// The operations recorded since [`start_recording`]; recording goes on.
pub fn take_recording() -> Vec<IoOp> {
    std::mem::take(&mut io_state().1)
}

/// Files the native writer opens from now on fail their writes with "no space left on device"
/// after `bytes` more bytes (what fits written); `None`: real I/O again.
pub fn fail_writes_after(bytes: Option<u64>) {
    io_state().0 = bytes.map(IoMode::FailAfter);
}

/// Whether files opened from now on are treated as if the machine had restarted since they
/// were last synced (what a power cut's file is); the crash simulator's states.
pub fn pretend_rebooted(rebooted: bool) {
    REBOOTED.store(rebooted, std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn io_mode() -> IoMode {
    io_state().0.unwrap_or(IoMode::Real)
}

pub(crate) fn record(op: IoOp) {
    io_state().1.push(op);
}

pub(crate) fn rebooted() -> bool {
    REBOOTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// A random view for tests and benchmarks: `crops` crops of `k` texts with `d`-sized features.
/// The values come from `value`, drawn from `rng` in a fixed order (the scores, then sorted best
/// first per crop; then the features), then text `i` from `text`: the same view for the same
/// generator state.
pub fn random_view<R>(
    rng: &mut R,
    crops: usize,
    k: usize,
    d: usize,
    mut value: impl FnMut(&mut R) -> f32,
    mut text: impl FnMut(&mut R, usize) -> String,
) -> crate::entry::ViewEntry {
    let mut scores: Vec<f32> = (0..crops * k).map(|_| value(rng)).collect();
    scores.chunks_mut(k.max(1)).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    let features = (0..crops * k * d).map(|_| value(rng)).collect();
    let texts = (0..crops * k).map(|i| text(rng, i)).collect();
    crate::entry::ViewEntry { crops, k, d, features, scores, texts }
}
