//! A file being written by the native writer, whatever its kind: the file and its I/O, the
//! committed end, the root group's index and attributes, and the commit protocol (the root
//! group's index after the end, a sync where the policy asks for one, the superblock, the sync
//! record and a sync). The kinds (`txt`, `vis`) lay out their images and append them at
//! [`NativeFile::eof`], then [`NativeFile::commit`] the batch.

use std::path::{Path, PathBuf};

use super::encode::{self, Addr, Buf, Entry};
use super::io::FileIo;
use super::parse;
use super::root::RootIndex;
use super::synced::{self, SyncRecord};
use crate::error::{Error, Result};
use crate::sync::SyncClock;
use crate::testing::{self, IoOp, WritePoint};

/// A root attribute of a new file.
pub(crate) enum RootAttr<'a> {
    /// A variable-length UTF-8 string (h5py's `str`).
    Str(&'a str, &'a str),
    /// An int64 (h5py's `int`).
    I64(&'a str, i64),
}

/// A file being written by the native writer.
pub(crate) struct NativeFile {
    pub(super) path: PathBuf,
    /// The file, held open for its lock.
    _file: std::fs::File,
    /// Its writes and syncs.
    pub(super) io: Box<dyn FileIo>,
    /// End of the committed file: where the next batch goes.
    pub(super) eof: u64,
    pub(super) index: RootIndex,
    /// The root object header's messages besides its symbol table: the attributes.
    root_messages: Vec<(u16, u8, Vec<u8>)>,
    /// When to sync; files without a sync record (`synced`) sync every batch.
    clock: SyncClock,
    has_record: bool,
    /// The last superblock written, and whether a sync came after it.
    superblock: Vec<u8>,
    synced: bool,
    /// What the recording's commit marks count, if not the root group's members (the rows of
    /// a file whose datasets grow).
    pub(super) progress: Option<u64>,
}

impl NativeFile {
    /// Creates `path` with `attributes` at the root, in this order.
    pub(crate) fn create(path: &Path, attributes: &[RootAttr], overwrite: bool) -> Result<Self> {
        Self::create_with(path, attributes, overwrite, |_| (Vec::new(), Vec::new()))
    }

