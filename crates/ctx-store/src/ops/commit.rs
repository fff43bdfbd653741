//! Where a file stands after its writer stopped, as `ctx-inspect` shows it.

use std::path::Path;

use crate::error::{Error, Result};

/// How a file's batches were committed, and whether its writer finished it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitState {
    /// Written by ctx-store's native writer (every `txt_ctx.hdf5`, `vis_ctx.hdf5` and
    /// `caption_db.hdf5` of both profiles that it created): every
    /// batch committed by one write, its images all there or none; the file holds every batch
    /// committed before its writer stopped.
    Atomic {
        /// The last commit is on the disk (a sync came after it): a power cut now loses
        /// nothing.
        synced: bool,
        /// The writer finished the file (and nothing was written after).
        finished: bool,
    },
    /// Written through the HDF5 library, which flushes each batch but not atomically (or by
    /// another program): whether the writer finished is not recorded.
    Flushed,
}

impl std::fmt::Display for CommitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Atomic { finished: true, .. } => f.write_str("atomic by batch; finished"),
            Self::Atomic { synced, .. } => write!(
                f,
                "atomic by batch; not finished (a killed or running writer), last commit {}",
                if *synced { "synced" } else { "not synced yet" }
            ),
            Self::Flushed => f.write_str("flushed by batch through HDF5 (not atomic)"),
        }
    }
}

/// The [`CommitState`] of `path`.
pub fn commit_state(path: impl AsRef<Path>) -> Result<CommitState> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        object: "/".into(),
        source,
    })?;
    let state = crate::oldh5::synced::state(&file).map_err(|source| Error::Io {
        path: path.to_owned(),
        object: "(sync record)".into(),
        source,
    })?;
    Ok(match state {
        Some((synced, finished)) => CommitState::Atomic { synced, finished },
        None => CommitState::Flushed,
    })
}

/// Before a file is continued: a file of the native writer (every `txt_ctx.hdf5`,
/// `vis_ctx.hdf5` and `caption_db.hdf5` of both profiles that it created) is rolled back to its
/// last sync if the machine restarted since (a power cut may have torn what was committed after
/// it; `docs/crash-safety.md`); any other file is left as it is. The writers' `append`s do this
/// themselves; callers that read the file before (its provenance) call it first.
pub fn recover(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if !path.exists() {
        return Ok(());
    }
    crate::oldh5::file::NativeFile::recover(path)
}
