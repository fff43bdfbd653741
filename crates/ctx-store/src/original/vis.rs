//! `vis_ctx.hdf5`: root attribute `fdim` (int64) and one float32 `(fdim,)` dataset per image id.

use std::path::{Path, PathBuf};

use hdf5::File;
use rayon::prelude::*;

use crate::entry::VisCtx;
use crate::error::{Error, Result};
use crate::h5;
use crate::id::{self, ImageId, Key};
use crate::kind::FileKind;
use crate::oldh5::file::NativeFile;
use crate::oldh5::vis::NativeVis;
use crate::provenance::Provenance;
use crate::testing::{self, WritePoint};
use crate::{bounds, schema};

/// Writes `vis_ctx.hdf5` batch by batch, each batch committed by one write once
/// [`write_batch`] returns (`docs/crash-safety.md`): without the HDF5 library (`oldh5`), or
/// through it to continue a file in another format.
///
/// [`write_batch`]: VisCtxWriter::write_batch
pub struct VisCtxWriter {
    backend: Backend,
    fdim: usize,
    path: PathBuf,
}

enum Backend {
    Native(NativeVis),
    Hdf5(h5::Writer),
}

impl VisCtxWriter {
    /// Creates the file with root attribute `fdim` and the provenance attributes.
    pub fn create(
        path: impl AsRef<Path>,
        fdim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let fdim_i64 = i64::try_from(fdim).map_err(|_| Error::Input {
            path: path.to_owned(),
            object: FDIM_OBJECT.into(),
            message: format!("fdim {fdim} does not fit in int64"),
        })?;
        let attributes = provenance.attributes(FileKind::VisCtx);
        let native =
            NativeVis::create(path, fdim, (schema::FDIM, fdim_i64), &attributes, overwrite)?;
        Ok(Self { backend: Backend::Native(native), fdim, path: path.to_owned() })
    }

    /// Opens an existing file to add images (resume). Returns the writer and the ids it holds.
    pub fn append(path: impl AsRef<Path>) -> Result<(Self, Vec<ImageId>)> {
        let path = path.as_ref();
        NativeFile::recover(path)?;
        let file = h5::open_read(path)?;
        let fdim = read_fdim(path, &file)?;
        let ids = h5::image_members(path, &file)?;
        drop(file); // its lock, before the writer takes its own
        if let Some(native) = NativeVis::append(path, fdim, &ids)? {
            return Ok((
                Self { backend: Backend::Native(native), fdim, path: path.to_owned() },
                ids,
            ));
        }
        let w = h5::Writer::append(path)?;
        Ok((Self { backend: Backend::Hdf5(w), fdim, path: path.to_owned() }, ids))
    }

    /// The feature size.
    pub fn fdim(&self) -> usize {
        self.fdim
    }

    /// Writes `ids.len()` images; `features` holds their vectors back to back
    /// (`ids.len() * fdim` values). Committed before returning. Ids are integers or names
    /// ([`Key`]); a name HDF5 cannot hold is an error ([`ImageId::problem`]).
    pub fn write_batch<K: Key>(&mut self, ids: &[K], features: &[f32]) -> Result<()> {
        bounds::check_len(&self.path, "/", &[ids.len(), self.fdim], features.len())?;
        let names = ids
            .iter()
            .map(|id| id::checked_name(&self.path, id).map(|n| n.into_owned()))
            .collect::<Result<Vec<String>>>()?;
        let w = match &mut self.backend {
            Backend::Native(native) => return native.write_batch(&names, features),
            Backend::Hdf5(w) => w,
        };
        let root = w.file();
        w.write_batch(|sink| {
            // With fdim 0 every row is empty (chunks_exact would yield none).
            let rows = (0..ids.len()).map(|i| &features[i * self.fdim..(i + 1) * self.fdim]);
            for (i, (name, row)) in names.iter().zip(rows).enumerate() {
                sink.write_f32(root, name, name, &[self.fdim], row)?;
                testing::at(WritePoint::Entry(i));
            }
            Ok(())
        })?;
        tracing::debug!(n = ids.len(), "vis_ctx batch written");
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> Result<()> {
        match self.backend {
            Backend::Native(native) => native.finish(),
            Backend::Hdf5(mut w) => w.close(),
        }
    }
}

/// The object name of the `fdim` attribute in errors.
const FDIM_OBJECT: &str = "/@fdim";

/// The root attribute `fdim`, checked to be a size this crate allocates with.
fn read_fdim(path: &Path, file: &File) -> Result<usize> {
    match h5::read_attr_int(path, file, schema::FDIM)? {
        Some(v) => bounds::dim(path, FDIM_OBJECT, "the feature size fdim", i128::from(v)),
        None => Err(Error::Missing { path: path.to_owned(), object: FDIM_OBJECT.into() }),
    }
}

/// Reads `vis_ctx.hdf5` (ours or the original's).
pub struct VisCtxReader {
    path: PathBuf,
    file: File,
    raw: std::fs::File,
    /// What is left to check as images are opened.
    checks: h5::Checks,
    fdim: usize,
    /// The file's length, which bounds the sizes read from it.
    len: u64,
}

impl VisCtxReader {
    /// Opens the file and reads `fdim`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let (file, checks) = h5::open_checked(&path)?;
        let fdim = read_fdim(&path, &file)?;
        let raw = std::fs::File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            object: "/".into(),
            source,
        })?;
        let len = bounds::file_len(&path, &raw)?;
        Ok(Self { path, file, raw, checks, fdim, len })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The feature size (root attribute `fdim`).
    pub fn fdim(&self) -> usize {
        self.fdim
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
        h5::image_members(&self.path, &self.file)
    }

    /// The features of one image, `(fdim,)`: `get(531912)` or `get("dog_01")`.
    pub fn get(&self, id: impl Key) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.fdim];
        self.read_into(&id, &mut out)?;
        Ok(out)
    }

    fn read_into(&self, id: &impl Key, out: &mut [f32]) -> Result<()> {
        let name = id.name();
        let ds = h5::dataset(&self.path, &self.checks, &self.file, &name, &name)?;
        h5::check_f32(&self.path, &ds, &name, &[Some(self.fdim)])?;
        h5::read_f32_into(&self.path, &ds, &name, self.userblock_free(), out)
    }

    fn userblock_free(&self) -> Option<&std::fs::File> {
        (self.file.userblock() == 0).then_some(&self.raw)
    }

    /// Loads every image into memory, in parallel.
    pub fn preload(&self) -> Result<VisCtx> {
        let ids = self.keys()?;
        let n = bounds::values(
            &self.path,
            "/",
            "values of all images",
            &[ids.len(), self.fdim],
            self.len,
        )?;
        let mut features = vec![0f32; n];
        if self.fdim > 0 {
            features
                .par_chunks_mut(self.fdim)
                .zip(ids.par_iter())
                .try_for_each(|(out, id)| self.read_into(id, out))?;
        }
        Ok(VisCtx { ids, fdim: self.fdim, features })
    }
}