    /// [`create`](Self::create) with the root members `first` lays out (their bytes, to go at
    /// the address it is given, and their entries) in the file's first commit.
    pub(crate) fn create_with(
        path: &Path,
        attributes: &[RootAttr],
        overwrite: bool,
        first: impl FnOnce(u64) -> (Vec<u8>, Vec<(String, Entry)>),
    ) -> Result<Self> {
        if path.exists() && !overwrite {
            return Err(Error::Exists { path: path.to_owned() });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(path, "/"))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io(path, "/"))?;
        lock(path, &file)?;
        let mut fio = super::io::of(file.try_clone().map_err(io(path, "/"))?);
        fio.set_len(0).map_err(io(path, "/"))?;
        // The string attributes' bytes in one collection after the sync record's sector.
        let mut b = Buf::default();
        let values: Vec<&[u8]> = attributes
            .iter()
            .filter_map(|a| match a {
                RootAttr::Str(_, v) => Some(v.as_bytes()),
                RootAttr::I64(..) => None,
            })
            .collect();
        encode::global_heap(&mut b, values);
        let gcol = Addr::Abs(synced::DATA_START);
        let mut strings = 0;
        let root_messages = attributes
            .iter()
            .map(|a| {
                let m = match a {
                    RootAttr::Str(name, value) => {
                        strings += 1;
                        encode::str_attribute(name, value.len(), gcol, strings)
                    }
                    RootAttr::I64(name, value) => encode::i64_attribute(name, *value),
                };
                (m.kind, m.flags, m.body.relocate(0))
            })
            .collect();
        let bytes = b.relocate(synced::DATA_START);
        fio.write_at(synced::DATA_START, &[&bytes]).map_err(io(path, "/"))?;
        let mut w = Self {
            path: path.to_owned(),
            _file: file,
            io: fio,
            eof: synced::DATA_START + bytes.len() as u64,
            index: RootIndex::new(),
            root_messages,
            clock: SyncClock::new(),
            has_record: true,
            superblock: Vec::new(),
            synced: false,
            progress: None,
        };
        let (bytes, members) = first(w.eof);
        if !bytes.is_empty() {
            w.io.write_at(w.eof, &[&bytes]).map_err(io(path, "/"))?;
            w.eof += bytes.len() as u64;
        }
        for (name, entry) in members {
            w.index.insert(&name, entry);
        }
        w.commit(false)?;
        Ok(w)
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise). Members of the root group that `keep` refuses are dropped from the index, to
    /// be written again.
    pub(crate) fn append(path: &Path, keep: impl Fn(&str) -> bool) -> Result<Option<Self>> {
        let file = open_rw(path)?;
        let Some(existing) = parse::read(path, &file)? else {
            return Ok(None);
        };
        let members: Vec<_> = existing.members.into_iter().filter(|(name, _)| keep(name)).collect();
        let has_record = SyncRecord::read(&file).is_some();
        let mut fio = super::io::of(file.try_clone().map_err(io(path, "/"))?);
        // What a killed writer appended after its last commit is dropped.
        fio.set_len(existing.eof).map_err(io(path, "/"))?;
        let mut w = Self {
            path: path.to_owned(),
            _file: file,
            io: fio,
            eof: existing.eof,
            index: RootIndex::from_existing(members, existing.heap),
            root_messages: existing.root_messages,
            clock: SyncClock::new(),
            has_record,
            superblock: Vec::new(),
            synced: false,
            progress: None,
        };
        w.commit(false)?;
        Ok(Some(w))
    }

    /// Before a file is opened to be continued: rolls it back to its last sync if the machine
    /// restarted since (a power cut may have torn what was committed after it); see `synced`.
    pub(crate) fn recover(path: &Path) -> Result<()> {
        let file = open_rw(path)?;
        synced::roll_back_if_cut(path, &file).map_err(io(path, "/"))?;
        Ok(())
    }

    /// An error unless every name is new: neither in the file nor twice among `names`.
    pub(crate) fn check_new<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for name in names {
            if self.index.contains(name) || !seen.insert(name) {
                return Err(Error::Input {
                    path: self.path.clone(),
                    object: name.to_owned(),
                    message: "this image is in the file already".into(),
                });
            }
        }
        Ok(())
    }

    /// Adds the members of a batch appended up to `end` (entries absolute) and commits them.
    pub(crate) fn commit_batch(
        &mut self,
        members: impl IntoIterator<Item = (String, Entry)>,
        end: u64,
    ) -> Result<()> {
        for (name, entry) in members {
            self.index.insert(&name, entry);
        }
        self.eof = end;
        testing::at(WritePoint::BeforeFlush);
        self.commit(true)
    }

    /// Like [`commit_batch`](Self::commit_batch), for members that may be in the file
    /// already: those are pointed at their new entries.
    pub(crate) fn commit_replacing(
        &mut self,
        members: impl IntoIterator<Item = (String, Entry)>,
        end: u64,
    ) -> Result<()> {
        for (name, entry) in members {
            self.index.set(&name, entry);
        }
        self.eof = end;
        testing::at(WritePoint::BeforeFlush);
        self.commit(true)
    }

    /// Writes the root group's index after the file's end, then the superblock that points to
    /// it; `batch`: the commit of a batch (the test hook's points, the sync policy), not of a
    /// file being opened, which always syncs.
    ///
    /// Where the policy syncs: a sync (everything the superblock will point to is on the
    /// disk), the superblock, the sync record (its copy), a sync. Files without a sync record
    /// (opened, not created, by this writer) sync at every batch.
    fn commit(&mut self, batch: bool) -> Result<()> {
        let at = |p| batch.then(|| testing::at(p));
        let c = self.index.commit(self.eof, &self.root_messages);
        let path = &self.path;
        self.io.write_at(self.eof, &[&c.tail]).map_err(io(path, "/"))?;
        if let Some((at, bytes)) = &c.in_place {
            self.io.write_at(*at, &[bytes]).map_err(io(path, "/"))?;
        }
        let eof = self.eof + c.tail.len() as u64;
        at(WritePoint::Index);
        let sync = !batch || !self.has_record || self.clock.due();
        if sync {
            self.io.sync().map_err(io(path, "/"))?;
        }
        self.superblock = encode::superblock(eof, &c.root);
        self.io.write_at(0, &[&self.superblock]).map_err(io(path, "/"))?;
        self.eof = eof;
        self.synced = false;
        self.io.mark(IoOp::Committed(self.progress()));
        if sync {
            self.sync_committed(false)?;
        }
        at(WritePoint::Flushed);
        Ok(())
    }

    /// After the superblock: its copy in the sync record (`finished`: the writer's last), and a
    /// sync.
    fn sync_committed(&mut self, finished: bool) -> Result<()> {
        let path = &self.path;
        if self.has_record {
            let record = SyncRecord::now(self.superblock.clone(), finished).encode();
            self.io.write_at(synced::AT, &[&record]).map_err(io(path, "/"))?;
        }
        self.io.sync().map_err(io(path, "/"))?;
        self.clock.synced();
        self.synced = true;
        self.io.mark(IoOp::Durable(self.progress()));
        Ok(())
    }

    /// What the commit marks count.
    fn progress(&self) -> u64 {
        self.progress.unwrap_or(self.index.len() as u64)
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(mut self) -> Result<()> {
        if !self.synced {
            self.io.sync().map_err(io(&self.path, "/"))?;
        }
        self.sync_committed(true)
    }
}

fn open_rw(path: &Path) -> Result<std::fs::File> {
    let file =
        std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(io(path, "/"))?;
    lock(path, &file)?;
    Ok(file)
}

fn lock(path: &Path, file: &std::fs::File) -> Result<()> {
    file.try_lock().map_err(|e| Error::Io {
        path: path.to_owned(),
        object: "/".into(),
        source: std::io::Error::other(format!("the file is locked by another process ({e})")),
    })
}

/// A write error on `object` of `path`.
pub(super) fn io<'a>(path: &'a Path, object: &'a str) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| Error::Write { path: path.to_owned(), object: object.to_owned(), source }
}
