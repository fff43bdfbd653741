//! The checks of [`validate`] run once per process and file ([`file`]), and what they left to
//! check until an object is opened, per file: in a superblock 0
//! file of more than [`validate::FULL_WALK_MEMBERS`] root members, each member (an image) when
//! it is first opened; in a superblock 2 or 3 file, each chunked dataset's chunk B-tree. A
//! member or dataset found sound is not checked again in this process.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::encode::Addr;
use super::parse::Reader;
use super::validate::{self, Later};
use crate::error::Result;

/// A file as it was checked: device, inode, length, modification time (s, ns).
pub(crate) type FileKey = (u64, u64, u64, i64, i64);

fn key(meta: &std::fs::Metadata) -> FileKey {
    (meta.dev(), meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

/// Checks the structures of `path` that opening, detecting and summarising it make HDF5 read
/// ([`validate::check`]), once per process and file, and remembers what is left to check when
/// objects are opened. Files that cannot be opened are left to the library, which reports them.
pub(crate) fn file(path: &Path) -> Result<()> {
    let Ok(raw) = std::fs::File::open(path) else { return Ok(()) };
    let Ok(meta) = raw.metadata() else { return Ok(()) };
    let key = key(&meta);
    if known(key) {
        return Ok(());
    }
    let later = validate::check(path, &raw, meta.len())?;
    remember(key, raw, meta.len(), later);
    Ok(())
}

/// A file with objects left to check.
struct Pending {
    raw: std::fs::File,
    len: u64,
    /// Root members not checked at open: name, object header address.
    members: HashMap<Box<str>, u64>,
    chunk_indexes: bool,
    /// Object headers checked since.
    done: Mutex<HashSet<u64>>,
}

/// Files [`file`] found sound in this process, and what is left to check in each.
static FILES: Mutex<Vec<(FileKey, Option<Arc<Pending>>)>> = Mutex::new(Vec::new());

/// Whether the file of `key` was checked in this process.
fn known(key: FileKey) -> bool {
    FILES.lock().map(|f| f.iter().any(|(k, _)| *k == key)).unwrap_or(false)
}

/// Records that the file of `key` (open as `raw`, `len` bytes) is sound, but for `later`.
fn remember(key: FileKey, raw: std::fs::File, len: u64, later: Later) {
    let pending = match later {
        Later::Nothing => None,
        Later::Members(m) => {
            let members = m
                .into_iter()
                .filter_map(|(name, e)| match e.header {
                    Addr::Abs(at) => Some((name, at)),
                    Addr::Rel(_) => None,
                })
                .collect();
            Some(Pending { raw, len, members, chunk_indexes: false, done: Default::default() })
        }
        Later::ChunkIndexes => Some(Pending {
            raw,
            len,
            members: HashMap::new(),
            chunk_indexes: true,
            done: Default::default(),
        }),
    };
    if let Ok(mut f) = FILES.lock() {
        f.push((key, pending.map(Arc::new)));
    }
}

/// What is left to check in `path`, if it was checked in this process.
fn pending(path: &Path) -> Option<Arc<Pending>> {
    let key = key(&std::fs::metadata(path).ok()?);
    let files = FILES.lock().ok()?;
    files.iter().find(|(k, _)| *k == key)?.1.clone()
}

/// Bytes a check at open reads at once: an image's headers and indexes lie together.
const BLOCK: usize = 8 * 1024;

impl Pending {
    /// Runs `check` on the object at `at` unless it was checked already.
    fn once(
        &self,
        path: &Path,
        at: u64,
        check: impl FnOnce(&mut Reader) -> Result<()>,
    ) -> Result<()> {
        if self.done.lock().map(|d| d.contains(&at)).unwrap_or(false) {
            return Ok(());
        }
        check(&mut Reader::with_block(path, &self.raw, self.len, BLOCK))?;
        if let Ok(mut d) = self.done.lock() {
            d.insert(at);
        }
        Ok(())
    }
}

/// Before the library opens `name`, a member of the root group of `path`: checks it and what
/// lies below it if [`file`] left it unchecked.
pub(crate) fn root_member(path: &Path, name: &str) -> Result<()> {
    let Some(p) = pending(path) else { return Ok(()) };
    let Some(&at) = p.members.get(name) else { return Ok(()) };
    p.once(path, at, |r| validate::member(r, at, name))
}

/// After the library opened the chunked dataset `object` of `path` (object header at `at`),
/// before it reads the dataset's chunk index: checks the index.
pub(crate) fn dataset_opened(path: &Path, at: u64, object: &str) -> Result<()> {
    let Some(p) = pending(path).filter(|p| p.chunk_indexes) else { return Ok(()) };
    p.once(path, at, |r| validate::dataset_chunk_index(r, at, object))
}
