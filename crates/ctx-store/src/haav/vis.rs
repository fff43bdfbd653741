//! HAAV's `vis_ctx.hdf5`: root attributes `fdim_pooled` and `fdim_grid` (int64); per image id a
//! group with `grid_features (tokens, fdim_grid)` and `pooled_features (fdim_pooled,)`, float32,
//! gzip.

use std::path::{Path, PathBuf};

use hdf5::{File, Group};

use crate::entry::{HaavVisCtx, HaavVisEntry};
use crate::error::{Error, Result};
use crate::h5::{self, gzip, h5err, packed, resume};
use crate::haav::attr_size;
use crate::id::{self, ImageId, Key};
use crate::kind::FileKind;
use crate::oldh5::file::{NativeFile, RootAttr};
use crate::oldh5::haav_vis::{NativeHaavVis, VisBatch};
use crate::provenance::Provenance;
use crate::testing::{self, WritePoint};
use crate::{bounds, schema};

const FDIM_GRID_OBJECT: &str = "/@fdim_grid";
const FDIM_POOLED_OBJECT: &str = "/@fdim_pooled";

/// `(fdim_grid, fdim_pooled)` of a file.
fn read_dims(path: &Path, root: &Group) -> Result<(usize, usize)> {
    let read = |name: &str, object: &str| match h5::read_attr_int(path, root, name)? {
        Some(v) => bounds::dim(path, object, name, i128::from(v)),
        None => Err(Error::Missing { path: path.to_owned(), object: object.to_owned() }),
    };
    Ok((read(schema::FDIM_GRID, FDIM_GRID_OBJECT)?, read(schema::FDIM_POOLED, FDIM_POOLED_OBJECT)?))
}

/// `fdim_grid` and `fdim_pooled` as the int64 attributes of `path`.
fn sizes(path: &Path, fdim_grid: usize, fdim_pooled: usize) -> Result<(i64, i64)> {
    Ok((
        attr_size(path, FDIM_GRID_OBJECT, fdim_grid)?,
        attr_size(path, FDIM_POOLED_OBJECT, fdim_pooled)?,
    ))
}

fn grid_object(id: impl std::fmt::Display) -> String {
    format!("{id}/{}", schema::GRID_FEATURES)
}

fn pooled_object(id: impl std::fmt::Display) -> String {
    format!("{id}/{}", schema::POOLED_FEATURES)
}

/// Writes HAAV's `vis_ctx.hdf5` batch by batch, each batch committed by one write once
/// [`write_batch`] returns (`docs/crash-safety.md`): without the HDF5 library (`oldh5`), or
/// through it to continue a file in another format. [`append`] resumes a killed run.
///
/// [`write_batch`]: HaavVisCtxWriter::write_batch
/// [`append`]: HaavVisCtxWriter::append
pub struct HaavVisCtxWriter {
    backend: Backend,
    path: PathBuf,
    fdim_grid: usize,
    fdim_pooled: usize,
    /// Tokens per image of the file's images (HAAV's training code stacks them).
    tokens: Option<usize>,
}

enum Backend {
    Native(NativeHaavVis),
    Hdf5 {
        w: h5::Writer,
        /// Compresses a batch's chunks on rayon's threads (`packed`).
        packer: packed::Packer,
        /// Compress through HDF5 on the calling thread instead.
        serial: bool,
    },
}

impl HaavVisCtxWriter {
    /// Creates the file with root attributes `fdim_pooled` (the projection size: 512 for
    /// ViT-B/32), `fdim_grid` (the vision tower's width: 768 for ViT-B/32) and the provenance
    /// attributes.
    pub fn create(
        path: impl AsRef<Path>,
        fdim_grid: usize,
        fdim_pooled: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let (grid, pooled) = sizes(path, fdim_grid, fdim_pooled)?;
        // HAAV's script sets them in this order.
        let mut attributes = vec![
            RootAttr::I64(schema::FDIM_POOLED, pooled),
            RootAttr::I64(schema::FDIM_GRID, grid),
        ];
        let prov = provenance.attributes(FileKind::HaavVisCtx);
        attributes.extend(prov.iter().map(|&(name, value)| RootAttr::Str(name, value)));
        let native = NativeHaavVis::create(path, &attributes, overwrite)?;
        Ok(Self::new(Backend::Native(native), path, (fdim_grid, fdim_pooled)))
    }

