//! `txt_ctx.hdf5` written as h5py writes the original's: per image an old-style group holding
//! `whole`, `five` and `nine`, each with contiguous `features` and `scores` (float32) and `texts`
//! (variable-length UTF-8 strings in one global heap collection per image).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::encode::{self, Addr, Buf, Entry};
use super::io::FileIo;
use super::parse;
use super::root::RootIndex;
use super::synced::{self, SyncRecord};
use crate::bounds;
use crate::entry::TxtEntry;
use crate::error::{Error, Result};
use crate::id::{self, ImageId};
use crate::schema::{self, View};
use crate::sync::SyncClock;
use crate::testing::{self, IoOp, WritePoint};

const _: () = assert!(cfg!(target_endian = "little"), "floats are written as they lie in memory");

/// Images laid out in parallel per hand-over to the writing thread.
const LAYOUT_GROUP: usize = 16;

/// Objects per global heap collection (their indices are 16-bit).
const COLLECTION_OBJECTS: usize = 65_535;

/// A `txt_ctx.hdf5` being written by this module.
pub(crate) struct NativeTxt {
    path: PathBuf,
    /// The file, held open for its lock.
    _file: std::fs::File,
    /// Its writes and syncs.
    io: Box<dyn FileIo>,
    /// End of the committed file: where the next batch goes.
    eof: u64,
    index: RootIndex,
    /// The root object header's messages besides its symbol table: the attributes.
    root_messages: Vec<(u16, u8, Vec<u8>)>,
    /// When to sync; files without a sync record (`synced`) sync every batch.
    clock: SyncClock,
    has_record: bool,
    /// The last superblock written, and whether a sync came after it.
    superblock: Vec<u8>,
    synced: bool,
}

impl NativeTxt {
    /// Creates `path` with string attributes `attributes` at the root.
    pub(crate) fn create(
        path: &Path,
        attributes: &[(&str, &str)],
        overwrite: bool,
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
        // The attributes' strings in one collection after the sync record's sector.
        let mut b = Buf::default();
        let values: Vec<&[u8]> = attributes.iter().map(|(_, v)| v.as_bytes()).collect();
        encode::global_heap(&mut b, values);
        let gcol = Addr::Abs(synced::DATA_START);
        let root_messages = attributes
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let m = encode::str_attribute(name, value.len(), gcol, i as u32 + 1);
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
        };
        w.commit(false)?;
        Ok(w)
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise). `complete` are the ids of its complete images (checked by the caller through
    /// HDF5); any other member of the root group is dropped from the index, to be written again.
    pub(crate) fn append(path: &Path, complete: &[ImageId]) -> Result<Option<Self>> {
        let file = open_rw(path)?;
        let Some(existing) = parse::read(path, &file)? else {
            return Ok(None);
        };
        let keep: std::collections::HashSet<&str> = complete.iter().map(ImageId::as_str).collect();
        let members: Vec<_> =
            existing.members.into_iter().filter(|(name, _)| keep.contains(&**name)).collect();
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

    /// Writes a batch of images and commits it.
    pub(crate) fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let mut names = std::collections::HashSet::with_capacity(entries.len());
        for e in entries {
            let name = id::checked_name(&self.path, &e.id)?.into_owned();
            if self.index.contains(&name) || !names.insert(name.clone()) {
                return Err(Error::Input {
                    path: self.path.clone(),
                    object: name,
                    message: "this image is in the file already".into(),
                });
            }
        }
        // Other threads lay the images out (in groups, in parallel) while this one writes
        // them: the layout (every byte but the floats) costs about a fifth of the write itself.
        let path = &self.path;
        let start = self.eof;
        let (placed, end) = std::thread::scope(|s| -> Result<(Vec<(u64, RelEntry)>, u64)> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Image, Vec<u8>, u64)>>(64);
            s.spawn(move || {
                let mut at = start;
                for group in entries.chunks(LAYOUT_GROUP) {
                    let laid: Result<Vec<Image>> =
                        group.par_iter().map(|e| Image::lay_out(path, e)).collect();
                    let laid = match laid {
                        Ok(laid) => laid,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    for mut im in laid {
                        let base = at;
                        at += im.len();
                        let meta = std::mem::take(&mut im.meta).relocate(base);
                        if tx.send(Ok((im, meta, base))).is_err() {
                            return;
                        }
                    }
                }
            });
            let fio = &mut self.io;
            let (mut placed, mut end) = (Vec::with_capacity(entries.len()), start);
            for (i, laid) in rx.into_iter().enumerate() {
                let (im, meta, base) = laid?;
                let mut slices: Vec<&[u8]> = im.floats.clone();
                slices.push(&meta);
                fio.write_at(base, &slices).map_err(io(path, &im.name))?;
                testing::at(WritePoint::Entry(i));
                placed.push((base, im.entry));
                end = base + im.len();
            }
            Ok((placed, end))
        })?;
        if placed.len() != entries.len() {
            return Err(Error::Input {
                path: self.path.clone(),
                object: "/".into(),
                message: "the layout thread stopped".into(),
            });
        }
        for ((base, entry), e) in placed.into_iter().zip(entries) {
            self.index.insert(e.id.as_str(), entry.at(base));
        }
        self.eof = end;
        testing::at(WritePoint::BeforeFlush);
        self.commit(true)?;
        tracing::debug!(n = entries.len(), "txt_ctx batch written");
        Ok(())
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
        self.io.mark(IoOp::Committed(self.index.len() as u64));
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
        self.io.mark(IoOp::Durable(self.index.len() as u64));
        Ok(())
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

fn io<'a>(path: &'a Path, object: &'a str) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| Error::Write { path: path.to_owned(), object: object.to_owned(), source }
}

