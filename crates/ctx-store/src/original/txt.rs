//! `txt_ctx.hdf5`: per image id, groups `whole`, `five`, `nine`, each with `features`,
//! `scores` and `texts`.

use std::path::{Path, PathBuf};

use hdf5::{File, Group};
use rayon::prelude::*;

use crate::bounds;
use crate::compact::db::LoadCaptions;
use crate::compact::read::Joined;
use crate::compact::{self, CompactInfo};
use crate::entry::Captions;
use crate::entry::{TxtEntry, ViewEntry};
use crate::error::{Error, Result};
use crate::h5::{self, gzip, h5err, packed, resume};
use crate::id::{self, ImageId, Key};
use crate::kind::{FileKind, Profile};
use crate::oldh5::read::{ImageReader, NativeIndex, NativeTxtFile};
use crate::oldh5::txt::NativeTxt;
use crate::original::caption_db::CaptionDb;
use crate::provenance::Provenance;
use crate::schema::{self, View};
use crate::testing::{self, WritePoint};

/// Writes `txt_ctx.hdf5` batch by batch; each batch is on disk once [`write_batch`] returns.
///
/// The original's files are written in the HDF5 file format itself, as h5py lays them out
/// (`oldh5`: no HDF5 library call, one sequential append per batch, committed by rewriting the
/// superblock); HAAV's compressed files, and files of other formats being resumed, through the
/// HDF5 library.
///
/// [`write_batch`]: TxtCtxWriter::write_batch
pub struct TxtCtxWriter {
    backend: Backend,
}

enum Backend {
    Native(NativeTxt),
    Hdf5 {
        w: h5::Writer,
        /// Datasets gzip-compressed in chunks (HAAV's files) instead of contiguous.
        compressed: Option<Compressed>,
    },
}

/// How HAAV's gzip datasets are written: their float chunks compressed on rayon's threads and
/// stored as they are by HDF5 (`packed`), or with `serial` compressed by HDF5 on the calling
/// thread (the previous path: the same file, for comparisons).
struct Compressed {
    packer: packed::Packer,
    serial: bool,
}

impl Compressed {
    fn of(kind: FileKind, path: &Path) -> Option<Self> {
        (kind == FileKind::HaavTxtCtx).then(|| Self {
            packer: packed::Packer::new(path, gzip::H5PY_GZIP_LEVEL),
            serial: false,
        })
    }
}

impl TxtCtxWriter {
    /// Creates the file (with provenance attributes at the root).
    pub fn create(
        path: impl AsRef<Path>,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let attributes = provenance.attributes(FileKind::TxtCtx);
        let native = NativeTxt::create(path.as_ref(), &attributes, overwrite)?;
        Ok(Self { backend: Backend::Native(native) })
    }

    /// Creates a file of `kind` through the HDF5 library; `root` adds its root attributes
    /// before the first flush.
    pub(crate) fn create_as(
        path: &Path,
        provenance: &Provenance,
        overwrite: bool,
        kind: FileKind,
        root: impl FnOnce(&h5::Writer) -> Result<()>,
    ) -> Result<Self> {
        let w = h5::Writer::create(path, overwrite)?;
        provenance.write(&w.path, w.file(), kind)?;
        root(&w)?;
        w.file().flush().map_err(h5err(&w.path, "/"))?;
        let compressed = Compressed::of(kind, &w.path);
        Ok(Self { backend: Backend::Hdf5 { w, compressed } })
    }

    /// Opens an existing file to add images (resume). Returns the writer and the ids of
    /// complete images; an image group missing a view (a crash inside a flush) is removed.
    pub fn append(path: impl AsRef<Path>) -> Result<(Self, Vec<ImageId>)> {
        let path = path.as_ref();
        NativeTxt::recover(path)?;
        let file = h5::open_read(path)?;
        let complete = resume::complete_ids(path, &file, complete_image)?;
        drop(file); // its lock, before the writer takes its own
        match NativeTxt::append(path, &complete)? {
            Some(native) => Ok((Self { backend: Backend::Native(native) }, complete)),
            None => Self::append_as(path, FileKind::TxtCtx),
        }
    }