    /// A new file's writer on `backend`, for images of `(fdim_grid, fdim_pooled)` values.
    fn new(backend: Backend, path: &Path, (fdim_grid, fdim_pooled): (usize, usize)) -> Self {
        Self { backend, path: path.to_owned(), fdim_grid, fdim_pooled, tokens: None }
    }

    /// [`create`](Self::create) through the HDF5 library (the writer before the native one: the
    /// same file as h5py sees it, not atomic by batch), for comparisons in tests and benchmarks.
    #[doc(hidden)]
    pub fn create_through_hdf5(
        path: impl AsRef<Path>,
        fdim_grid: usize,
        fdim_pooled: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let (grid, pooled) = sizes(path, fdim_grid, fdim_pooled)?;
        let w = h5::Writer::create(path, overwrite)?;
        h5::write_attr_i64(&w.path, w.file(), schema::FDIM_POOLED, pooled)?;
        h5::write_attr_i64(&w.path, w.file(), schema::FDIM_GRID, grid)?;
        provenance.write(&w.path, w.file(), FileKind::HaavVisCtx)?;
        w.file().flush().map_err(h5err(&w.path, "/"))?;
        let packer = packed::Packer::new(&w.path, gzip::H5PY_GZIP_LEVEL);
        let backend = Backend::Hdf5 { w, packer, serial: false };
        Ok(Self::new(backend, path, (fdim_grid, fdim_pooled)))
    }

    /// Opens an existing file to add images (resume). Returns the writer and the ids of its
    /// complete images; an image group missing a dataset (left by a writer through the HDF5
    /// library, killed inside a flush) is written again.
    pub fn append(path: impl AsRef<Path>) -> Result<(Self, Vec<ImageId>)> {
        let path = path.as_ref();
        NativeFile::recover(path)?;
        let file = h5::open_read(path)?;
        let (fdim_grid, fdim_pooled) = read_dims(path, &file)?;
        let ids = resume::complete_ids(path, &file, complete_image)?;
        let tokens = first_tokens(path, &file, &ids)?;
        drop(file); // its lock, before the writer takes its own
        let backend = match NativeHaavVis::append(path, &ids)? {
            Some(native) => Backend::Native(native),
            None => {
                let w = h5::Writer::append(path)?;
                resume::complete_image_groups(&w, complete_image)?;
                let packer = packed::Packer::new(&w.path, gzip::H5PY_GZIP_LEVEL);
                Backend::Hdf5 { w, packer, serial: false }
            }
        };
        let w = Self { backend, path: path.to_owned(), fdim_grid, fdim_pooled, tokens };
        Ok((w, ids))
    }

    /// The width of `grid_features`.
    pub fn fdim_grid(&self) -> usize {
        self.fdim_grid
    }

    /// The size of `pooled_features`.
    pub fn fdim_pooled(&self) -> usize {
        self.fdim_pooled
    }

    /// Writes `ids.len()` images: `grid` holds their `(tokens, fdim_grid)` grids back to back
    /// (`ids.len() * tokens * fdim_grid` values), `pooled` their `(fdim_pooled,)` embeddings.
    /// Every image of a file has the same `tokens`. Committed before returning. Ids are
    /// integers or names ([`Key`]).
    pub fn write_batch<K: Key>(
        &mut self,
        ids: &[K],
        tokens: usize,
        grid: &[f32],
        pooled: &[f32],
    ) -> Result<()> {
        let path = self.path.clone();
        if let Some(t) = self.tokens.filter(|&t| t != tokens) {
            return Err(Error::Input {
                path,
                object: schema::GRID_FEATURES.into(),
                message: format!("{tokens} tokens per image, but the file's images have {t}"),
            });
        }
        bounds::check_len(
            &path,
            schema::GRID_FEATURES,
            &[ids.len(), tokens, self.fdim_grid],
            grid.len(),
        )?;
        bounds::check_len(
            &path,
            schema::POOLED_FEATURES,
            &[ids.len(), self.fdim_pooled],
            pooled.len(),
        )?;
        let names = ids
            .iter()
            .map(|id| id::checked_name(&path, id).map(|n| n.into_owned()))
            .collect::<Result<Vec<String>>>()?;
        match &mut self.backend {
            Backend::Native(native) => native.write_batch(&VisBatch {
                names: &names,
                tokens,
                fdim_grid: self.fdim_grid,
                fdim_pooled: self.fdim_pooled,
                grid,
                pooled,
            })?,
            Backend::Hdf5 { w, packer, serial } => {
                let dims = (self.fdim_grid, self.fdim_pooled);
                write_through_hdf5(w, packer, *serial, &names, tokens, dims, grid, pooled)?;
            }
        }
        if !ids.is_empty() {
            self.tokens = Some(tokens);
        }
        tracing::debug!(n = ids.len(), "HAAV vis_ctx batch written");
        Ok(())
    }

