//! HAAV's `txt_ctx.hdf5`: root attribute `fdim`; per image id, groups `whole`, `five`, `nine`
//! holding `features`, `scores`, `texts` (gzip), with 8k, 2k and k texts per crop.

use std::path::Path;

use hdf5::Group;

use crate::bounds;
use crate::compact::CompactInfo;
use crate::compact::db::LoadCaptions;
use crate::entry::{TxtEntry, ViewEntry};
use crate::error::{Error, Result};
use crate::h5::{self, h5err, resume};
use crate::haav::attr_size;
use crate::haav::caption_db::HaavCaptionDb;
use crate::id::{self, ImageId, Key};
use crate::kind::{FileKind, Profile};
use crate::oldh5::file::{NativeFile, RootAttr};
use crate::oldh5::haav_txt::NativeHaavTxt;
use crate::original::txt::{TxtCtxReader, TxtCtxWriter};
use crate::provenance::Provenance;
use crate::schema::{self, View};

/// The object name of the `fdim` attribute in errors.
const FDIM_OBJECT: &str = "/@fdim";

/// The root attribute `fdim` of `path`, checked to be a size this crate allocates with.
pub(crate) fn read_fdim(path: &Path, root: &Group) -> Result<usize> {
    match h5::read_attr_int(path, root, schema::FDIM)? {
        Some(v) => bounds::dim(path, FDIM_OBJECT, "the feature size fdim", i128::from(v)),
        None => Err(Error::Missing { path: path.to_owned(), object: FDIM_OBJECT.into() }),
    }
}

/// Writes HAAV's `txt_ctx.hdf5` batch by batch, each batch committed by one write once
/// [`write_batch`] returns (`docs/crash-safety.md`): without the HDF5 library (`oldh5`), or
/// through [`TxtCtxWriter`]'s HDF5 path (gzip datasets) to continue a file in another format.
///
/// Every entry must have HAAV's layout: views of 1, 5 and 9 crops holding 8k, 2k and k texts
/// per crop, `d = fdim`, and the same k as the file's other images.
///
/// [`write_batch`]: HaavTxtCtxWriter::write_batch
pub struct HaavTxtCtxWriter {
    backend: Backend,
    path: std::path::PathBuf,
    fdim: usize,
    /// The file's k (texts per crop of `nine`), from its first image.
    k: Option<usize>,
}

enum Backend {
    Native(NativeHaavTxt),
    Hdf5(TxtCtxWriter),
}

impl HaavTxtCtxWriter {
    /// Creates the file with root attribute `fdim` (the width of the caption database's
    /// `values`) and the provenance attributes.
    pub fn create(
        path: impl AsRef<Path>,
        fdim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let fdim_i64 = attr_size(path, FDIM_OBJECT, fdim)?;
        let prov = provenance.attributes(FileKind::HaavTxtCtx);
        let mut attributes: Vec<RootAttr> =
            prov.iter().map(|&(name, value)| RootAttr::Str(name, value)).collect();
        attributes.push(RootAttr::I64(schema::FDIM, fdim_i64));
        let native = NativeHaavTxt::create(path, &attributes, overwrite)?;
        Ok(Self { backend: Backend::Native(native), path: path.to_owned(), fdim, k: None })
    }

    /// [`create`](Self::create) through the HDF5 library (the writer before the native one: the
    /// same file as h5py sees it, not atomic by batch), for comparisons in tests and benchmarks.
    #[doc(hidden)]
    pub fn create_through_hdf5(
        path: impl AsRef<Path>,
        fdim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let fdim_i64 = attr_size(path, FDIM_OBJECT, fdim)?;
        let inner =
            TxtCtxWriter::create_as(path, provenance, overwrite, FileKind::HaavTxtCtx, |w| {
                h5::write_attr_i64(&w.path, w.file(), schema::FDIM, fdim_i64)
            })?;
        Ok(Self { backend: Backend::Hdf5(inner), path: path.to_owned(), fdim, k: None })
    }