    /// [`append`](Self::append) through the HDF5 library, to a file of `kind`.
    pub(crate) fn append_as(path: &Path, kind: FileKind) -> Result<(Self, Vec<ImageId>)> {
        let w = h5::Writer::append(path)?;
        let complete = resume::complete_image_groups(&w, complete_image)?;
        let compressed = Compressed::of(kind, &w.path);
        Ok((Self { backend: Backend::Hdf5 { w, compressed } }, complete))
    }

    /// With `serial`, HAAV's float chunks are compressed by HDF5 on the calling thread, as
    /// before the parallel writer (no effect on other files).
    pub(crate) fn set_serial_compression(&mut self, serial: bool) {
        if let Backend::Hdf5 { compressed: Some(c), .. } = &mut self.backend {
            c.serial = serial;
        }
    }

    /// Writes a batch of images and flushes it to disk.
    pub fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let (w, compressed) = match &mut self.backend {
            Backend::Native(native) => return native.write_batch(entries),
            Backend::Hdf5 { w, compressed } => (&*w, compressed.as_ref()),
        };
        w.write_batch(|sink| match compressed {
            Some(c) if !c.serial => write_packed(w, &c.packer, entries),
            _ => entries.iter().enumerate().try_for_each(|(i, e)| {
                write_entry(w, compressed.is_some(), e, sink)?;
                testing::at(WritePoint::Entry(i));
                Ok(())
            }),
        })?;
        tracing::debug!(n = entries.len(), "txt_ctx batch written");
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> Result<()> {
        match self.backend {
            Backend::Native(native) => native.finish(),
            Backend::Hdf5 { mut w, .. } => w.close(),
        }
    }
}

/// Whether an image group holds every view with its three datasets (or, in a file of the
/// whole view only, `whole` alone).
fn complete_image(g: &Group) -> bool {
    let full = |v: &View| {
        g.group(v.name())
            .is_ok_and(|vg| resume::holds(&vg, &[schema::FEATURES, schema::SCORES, schema::TEXTS]))
    };
    let crops = [View::Five, View::Nine];
    full(&View::Whole) && (crops.iter().all(full) || crops.iter().all(|v| !g.link_exists(v.name())))
}

/// An entry's views against what a file holds: `whole`, and `five` and `nine` together.
pub(crate) fn check_views(path: &Path, e: &TxtEntry) -> Result<()> {
    match e.views_error() {
        Some(message) => {
            Err(Error::Input { path: path.to_owned(), object: e.id.to_string(), message })
        }
        None => Ok(()),
    }
}

/// A view's crops against the schema's (the writers' first check of an entry).
fn check_crops(path: &Path, id: &ImageId, view: View, v: &ViewEntry) -> Result<()> {
    if v.crops != view.crops() {
        return Err(Error::Input {
            path: path.to_owned(),
            object: format!("{id}/{view}"),
            message: format!("{} crops, expected {}", v.crops, view.crops()),
        });
    }
    Ok(())
}