    /// With `serial`, a file written through the HDF5 library
    /// ([`create_through_hdf5`](Self::create_through_hdf5)) has its chunks compressed by HDF5 on
    /// the calling thread: the same file, for benchmarks and tests. No effect on the native
    /// writer.
    #[doc(hidden)]
    pub fn set_serial_compression(&mut self, serial: bool) {
        if let Backend::Hdf5 { serial: s, .. } = &mut self.backend {
            *s = serial;
        }
    }

    /// Closes the file, synced and recorded as finished (natively written files; through HDF5,
    /// flushed): every batch is committed already.
    pub fn finish(self) -> Result<()> {
        match self.backend {
            Backend::Native(native) => native.finish(),
            Backend::Hdf5 { mut w, .. } => w.close(),
        }
    }
}

/// Whether an image group holds both datasets.
fn complete_image(g: &Group) -> bool {
    resume::holds(g, &[schema::GRID_FEATURES, schema::POOLED_FEATURES])
}

/// The tokens of the first of `ids`, if any.
fn first_tokens(path: &Path, file: &Group, ids: &[ImageId]) -> Result<Option<usize>> {
    let Some(id) = ids.first() else { return Ok(None) };
    let object = grid_object(id);
    let ds = file.dataset(&object).map_err(h5err(path, &object))?;
    Ok(ds.shape().first().copied())
}

/// A batch through the HDF5 library: its chunks compressed on rayon's threads (`packed`) or,
/// with `serial`, by HDF5; each image's group and datasets, in the order HAAV's script writes
/// them; then HDF5's flush.
#[allow(clippy::too_many_arguments)]
fn write_through_hdf5(
    w: &h5::Writer,
    packer: &packed::Packer,
    serial: bool,
    names: &[String],
    tokens: usize,
    (fdim_grid, psize): (usize, usize),
    grid: &[f32],
    pooled: &[f32],
) -> Result<()> {
    let (path, root) = (&w.path, w.file());
    let gsize = tokens * fdim_grid;
    let (pname, gname) = (schema::POOLED_FEATURES, schema::GRID_FEATURES);
    let arrays: Vec<packed::F32Array<'_>> = names
        .iter()
        .enumerate()
        .flat_map(|(i, id)| {
            let p = &pooled[i * psize..(i + 1) * psize];
            let g = &grid[i * gsize..(i + 1) * gsize];
            [
                (pname.to_owned(), pooled_object(id), p, vec![psize]),
                (gname.to_owned(), grid_object(id), g, vec![tokens, fdim_grid]),
            ]
        })
        .map(|(name, object, data, shape)| packed::F32Array { name, object, data, shape })
        .collect();
    let staged = if serial || names.is_empty() { None } else { Some(packer.stage(&arrays)?) };
    for (i, (name, pair)) in names.iter().zip(arrays.chunks_exact(2)).enumerate() {
        let g = root.create_group(name).map_err(h5err(path, name))?;
        for (j, a) in pair.iter().enumerate() {
            match &staged {
                Some(s) => s.write_to(2 * i + j, &g, &a.name, &a.object)?,
                None => gzip::write_f32(path, &g, &a.name, &a.object, &a.shape, a.data)?,
            }
        }
        testing::at(WritePoint::Entry(i));
    }
    w.end_batch()
}