    /// Opens an existing file to add images (resume). Returns the writer and the ids of its
    /// complete images; an image group missing a view or dataset (left by a writer through the
    /// HDF5 library, killed inside a flush) is written again.
    pub fn append(path: impl AsRef<Path>) -> Result<(Self, Vec<ImageId>)> {
        let path = path.as_ref();
        NativeFile::recover(path)?;
        let file = h5::open_read(path)?;
        let fdim = read_fdim(path, &file)?;
        let complete = resume::complete_ids(path, &file, complete_image)?;
        let k = match complete.first() {
            Some(id) => {
                let nine = format!("{id}/{}/{}", View::Nine, schema::SCORES);
                let ds = file.dataset(&nine).map_err(h5err(path, &nine))?;
                ds.shape().get(1).copied()
            }
            None => None,
        };
        drop(file); // its lock, before the writer takes its own
        let (backend, complete) = match NativeHaavTxt::append(path, &complete)? {
            Some(native) => (Backend::Native(native), complete),
            None => {
                let (inner, ids) = TxtCtxWriter::append_as(path, FileKind::HaavTxtCtx)?;
                (Backend::Hdf5(inner), ids)
            }
        };
        Ok((Self { backend, path: path.to_owned(), fdim, k }, complete))
    }

    /// The feature size (root attribute `fdim`).
    pub fn fdim(&self) -> usize {
        self.fdim
    }

    /// Writes a batch of images and commits it.
    pub fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let path = &self.path;
        for e in entries {
            let k = check_entry(path, e, self.fdim)?;
            match self.k {
                Some(file_k) if file_k != k => {
                    return Err(Error::Input {
                        path: path.clone(),
                        object: e.id.to_string(),
                        message: format!("k = {k}, but the file's images have k = {file_k}"),
                    });
                }
                _ => self.k = Some(k),
            }
        }
        match &mut self.backend {
            Backend::Native(native) => {
                let names = entries
                    .iter()
                    .map(|e| id::checked_name(path, &e.id).map(|n| n.into_owned()))
                    .collect::<Result<Vec<String>>>()?;
                native.write_batch(entries, &names)
            }
            Backend::Hdf5(inner) => inner.write_batch(entries),
        }
    }

    /// With `serial`, a file written through the HDF5 library
    /// ([`create_through_hdf5`](Self::create_through_hdf5)) has its float chunks compressed by
    /// HDF5 on the calling thread: the same file, for benchmarks and tests. No effect on the
    /// native writer.
    #[doc(hidden)]
    pub fn set_serial_compression(&mut self, serial: bool) {
        if let Backend::Hdf5(inner) = &mut self.backend {
            inner.set_serial_compression(serial);
        }
    }

    /// Closes the file, synced and recorded as finished (natively written files; through HDF5,
    /// flushed): every batch is committed already.
    pub fn finish(self) -> Result<()> {
        match self.backend {
            Backend::Native(native) => native.finish(),
            Backend::Hdf5(inner) => inner.finish(),
        }
    }
}

/// Whether an image group holds the three views, each with its three datasets.
fn complete_image(g: &Group) -> bool {
    View::ALL.iter().all(|v| {
        g.group(v.name())
            .is_ok_and(|vg| resume::holds(&vg, &[schema::FEATURES, schema::SCORES, schema::TEXTS]))
    })
}

/// Checks HAAV's layout of one entry; returns its k.
fn check_entry(path: &Path, e: &TxtEntry, fdim: usize) -> Result<usize> {
    let k = e.nine.k;
    for view in View::ALL {
        let v = e.view(view);
        let want = (view.crops(), view.haav_factor() * k, fdim);
        if (v.crops, v.k, v.d) != want || k == 0 {
            return Err(Error::Input {
                path: path.to_owned(),
                object: format!("{}/{view}", e.id),
                message: format!(
                    "{} crops of {} texts of width {}; HAAV's layout with k = {k} and fdim = \
                     {fdim} needs {} crops of {} texts (k at least 1) of width {fdim}",
                    v.crops, v.k, v.d, want.0, want.1
                ),
            });
        }
    }
    Ok(k)
}

/// Reads HAAV's `txt_ctx.hdf5` (written by HAAV's `retrieve_captions.py` or by us).
pub struct HaavTxtCtxReader {
    inner: TxtCtxReader,
    fdim: usize,
}