/// A batch of gzip-compressed entries (HAAV's): every float chunk of the batch compressed on
/// rayon's threads, then each image's groups made and its datasets written: features and scores
/// as their compressed chunks, texts through HDF5, in the order of [`write_entry`].
fn write_packed(w: &h5::Writer, packer: &packed::Packer, entries: &[TxtEntry]) -> Result<()> {
    let path = &w.path;
    let mut arrays = Vec::with_capacity(entries.len() * 6);
    for e in entries {
        check_views(path, e)?;
        for view in e.views() {
            let v = e.view(view);
            check_crops(path, &e.id, view, v)?;
            let shape = view.shape(v.k);
            let fshape = [shape.as_slice(), &[v.d]].concat();
            for (name, data, shape) in
                [(schema::FEATURES, &v.features, fshape), (schema::SCORES, &v.scores, shape)]
            {
                let object = schema::txt_object(&e.id, view, name);
                bounds::check_len(path, &object, &shape, data.len())?;
                let name = name.to_owned();
                arrays.push(packed::F32Array { name, object, data, shape });
            }
        }
    }
    if arrays.is_empty() {
        return Ok(());
    }
    let staged = packer.stage(&arrays)?;
    // Each view's features and scores, in the order they were staged.
    let mut next = arrays.iter().enumerate();
    for (i, e) in entries.iter().enumerate() {
        let name = id::checked_name(path, &e.id)?;
        let g = w.file().create_group(&name).map_err(h5err(path, &name))?;
        for view in e.views() {
            let v = e.view(view);
            let vg = g.create_group(view.name()).map_err(h5err(path, &format!("{name}/{view}")))?;
            for (at, a) in next.by_ref().take(2) {
                staged.write_to(at, &vg, &a.name, &a.object)?;
            }
            let object = schema::txt_object(&e.id, view, schema::TEXTS);
            gzip::write_strings(path, &vg, schema::TEXTS, &object, &view.shape(v.k), &v.texts)?;
        }
        testing::at(WritePoint::Entry(i));
    }
    Ok(())
}

fn write_entry<'d>(
    w: &h5::Writer,
    compressed: bool,
    e: &'d TxtEntry,
    sink: &h5::RawSink<'_, 'd>,
) -> Result<()> {
    let path = &w.path;
    let name = id::checked_name(path, &e.id)?;
    check_views(path, e)?;
    let g = w.file().create_group(&name).map_err(h5err(path, &name))?;
    for view in e.views() {
        let v = e.view(view);
        let object = format!("{name}/{view}");
        check_crops(path, &e.id, view, v)?;
        let vg = g.create_group(view.name()).map_err(h5err(path, &object))?;
        let shape = view.shape(v.k);
        let mut fshape = shape.clone();
        fshape.push(v.d);
        let obj = |d: &str| schema::txt_object(&e.id, view, d);
        let (features, scores, texts) = (&v.features, &v.scores, &v.texts);
        if compressed {
            gzip::write_f32(
                path,
                &vg,
                schema::FEATURES,
                &obj(schema::FEATURES),
                &fshape,
                features,
            )?;
            gzip::write_f32(path, &vg, schema::SCORES, &obj(schema::SCORES), &shape, scores)?;
            gzip::write_strings(path, &vg, schema::TEXTS, &obj(schema::TEXTS), &shape, texts)?;
        } else {
            sink.write_f32(&vg, schema::FEATURES, &obj(schema::FEATURES), &fshape, features)?;
            sink.write_f32(&vg, schema::SCORES, &obj(schema::SCORES), &shape, scores)?;
            h5::write_strings(path, &vg, schema::TEXTS, &obj(schema::TEXTS), &shape, texts)?;
        }
    }
    Ok(())
}

/// Reads `txt_ctx.hdf5` (ours or the original's).
pub struct TxtCtxReader {
    path: PathBuf,
    file: File,
    raw: std::fs::File,
    /// What is left to check as images are opened through the library.
    checks: h5::Checks,
    /// No userblock: dataset offsets are file offsets, so floats can be read directly.
    direct: bool,
    /// The file's length, which bounds the sizes read from it.
    len: u64,
    /// The root index of a file in h5py's default format, whose images are read (and their
    /// structures checked) without the HDF5 library; `None` for other files.
    native: Option<NativeIndex>,
    /// A file of the compact layout, joined with its caption database: every image is read
    /// from there.
    joined: Option<Box<Joined>>,
}