/// Reads HAAV's `vis_ctx.hdf5` (written by HAAV's `encode_images.py` or by us).
pub struct HaavVisCtxReader {
    path: PathBuf,
    file: File,
    /// What is left to check as images are opened.
    checks: h5::Checks,
    fdim_grid: usize,
    fdim_pooled: usize,
    /// The file's length, which bounds the sizes read from it.
    len: u64,
}

impl HaavVisCtxReader {
    /// Opens the file and reads `fdim_grid` and `fdim_pooled`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let (file, checks) = h5::open_checked(&path)?;
        let (fdim_grid, fdim_pooled) = read_dims(&path, &file)?;
        let len = std::fs::metadata(&path).map(|m| m.len()).map_err(|source| Error::Io {
            path: path.clone(),
            object: "/".into(),
            source,
        })?;
        Ok(Self { path, file, checks, fdim_grid, fdim_pooled, len })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The width of `grid_features` (root attribute `fdim_grid`).
    pub fn fdim_grid(&self) -> usize {
        self.fdim_grid
    }

    /// The size of `pooled_features` (root attribute `fdim_pooled`).
    pub fn fdim_pooled(&self) -> usize {
        self.fdim_pooled
    }

    /// Provenance attributes, `None` for files HAAV's script wrote.
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

    /// One image: `f[f"{id}/grid_features"][:]` and `f[f"{id}/pooled_features"][:]`.
    pub fn get(&self, id: impl Key) -> Result<HaavVisEntry> {
        let name = id.name();
        let g = h5::group(&self.path, &self.checks, &self.file, &name, &name)?;
        let (gobj, pobj) = (grid_object(&name), pooled_object(&name));
        let ds = h5::dataset(&self.path, &self.checks, &g, schema::GRID_FEATURES, &gobj)?;
        let shape = h5::check_f32(&self.path, &ds, &gobj, &[None, Some(self.fdim_grid)])?;
        let tokens = bounds::dim(&self.path, &gobj, "tokens", shape[0] as i128)?;
        let n = bounds::values(&self.path, &gobj, "values", &[tokens, self.fdim_grid], self.len)?;
        let mut grid = vec![0f32; n];
        h5::read_f32_into(&self.path, &ds, &gobj, None, &mut grid)?;
        let ds = h5::dataset(&self.path, &self.checks, &g, schema::POOLED_FEATURES, &pobj)?;
        h5::check_f32(&self.path, &ds, &pobj, &[Some(self.fdim_pooled)])?;
        let mut pooled = vec![0f32; self.fdim_pooled];
        h5::read_f32_into(&self.path, &ds, &pobj, None, &mut pooled)?;
        Ok(HaavVisEntry { tokens, grid, pooled })
    }

    /// Loads every image into memory. Every image must have the same number of tokens.
    pub fn preload(&self) -> Result<HaavVisCtx> {
        let ids = self.keys()?;
        let mut ctx = HaavVisCtx {
            ids: Vec::with_capacity(ids.len()),
            tokens: 0,
            fdim_grid: self.fdim_grid,
            fdim_pooled: self.fdim_pooled,
            grid: Vec::new(),
            pooled: Vec::with_capacity(ids.len() * self.fdim_pooled),
        };
        for id in ids {
            let e = self.get(&id)?;
            if ctx.ids.is_empty() {
                ctx.tokens = e.tokens;
                let n = [ctx.ids.capacity(), e.tokens, self.fdim_grid];
                let what = "values of all grids";
                ctx.grid.reserve(bounds::values(&self.path, "/", what, &n, self.len)?);
            } else if e.tokens != ctx.tokens {
                return Err(Error::Shape {
                    path: self.path.clone(),
                    object: grid_object(&id),
                    expected: format!(
                        "({}, {}) as image {}'s",
                        ctx.tokens, self.fdim_grid, ctx.ids[0]
                    ),
                    found: vec![e.tokens, self.fdim_grid],
                });
            }
            ctx.ids.push(id);
            ctx.grid.extend_from_slice(&e.grid);
            ctx.pooled.extend_from_slice(&e.pooled);
        }
        tracing::debug!(n = ctx.ids.len(), "HAAV vis_ctx preloaded");
        Ok(ctx)
    }
}