impl HaavTxtCtxReader {
    /// Opens the file and reads `fdim`. A file of the compact layout is joined with the caption
    /// database it was made with, found beside it under its recorded name.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_joined(path.as_ref(), None)
    }

    /// Opens the file; a file of the compact layout is joined with `caption_db` (refused when
    /// not the one it was made with). The full layout ignores `caption_db`.
    pub fn open_with_caption_db(
        path: impl AsRef<Path>,
        caption_db: impl AsRef<Path>,
    ) -> Result<Self> {
        Self::open_joined(path.as_ref(), Some(caption_db.as_ref()))
    }

    fn open_joined(path: &Path, caption_db: Option<&Path>) -> Result<Self> {
        let file = h5::open_read(path)?;
        let fdim = read_fdim(path, &file)?;
        let load: LoadCaptions = |p| HaavCaptionDb::open(p)?.load();
        let inner = TxtCtxReader::open_joined(path, caption_db, (Profile::Haav, load))?;
        Ok(Self { inner, fdim })
    }

    /// The compact layout's root, `None` for a file of the full layout.
    pub fn compact(&self) -> Option<&CompactInfo> {
        self.inner.compact()
    }

    /// The caption database a compact file is joined with, `None` for the full layout.
    pub fn caption_db(&self) -> Option<&Path> {
        self.inner.caption_db()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// The feature size (root attribute `fdim`).
    pub fn fdim(&self) -> usize {
        self.fdim
    }

    /// Provenance attributes, `None` for files HAAV's scripts wrote.
    pub fn provenance(&self) -> Result<Option<Provenance>> {
        self.inner.provenance()
    }

    /// Image ids, ascending; an error naming the first image whose name is not an integer
    /// (files of other sources: [`keys`](Self::keys)).
    pub fn ids(&self) -> Result<Vec<u64>> {
        self.inner.ids()
    }

    /// Every image's name, integers first ([`ImageId`]'s order).
    pub fn keys(&self) -> Result<Vec<ImageId>> {
        self.inner.keys()
    }

    /// One image, all views, as stored (`whole.k` = 8k, `five.k` = 2k, `nine.k` = k).
    pub fn get(&self, id: impl Key) -> Result<TxtEntry> {
        let e = self.inner.get(id)?;
        self.check_d(&e)?;
        Ok(e)
    }

    /// One view of one image, optionally one crop and the first `top_k` texts:
    /// `f[f"{id}/five/features"][crop, :top_k]`.
    pub fn view(
        &self,
        id: impl Key,
        view: View,
        crop: Option<usize>,
        top_k: Option<usize>,
    ) -> Result<ViewEntry> {
        let id = id.name();
        let v = self.inner.view(&*id, view, crop, top_k)?;
        self.check_view_d(&id, view, &v)?;
        Ok(v)
    }

    /// Texts per crop of `whole`, `five` and `nine` of one image (8k, 2k, k as HAAV writes
    /// them).
    pub fn view_rows(&self, id: impl Key) -> Result<[usize; 3]> {
        let mut rows = [0; 3];
        for (r, view) in rows.iter_mut().zip(View::ALL) {
            *r = self.view(&id, view, None, None)?.k;
        }
        Ok(rows)
    }

    /// Loads every image into memory, in parallel (in [`keys`](Self::keys)' order).
    pub fn preload(&self) -> Result<Vec<TxtEntry>> {
        self.preload_ids(&self.keys()?)
    }

    /// Loads the given images into memory, in parallel, in the order given.
    pub fn preload_ids<K: Key + Sync>(&self, ids: &[K]) -> Result<Vec<TxtEntry>> {
        let all = self.inner.preload_ids(ids)?;
        all.iter().try_for_each(|e| self.check_d(e))?;
        Ok(all)
    }

    fn check_d(&self, e: &TxtEntry) -> Result<()> {
        View::ALL.iter().try_for_each(|&view| self.check_view_d(e.id.as_str(), view, e.view(view)))
    }

    /// HAAV's training code builds its model for `fdim`-wide features.
    fn check_view_d(&self, id: &str, view: View, v: &ViewEntry) -> Result<()> {
        if v.d != self.fdim {
            return Err(Error::Shape {
                path: self.path().to_owned(),
                object: schema::txt_object(id, view, schema::FEATURES),
                expected: format!("(.., {}) (root attribute fdim)", self.fdim),
                found: v.features_shape(),
            });
        }
        Ok(())
    }
}