impl TxtCtxReader {
    /// Opens the file. A file of the compact layout is joined with the caption database it was
    /// made with, found beside it under its recorded name (refused when missing or another).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_joined(path.as_ref(), None, (Profile::Original, load_original))
    }

    /// Opens the file; a file of the compact layout is joined with `caption_db` (refused when
    /// not the one it was made with). The full layout ignores `caption_db`.
    pub fn open_with_caption_db(
        path: impl AsRef<Path>,
        caption_db: impl AsRef<Path>,
    ) -> Result<Self> {
        let db = Some(caption_db.as_ref());
        Self::open_joined(path.as_ref(), db, (Profile::Original, load_original))
    }

    /// Opens the file; a compact one of `profile` is joined with its caption database (`given`,
    /// or found beside it) loaded by `load`.
    pub(crate) fn open_joined(
        path: &Path,
        given: Option<&Path>,
        loader: (Profile, LoadCaptions),
    ) -> Result<Self> {
        let path = path.to_owned();
        let (file, checks) = h5::open_checked(&path)?;
        let raw = std::fs::File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            object: "/".into(),
            source,
        })?;
        let direct = file.userblock() == 0;
        let len = bounds::file_len(&path, &raw)?;
        let joined = match compact::is_compact(&path, &file)? {
            true => Some(Box::new(Joined::open(&path, &checks, &file, given, loader)?)),
            false => None,
        };
        let native = match direct && joined.is_none() {
            true => NativeIndex::read(&path, &raw)?,
            false => None,
        };
        Ok(Self { path, file, raw, checks, direct, len, native, joined })
    }

    /// The compact layout's root, `None` for a file of the full layout.
    pub fn compact(&self) -> Option<&CompactInfo> {
        self.joined.as_ref().map(|j| j.info())
    }

    /// The caption database a compact file is joined with, `None` for the full layout.
    pub fn caption_db(&self) -> Option<&Path> {
        self.joined.as_ref().map(|j| j.caption_db())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Provenance attributes, `None` for files the original wrote.
    pub fn provenance(&self) -> Result<Option<Provenance>> {
        Provenance::read(&self.path, &self.file)
    }

    /// Image ids, ascending; an error naming the first image whose name is not an integer
    /// (files of other sources: [`keys`](Self::keys)).
    pub fn ids(&self) -> Result<Vec<u64>> {
        id::integers(&self.path, &self.keys()?)
    }

    /// Every image's name, integers first ([`ImageId`]'s order).
    pub fn keys(&self) -> Result<Vec<ImageId>> {
        if let Some(j) = &self.joined {
            return Ok(j.ids().to_vec());
        }
        if let Some(index) = &self.native {
            return Ok(index.ids().to_vec());
        }
        h5::image_members(&self.path, &self.file)
    }

    /// One image, all views: `get(531912)` or `get("dog_01")`.
    pub fn get(&self, id: impl Key) -> Result<TxtEntry> {
        let id = id.name();
        if let Some(j) = &self.joined {
            return j.get(&id);
        }
        if let Some(e) = self.native(|r| r.load(&id))? {
            return Ok(e);
        }
        self.plan(&id)?.load(self)
    }

    /// What `read` gives for a file in h5py's default format (`None` for other files, and for
    /// images laid out otherwise, which the HDF5 library reads).
    fn native<T>(
        &self,
        read: impl FnOnce(&mut ImageReader<'_>) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let Some(index) = &self.native else { return Ok(None) };
        let file = NativeTxtFile::new(&self.path, &self.raw, index)?;
        read(&mut file.reader())
    }

    /// The member names of image `id`'s group in a file in h5py's default format, read without
    /// the HDF5 library (`None`: another format, or no such group).
    pub(crate) fn image_members(&self, id: &str) -> Result<Option<Vec<String>>> {
        self.native(|r| r.member_names(id))
    }

    /// The HDF5 part of reading an image (under HDF5's global lock): checks, texts, and where
    /// the float data lie. [`ImagePlan::load`] then reads the floats without the lock.
    fn plan(&self, id: &str) -> Result<ImagePlan> {
        let g = h5::group(&self.path, &self.checks, &self.file, id, id)?;
        if let [_, one] = held_views(&g)[..] {
            // Five without nine, or nine without five.
            let missing = if one == View::Five { View::Nine } else { View::Five };
            return Err(Error::Missing {
                path: self.path.clone(),
                object: format!("{id}/{missing}"),
            });
        }
        Ok(ImagePlan {
            id: ImageId::new(id),
            views: [
                self.plan_view(&g, id, View::Whole)?,
                self.plan_view(&g, id, View::Five)?,
                self.plan_view(&g, id, View::Nine)?,
            ],
        })
    }

    /// One view of one image, optionally one crop and the first `top_k` texts: the README's
    /// `f[f"{id}/five/features"][crop, :top_k]`.
    pub fn view(
        &self,
        id: impl Key,
        view: View,
        crop: Option<usize>,
        top_k: Option<usize>,
    ) -> Result<ViewEntry> {
        let id = id.name();
        let id = &*id;
        let joined = self.joined.as_ref().map(|j| j.view(id, view)).transpose()?;
        let v =
            match joined.map_or_else(|| self.native(|r| r.load_view(id, view)), |v| Ok(Some(v)))? {
                Some(v) => v,
                None => {
                    let g = h5::group(&self.path, &self.checks, &self.file, id, id)?;
                    self.read_view(&g, id, view)?
                }
            };
        if v.is_absent() {
            return Err(Error::Missing { path: self.path.clone(), object: format!("{id}/{view}") });
        }
        let crop = if view == View::Whole { crop.filter(|&c| c != 0) } else { crop };
        v.select(crop, top_k).ok_or_else(|| Error::Missing {
            path: self.path.clone(),
            object: format!("{id}/{view}[{}]", crop.unwrap_or(0)),
        })
    }

    fn read_view(&self, g: &Group, id: &str, view: View) -> Result<ViewEntry> {
        self.plan_view(g, id, view)?.load(self, id, view)
    }

    /// The views image `id` holds: all three, or `whole` alone (in a file of a run that
    /// searched the whole image only).
    pub fn views(&self, id: impl Key) -> Result<Vec<View>> {
        let name = id.name();
        if let Some(j) = &self.joined {
            return j.views(&name);
        }
        if let Some(members) = self.image_members(&name)? {
            let held = |v: &View| *v == View::Whole || members.iter().any(|m| m == v.name());
            return Ok(View::ALL.into_iter().filter(held).collect());
        }
        let g = h5::group(&self.path, &self.checks, &self.file, &name, &name)?;
        Ok(held_views(&g))
    }

    fn plan_view(&self, g: &Group, id: &str, view: View) -> Result<ViewPlan> {
        let path = &self.path;
        let object = format!("{id}/{view}");
        if view != View::Whole && !held_views(g).contains(&view) {
            return Ok(ViewPlan::absent());
        }
        let vg = h5::group(path, &self.checks, g, view.name(), &object)?;
        let obj = |d: &str| schema::txt_object(id, view, d);
        let whole = view == View::Whole;

        let features =
            h5::dataset(path, &self.checks, &vg, schema::FEATURES, &obj(schema::FEATURES))?;
        let fshape = if whole { vec![None, None] } else { vec![Some(view.crops()), None, None] };
        let fs = h5::check_f32(path, &features, &obj(schema::FEATURES), &fshape)?;
        let fobj = obj(schema::FEATURES);
        let (k, d) = (fs[fs.len() - 2] as i128, fs[fs.len() - 1] as i128);
        let (k, d) = (bounds::dim(path, &fobj, "k", k)?, bounds::dim(path, &fobj, "d", d)?);
        let crops = view.crops();
        bounds::values(path, &fobj, "values", &[crops, k, d], self.len)?;
        let sshape: Vec<Option<usize>> = view.shape(k).into_iter().map(Some).collect();

        let scores = h5::dataset(path, &self.checks, &vg, schema::SCORES, &obj(schema::SCORES))?;
        h5::check_f32(path, &scores, &obj(schema::SCORES), &sshape)?;
        let texts = h5::dataset(path, &self.checks, &vg, schema::TEXTS, &obj(schema::TEXTS))?;
        h5::check_shape(path, &texts, &obj(schema::TEXTS), &sshape)?;

        let direct = self.direct;
        Ok(ViewPlan {
            crops,
            k,
            d,
            features: h5::F32Source::plan(
                path,
                &features,
                &obj(schema::FEATURES),
                direct,
                crops * k * d,
            )?,
            scores: h5::F32Source::plan(path, &scores, &obj(schema::SCORES), direct, crops * k)?,
            texts: h5::vlen::strings(path, &texts, &obj(schema::TEXTS), None)?,
        })
    }

    /// Loads every image into memory, in parallel (in [`keys`](Self::keys)' order).
    pub fn preload(&self) -> Result<Vec<TxtEntry>> {
        self.preload_ids(&self.keys()?)
    }

    /// Loads the given images into memory, in parallel, in the order given.
    ///
    /// One thread does the HDF5 part (metadata and texts, serialised by HDF5's global lock
    /// anyway) while the rayon pool reads the float data straight from the file.
    ///
    /// The readers are one fewer than rayon's threads (the planner takes a core of its own:
    /// more readers measured slower, contending for the kernel's memory-map lock while they
    /// fault in their buffers), and plans go to them in groups of `PLANS_PER_HANDOVER`.
    pub fn preload_ids<K: Key + Sync>(&self, ids: &[K]) -> Result<Vec<TxtEntry>> {
        if let Some(j) = &self.joined {
            return j.preload_ids(ids);
        }
        if let Some(all) = self.preload_native(ids)? {
            tracing::debug!(n = all.len(), "txt_ctx preloaded without the HDF5 library");
            return Ok(all);
        }
        self.preload_through_hdf5(ids)
    }

    /// Images `ids` (in that order) into contiguous arrays, read in parallel straight into
    /// place: per view (`whole`, `five`, `nine`) the first `k` texts per crop of feature size
    /// `d` given by `shape[view]` (`k == 0` leaves the view out), the texts with `texts`.
    /// `None` for a file, or an image, that is not in h5py's default format (read those with
    /// [`preload_ids`](Self::preload_ids)); an image with fewer texts per crop than `k`, or
    /// another feature size, is an [`Error::Shape`].
    pub fn preload_arrays<K: Key + Sync>(
        &self,
        ids: &[K],
        shape: [(usize, usize); 3],
        texts: bool,
    ) -> Result<Option<crate::entry::TxtArrays>> {
        let Some(index) = self.native.as_ref().filter(|_| self.direct) else { return Ok(None) };
        let file = NativeTxtFile::new(&self.path, &self.raw, index)?;
        crate::oldh5::read_into::preload_arrays(&file, ids, shape, texts)
    }

    /// [`preload_ids`](Self::preload_ids) reading the file format itself on every thread, for
    /// files in h5py's default format (the original's, and ours); `None` for any other file,
    /// or anything unexpected in it, which the HDF5 library then reads (and reports). Public
    /// for the tests, which compare both ways of reading.
    #[doc(hidden)]
    pub fn preload_without_hdf5<K: Key + Sync>(&self, ids: &[K]) -> Option<Vec<TxtEntry>> {
        if let Some(j) = &self.joined {
            return j.preload_ids(ids).ok();
        }
        self.preload_native(ids).ok().flatten()
    }

    /// [`preload_without_hdf5`](Self::preload_without_hdf5), with damage found as an error.
    fn preload_native<K: Key + Sync>(&self, ids: &[K]) -> Result<Option<Vec<TxtEntry>>> {
        let Some(index) = self.native.as_ref().filter(|_| self.direct) else { return Ok(None) };
        let file = NativeTxtFile::new(&self.path, &self.raw, index)?;
        let loaded: Result<Option<Vec<TxtEntry>>> =
            ids.par_iter().map_init(|| file.reader(), |r, id| r.load(&id.name())).collect();
        if matches!(loaded, Ok(None)) {
            tracing::debug!("{:?}: preloading through the HDF5 library", self.path);
        }
        loaded
    }

    /// [`preload_ids`](Self::preload_ids) through the HDF5 library (public for the tests).
    #[doc(hidden)]
    pub fn preload_through_hdf5<K: Key + Sync>(&self, ids: &[K]) -> Result<Vec<TxtEntry>> {
        if let Some(j) = &self.joined {
            return j.preload_ids(ids);
        }
        let readers = rayon::current_num_threads().saturating_sub(1).max(1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(readers).build().map_err(|e| {
            Error::Io {
                path: self.path.clone(),
                object: "(reader threads)".into(),
                source: std::io::Error::other(e),
            }
        })?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, ImagePlan)>>(32);
        let mut loaded: Vec<(usize, TxtEntry)> = std::thread::scope(|s| {
            let planner = s.spawn(move || -> Result<()> {
                for (start, group) in ids.chunks(PLANS_PER_HANDOVER).enumerate() {
                    let plans = group
                        .iter()
                        .enumerate()
                        .map(|(j, id)| Ok((start * PLANS_PER_HANDOVER + j, self.plan(&id.name())?)))
                        .collect::<Result<Vec<_>>>()?;
                    if tx.send(plans).is_err() {
                        break; // a reader failed; its error is reported below
                    }
                }
                Ok(())
            });
            let loaded = pool.install(|| {
                rx.into_iter()
                    .par_bridge()
                    .flat_map_iter(|plans| {
                        plans.into_iter().map(|(i, plan)| Ok((i, plan.load(self)?)))
                    })
                    .collect::<Result<Vec<_>>>()
            });
            let planned = planner.join().expect("the planner thread does not panic");
            planned.and(loaded)
        })?;
        loaded.sort_unstable_by_key(|(i, _)| *i);
        tracing::debug!(n = loaded.len(), "txt_ctx preloaded");
        Ok(loaded.into_iter().map(|(_, e)| e).collect())
    }
}

/// The original profile's caption database, either layout.
fn load_original(path: &Path) -> Result<Captions> {
    CaptionDb::open(path)?.load()
}

/// Images planned per hand-over to the readers of [`TxtCtxReader::preload_ids`].
const PLANS_PER_HANDOVER: usize = 8;

/// An image whose HDF5 part is done; see [`TxtCtxReader::plan`].
struct ImagePlan {
    id: ImageId,
    views: [ViewPlan; 3],
}

impl ImagePlan {
    fn load(self, r: &TxtCtxReader) -> Result<TxtEntry> {
        let [whole, five, nine] = self.views;
        let id = self.id.as_str();
        let whole = whole.load(r, id, View::Whole)?;
        let mut five = five.load(r, id, View::Five)?;
        let mut nine = nine.load(r, id, View::Nine)?;
        // An absent view has the whole view's feature size, as the writer's entry had.
        for v in [&mut five, &mut nine].into_iter().filter(|v| v.is_absent()) {
            v.d = whole.d;
        }
        Ok(TxtEntry { id: self.id, whole, five, nine })
    }
}

/// The views an image group holds: `whole` (missing or not: reading it names what is wrong),
/// and `five` and `nine` where their groups exist.
fn held_views(g: &Group) -> Vec<View> {
    View::ALL.into_iter().filter(|v| *v == View::Whole || g.link_exists(v.name())).collect()
}

struct ViewPlan {
    crops: usize,
    k: usize,
    d: usize,
    features: h5::F32Source,
    scores: h5::F32Source,
    texts: Vec<String>,
}

impl ViewPlan {
    /// A view the image does not hold.
    fn absent() -> Self {
        Self {
            crops: 0,
            k: 0,
            d: 0,
            features: h5::F32Source::Loaded(Vec::new()),
            scores: h5::F32Source::Loaded(Vec::new()),
            texts: Vec::new(),
        }
    }

    fn load(self, r: &TxtCtxReader, id: &str, view: View) -> Result<ViewEntry> {
        let obj = |d: &str| schema::txt_object(id, view, d);
        Ok(ViewEntry {
            crops: self.crops,
            k: self.k,
            d: self.d,
            features: self.features.load(&r.path, &obj(schema::FEATURES), &r.raw)?,
            scores: self.scores.load(&r.path, &obj(schema::SCORES), &r.raw)?,
            texts: self.texts,
        })
    }
}