/// One image laid out at a yet unknown address: its floats (written as they are), then `meta`,
/// every other byte (texts, headers, groups) at the end.
struct Image<'e> {
    name: String,
    floats: Vec<&'e [u8]>,
    meta: Buf,
    /// Bytes of the image: floats and `meta`.
    len: u64,
    /// The image group's root entry, addresses relative to the image's start.
    entry: RelEntry,
}

#[derive(Clone, Copy)]
struct RelEntry(Entry);

impl RelEntry {
    fn at(self, base: u64) -> Entry {
        let abs = |a: Addr| match a {
            Addr::Rel(r) => Addr::Abs(base + r),
            a => a,
        };
        let e = self.0;
        Entry { name: e.name, header: abs(e.header), group: e.group.map(|(t, h)| (abs(t), abs(h))) }
    }
}

impl<'e> Image<'e> {
    fn len(&self) -> u64 {
        self.len
    }

    fn lay_out(path: &Path, e: &'e TxtEntry) -> Result<Self> {
        let name = e.id.to_string();
        let mut floats = Vec::with_capacity(6);
        let mut float_at = 0u64;
        let mut places = Vec::with_capacity(3);
        if let Some(message) = e.views_error() {
            return Err(Error::Input { path: path.to_owned(), object: name, message });
        }
        let held: Vec<View> = e.views().collect();
        for &view in &held {
            let v = e.view(view);
            if v.crops != view.crops() {
                return Err(Error::Input {
                    path: path.to_owned(),
                    object: format!("{name}/{view}"),
                    message: format!("{} crops, expected {}", v.crops, view.crops()),
                });
            }
            let shape = view.shape(v.k);
            let mut fshape = shape.clone();
            fshape.push(v.d);
            let obj = |d: &str| schema::txt_object(&e.id, view, d);
            let n = v.crops * v.k;
            for (dataset, dims, len) in [
                (schema::FEATURES, &fshape, v.features.len()),
                (schema::SCORES, &shape, v.scores.len()),
                (schema::TEXTS, &shape, v.texts.len()),
            ] {
                if len != if dataset == schema::FEATURES { n * v.d } else { n } {
                    bounds::check_len(path, &obj(dataset), dims, len)?;
                }
            }
            if let Some(t) = v.texts.iter().find(|t| t.contains('\0')) {
                return Err(Error::Input {
                    path: path.to_owned(),
                    object: obj(schema::TEXTS),
                    message: format!("text {t:?} holds a NUL byte, which HDF5 strings cannot"),
                });
            }
            let features: &[u8] = bytemuck::cast_slice(&v.features);
            let scores: &[u8] = bytemuck::cast_slice(&v.scores);
            places.push((float_at, float_at + features.len() as u64, shape, fshape));
            float_at += (features.len() + scores.len()) as u64;
            floats.extend([features, scores]);
        }
        let aligned = float_at.next_multiple_of(8);
        if aligned > float_at {
            floats.push(&[0; 8][..(aligned - float_at) as usize]);
        }
        let text_bytes: usize = held
            .iter()
            .flat_map(|&v| e.view(v).texts.iter())
            .map(|t| 16 + t.len().next_multiple_of(8) + 16)
            .sum();
        let mut b = Buf::with_capacity(aligned, text_bytes + 4096 + 12 * 1024);
        // Texts: every view's, in one collection (more for over 65,535 texts).
        let texts: Vec<&[u8]> =
            held.iter().flat_map(|&v| e.view(v).texts.iter().map(|t| t.as_bytes())).collect();
        let collections: Vec<u64> = texts
            .chunks(COLLECTION_OBJECTS)
            .map(|c| encode::global_heap(&mut b, c.iter().copied()))
            .collect();
        let mut text_index = 0;
        let mut views = Vec::with_capacity(3);
        for (view, (features_at, scores_at, shape, fshape)) in held.iter().copied().zip(places) {
            let v = e.view(view);
            let refs_at = b.here();
            for t in &v.texts {
                let (c, i) = (text_index / COLLECTION_OBJECTS, text_index % COLLECTION_OBJECTS);
                encode::vlen_ref(&mut b, t.len(), Addr::Rel(collections[c]), i as u32 + 1);
                text_index += 1;
            }
            let data = |at: u64, bytes: usize| {
                encode::contiguous(
                    if bytes == 0 { Addr::Abs(super::UNDEF) } else { Addr::Rel(at) },
                    bytes as u64,
                )
            };
            let f32_dataset = |b: &mut Buf, at: u64, dims: &[usize]| {
                let bytes = dims.iter().product::<usize>() * 4;
                let messages = vec![
                    encode::dataspace(dims),
                    encode::f32_type(),
                    encode::fill_value(false),
                    data(at, bytes),
                ];
                dataset(encode::object_header(b, messages))
            };
            let features = f32_dataset(&mut b, features_at, &fshape);
            let scores = f32_dataset(&mut b, scores_at, &shape);
            let texts = dataset(encode::object_header(
                &mut b,
                vec![
                    encode::dataspace(&shape),
                    encode::vlen_str_type(),
                    encode::fill_value(true),
                    data(refs_at, v.texts.len() * 16),
                ],
            ));
            let members =
                [(schema::FEATURES, features), (schema::SCORES, scores), (schema::TEXTS, texts)];
            views.push((view.name(), encode::small_group(&mut b, &members)));
        }
        let entry = encode::small_group(&mut b, &views);
        Ok(Self { name, floats, len: b.here(), meta: b, entry: RelEntry(entry) })
    }
}

fn dataset(header: u64) -> Entry {
    Entry { name: 0, header: Addr::Rel(header), group: None }
}
