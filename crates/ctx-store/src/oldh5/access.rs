//! The checks of [`validate`] run once per process and file ([`file`]), and what they left to
//! check until an object is opened ([`Checks`], held by the reader that opened the file): in a
//! superblock 0 file of more than [`validate::FULL_WALK_MEMBERS`] root members, each member (an
//! image) when it is first opened; in a superblock 2 or 3 file, each chunked dataset's chunk
//! B-tree. A member or dataset found sound is not checked again in this process.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::encode::Addr;
use super::parse::Reader;
use super::validate::{self, Later};
use crate::error::Result;

/// A file as it was checked: device, inode, length, modification time (s, ns).
type FileKey = (u64, u64, u64, i64, i64);

fn key(meta: &std::fs::Metadata) -> FileKey {
    (meta.dev(), meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

/// What is left to check in one file opened for reading, as [`file`] found it when the file was
/// opened. Clones share what was checked since.
#[derive(Clone, Default)]
pub(crate) struct Checks(Option<Arc<Pending>>);

/// A file with objects left to check.
struct Pending {
    raw: std::fs::File,
    len: u64,
    /// Root members not checked at open, by name.
    members: HashMap<Box<str>, Member>,
    /// In a file whose chunk indexes are checked when opened: the object headers of the
    /// datasets checked since.
    chunk_indexes: Option<Mutex<HashSet<u64>>>,
}

/// A root member left to check when it is opened.
struct Member {
    /// Its object header's address.
    at: u64,
    checked: AtomicBool,
}

/// Files [`file`] found sound in this process, and what is left to check in each.
static FILES: Mutex<Vec<(FileKey, Checks)>> = Mutex::new(Vec::new());

/// Checks the structures of `path` that opening, detecting and summarising it make HDF5 read
/// ([`validate::check`]), once per process and file, and returns what is left to check when
/// objects are opened. Files that cannot be opened are left to the library, which reports them.
pub(crate) fn file(path: &Path) -> Result<Checks> {
    let Ok(raw) = std::fs::File::open(path) else { return Ok(Checks::default()) };
    let Ok(meta) = raw.metadata() else { return Ok(Checks::default()) };
    let key = key(&meta);
    if let Some(checks) = known(key) {
        return Ok(checks);
    }
    let later = validate::check(path, &raw, meta.len())?;
    let checks = Checks::new(raw, meta.len(), later);
    if let Ok(mut f) = FILES.lock() {
        f.push((key, checks.clone()));
    }
    Ok(checks)
}

/// What is left to check in the file of `key`, if it was checked in this process.
fn known(key: FileKey) -> Option<Checks> {
    let files = FILES.lock().ok()?;
    files.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone())
}

/// Bytes a check reads first: an h5py dataset's object header (16 bytes and a chunk of 256), or
/// one of our datasets' (version 2) header, in one read.
const FIRST_READ: usize = 512;
/// Bytes a member's check reads at once after that: a group's headers and indexes lie together.
const BLOCK: usize = 8 * 1024;

impl Checks {
    /// The checks left in the file `raw` (`len` bytes) that [`validate::check`] found sound but
    /// for `later`.
    fn new(raw: std::fs::File, len: u64, later: Later) -> Self {
        let (members, chunk_indexes) = match later {
            Later::Nothing => return Self(None),
            Later::Members(m) => {
                let members = m
                    .into_iter()
                    .filter_map(|(name, e)| match e.header {
                        Addr::Abs(at) => {
                            Some((name, Member { at, checked: AtomicBool::new(false) }))
                        }
                        Addr::Rel(_) => None,
                    })
                    .collect();
                (members, None)
            }
            Later::ChunkIndexes => (HashMap::new(), Some(Mutex::default())),
        };
        Self(Some(Arc::new(Pending { raw, len, members, chunk_indexes })))
    }

    /// Before the library opens `name`, a member of the root group of `path`: checks it and what
    /// lies below it if [`file`] left it unchecked.
    pub(crate) fn root_member(&self, path: &Path, name: &str) -> Result<()> {
        let Some(p) = &self.0 else { return Ok(()) };
        let Some(m) = p.members.get(name) else { return Ok(()) };
        if m.checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut r = Reader::with_blocks(path, &p.raw, p.len, FIRST_READ, BLOCK);
        validate::member(&mut r, m.at, name)?;
        m.checked.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether chunked datasets have their chunk index checked when opened
    /// ([`dataset_opened`](Self::dataset_opened)).
    pub(crate) fn chunk_indexes(&self) -> bool {
        self.0.as_ref().is_some_and(|p| p.chunk_indexes.is_some())
    }

    /// After the library opened the chunked dataset `object` of `path` (object header at `at`),
    /// before it reads the dataset's chunk index: checks the index.
    pub(crate) fn dataset_opened(&self, path: &Path, at: u64, object: &str) -> Result<()> {
        let Some(p) = &self.0 else { return Ok(()) };
        let Some(done) = &p.chunk_indexes else { return Ok(()) };
        if done.lock().map(|d| d.contains(&at)).unwrap_or(false) {
            return Ok(());
        }
        // The header, then each node of the index where it lies: each structure in one read.
        let mut r = Reader::with_blocks(path, &p.raw, p.len, FIRST_READ, FIRST_READ);
        validate::dataset_chunk_index(&mut r, at, object)?;
        if let Ok(mut d) = done.lock() {
            d.insert(at);
        }
        Ok(())
    }
}
