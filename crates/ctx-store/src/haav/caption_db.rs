//! HAAV's `caption_db.hdf5`: a group per batch of 512 phrases, `"0"`, `"1"`, ..., each with
//! `keys (B, dk)`, `values (B, d)` float32 and `captions (B,)` variable-length UTF-8, gzip; texts
//! that came with a source (the image a caption describes) keep it in `sources (B,)` beside them.

use std::path::{Path, PathBuf};

use hdf5::{File, Group};

use crate::entry::{Caption, Captions};
use crate::error::{Error, Result};
use crate::h5::{self, gzip, h5err, resume, sources};
use crate::kind::FileKind;
use crate::oldh5::caption_groups::NativeCaptionGroups;
use crate::oldh5::file::NativeFile;
use crate::provenance::Provenance;
use crate::testing::{self, WritePoint};
use crate::{bounds, schema};

/// The three datasets of a batch group, in the order HAAV's script writes them.
const BATCH_DATASETS: [&str; 3] = [schema::KEYS, schema::VALUES, schema::CAPTIONS];

/// The batch groups of a file: (name, rows) in order, the key and value sizes (`None` without
/// batches), and the rows in all.
struct Batches {
    groups: Vec<(String, usize)>,
    dims: Option<(usize, usize)>,
    len: usize,
    /// Whether the batches have sources; `None` without batches.
    sources: Option<bool>,
}

/// Checks the batch groups of `root`: numbered from 0 without gap, each with `keys (n, dk)`,
/// `values (n, d)`, `captions (n,)`, the same sizes in every batch, and no more values than a
/// file of `file_len` bytes holds.
fn scan(path: &Path, checks: &h5::Checks, root: &Group, file_len: u64) -> Result<Batches> {
    let (numbers, other) = h5::numeric_members(path, root)?;
    if let Some(name) = other.first() {
        return Err(Error::Schema {
            path: path.to_owned(),
            message: format!("unexpected member {name:?} in HAAV's caption database"),
        });
    }
    let groups = Vec::with_capacity(numbers.len());
    let mut out = Batches { groups, dims: None, len: 0, sources: None };
    for (i, b) in numbers.iter().enumerate() {
        if *b != i as u64 {
            return Err(Error::Missing { path: path.to_owned(), object: i.to_string() });
        }
        let name = b.to_string();
        let g = h5::group(path, checks, root, &name, &name)?;
        let obj = |d: &str| format!("{name}/{d}");
        let keys = h5::dataset(path, checks, &g, schema::KEYS, &obj(schema::KEYS))?;
        let ks = h5::check_f32(path, &keys, &obj(schema::KEYS), &[None, None])?;
        let dk = bounds::dim(path, &obj(schema::KEYS), "the key size", ks[1] as i128)?;
        let values = h5::dataset(path, checks, &g, schema::VALUES, &obj(schema::VALUES))?;
        let vs = h5::check_f32(path, &values, &obj(schema::VALUES), &[Some(ks[0]), None])?;
        let d = bounds::dim(path, &obj(schema::VALUES), "the value size", vs[1] as i128)?;
        let captions = h5::dataset(path, checks, &g, schema::CAPTIONS, &obj(schema::CAPTIONS))?;
        h5::check_shape(path, &captions, &obj(schema::CAPTIONS), &[Some(ks[0])])?;
        match out.dims {
            Some(dims) if dims != (dk, d) => {
                return Err(Error::Schema {
                    path: path.to_owned(),
                    message: format!(
                        "batch {name} has key/value sizes ({dk}, {d}), batch 0 has {dims:?}"
                    ),
                });
            }
            _ => out.dims = Some((dk, d)),
        }
        let has = sources::check(path, checks, &g, &format!("{name}/"), ks[0])?;
        sources::agree(path, &name, &mut out.sources, has)?;
        out.len += ks[0];
        out.groups.push((name, ks[0]));
    }
    let (dk, d) = out.dims.unwrap_or_default();
    let what = "rows of all batches times (key size + value size + 1)";
    bounds::values(path, "/", what, &[out.len, dk + d + 1], file_len)?;
    Ok(out)
}

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|source| Error::Io {
        path: path.to_owned(),
        object: "/".into(),
        source,
    })
}

/// Writes HAAV's `caption_db.hdf5` batch by batch: a gzip group per batch, committed by one
/// write once [`write_batch`] returns (`docs/crash-safety.md`), without the HDF5 library
/// (`oldh5::caption_groups`), or through it to continue a file in another format; [`append`]
/// resumes a killed run.
///
/// [`write_batch`]: HaavCaptionDbWriter::write_batch
/// [`append`]: HaavCaptionDbWriter::append
pub struct HaavCaptionDbWriter {
    backend: Backend,
    path: PathBuf,
    /// Key and value sizes; unknown when resuming a file without batches until the first one.
    dims: Option<(usize, usize)>,
    batches: usize,
    rows: usize,
    /// Whether the rows have sources: `None` until the first batch decides.
    has_sources: Option<bool>,
}

enum Backend {
    Native(Box<NativeCaptionGroups>),
    Hdf5(h5::Writer),
}

impl HaavCaptionDbWriter {
    /// Creates the file for keys of `key_dim` values (the projection: 768 for ViT-L/14) and
    /// values of `value_dim` (the text tower's width: 768 for ViT-L/14).
    pub fn create(
        path: impl AsRef<Path>,
        key_dim: usize,
        value_dim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let attributes = provenance.attributes(FileKind::HaavCaptionDb);
        let native = NativeCaptionGroups::create(path, &attributes, schema::VALUES, overwrite)?;
        Ok(Self {
            backend: Backend::Native(Box::new(native)),
            path: path.to_owned(),
            dims: Some((key_dim, value_dim)),
            batches: 0,
            rows: 0,
            has_sources: None,
        })
    }

    /// [`create`](Self::create) through the HDF5 library, as before the native writer: the
    /// reference the tests compare its files with.
    #[doc(hidden)]
    pub fn create_through_hdf5(
        path: impl AsRef<Path>,
        key_dim: usize,
        value_dim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let w = h5::Writer::create(path.as_ref(), overwrite)?;
        provenance.write(&w.path, w.file(), FileKind::HaavCaptionDb)?;
        w.file().flush().map_err(h5err(&w.path, "/"))?;
        Ok(Self {
            path: w.path.clone(),
            backend: Backend::Hdf5(w),
            dims: Some((key_dim, value_dim)),
            batches: 0,
            rows: 0,
            has_sources: None,
        })
    }

    /// The native writer over an existing file whose batch groups are all complete, if it is
    /// in h5py's default format; `None` otherwise.
    fn append_native(path: &Path) -> Result<Option<Self>> {
        let (file, checks) = h5::open_checked(path)?;
        let (numbers, _) = h5::numeric_members(path, &file)?;
        if let Some(last) = numbers.last().map(u64::to_string) {
            let g = file.group(&last).map_err(h5err(path, &last))?;
            if !resume::holds(&g, &BATCH_DATASETS) {
                return Ok(None); // removed through the HDF5 library
            }
        }
        let b = scan(path, &checks, &file, file_len(path)?)?;
        drop(file); // its lock, before the writer takes its own
        let (batches, rows, has_sources) = (b.groups.len(), b.len, b.sources);
        let Some(native) = NativeCaptionGroups::append(path, schema::VALUES, batches, rows)? else {
            return Ok(None);
        };
        let backend = Backend::Native(Box::new(native));
        Ok(Some(Self { backend, path: path.to_owned(), dims: b.dims, batches, rows, has_sources }))
    }

    /// Opens an existing file to add batches (resume); [`rows`](Self::rows) tells how many
    /// captions it holds. A last batch group missing a dataset (a crash inside a flush) is
    /// removed.
    pub fn append(path: impl AsRef<Path>) -> Result<Self> {
        NativeFile::recover(path.as_ref())?;
        if let Some(w) = Self::append_native(path.as_ref())? {
            return Ok(w);
        }
        let w = h5::Writer::append(path.as_ref())?;
        let (numbers, _) = h5::numeric_members(&w.path, w.file())?;
        if let Some(last) = numbers.last().map(u64::to_string) {
            let g = w.file().group(&last).map_err(h5err(&w.path, &last))?;
            if !resume::holds(&g, &BATCH_DATASETS) {
                tracing::warn!("{:?}: removing incomplete batch {last}", w.path);
                w.file().unlink(&last).map_err(h5err(&w.path, &last))?;
            }
        }
        let b = scan(&w.path, &w.checks, w.file(), file_len(&w.path)?)?;
        let (batches, rows, has_sources) = (b.groups.len(), b.len, b.sources);
        let path = w.path.clone();
        Ok(Self { backend: Backend::Hdf5(w), path, dims: b.dims, batches, rows, has_sources })
    }

    /// Captions written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Batches written so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Appends one batch group: `captions.len()` rows of keys and values. Flushed before
    /// returning. An empty batch writes nothing (h5py cannot write an empty gzip dataset).
    pub fn write_batch(&mut self, keys: &[f32], values: &[f32], captions: &[String]) -> Result<()> {
        self.write_batch_with_sources(keys, values, captions, None)
    }

    /// [`write_batch`](Self::write_batch) with each caption's source (row-aligned with
    /// `captions`), stored in the group's `sources` dataset. The first batch decides whether the
    /// file has sources; every later batch must agree.
    pub fn write_batch_with_sources(
        &mut self,
        keys: &[f32],
        values: &[f32],
        captions: &[String],
        sources: Option<&[String]>,
    ) -> Result<()> {
        let n = captions.len();
        if n == 0 {
            return Ok(());
        }
        let path = self.path.clone();
        let prepared = sources::prepare(&path, self.has_sources, n, sources)?;
        let (dk, d) = self.dims.unwrap_or((keys.len() / n, values.len() / n));
        bounds::check_len(&path, schema::KEYS, &[n, dk], keys.len())?;
        bounds::check_len(&path, schema::VALUES, &[n, d], values.len())?;
        let w = match &mut self.backend {
            Backend::Native(native) => {
                let texts = h5::to_varlen(&path, schema::CAPTIONS, captions)?;
                fn strs(t: &[hdf5::types::VarLenUnicode]) -> Vec<&str> {
                    t.iter().map(|s| s.as_str()).collect()
                }
                let source_refs = prepared.as_deref().map(strs);
                native.write_batch(
                    (keys, dk),
                    (values, d),
                    &strs(&texts),
                    source_refs.as_deref(),
                )?;
                (self.dims, self.batches, self.rows) =
                    (Some((dk, d)), self.batches + 1, self.rows + n);
                self.has_sources = Some(sources.is_some());
                tracing::debug!(n, rows = self.rows, "HAAV caption_db batch written");
                return Ok(());
            }
            Backend::Hdf5(w) => w,
        };
        let name = self.batches.to_string();
        let g = w.file().create_group(&name).map_err(h5err(&path, &name))?;
        let obj = |d: &str| format!("{name}/{d}");
        gzip::write_f32(&path, &g, schema::KEYS, &obj(schema::KEYS), &[n, dk], keys)?;
        testing::at(WritePoint::Entry(0));
        gzip::write_f32(&path, &g, schema::VALUES, &obj(schema::VALUES), &[n, d], values)?;
        testing::at(WritePoint::Entry(1));
        // Before the captions: a group holding its captions is complete (see `append`).
        if let Some(sources) = sources {
            gzip::write_strings(&path, &g, schema::SOURCES, &obj(schema::SOURCES), &[n], sources)?;
        }
        gzip::write_strings(&path, &g, schema::CAPTIONS, &obj(schema::CAPTIONS), &[n], captions)?;
        testing::at(WritePoint::Entry(2));
        w.end_batch()?;
        (self.dims, self.batches, self.rows) = (Some((dk, d)), self.batches + 1, self.rows + n);
        self.has_sources = Some(sources.is_some());
        tracing::debug!(n, rows = self.rows, "HAAV caption_db batch written");
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

/// Reads HAAV's `caption_db.hdf5` (written by HAAV's `encode_captions.py` or by us).
pub struct HaavCaptionDb {
    path: PathBuf,
    file: File,
    /// What is left to check as batch groups are opened.
    checks: h5::Checks,
    key_dim: usize,
    value_dim: usize,
    /// (group name, rows) in batch order.
    groups: Vec<(String, usize)>,
    len: usize,
    sources: bool,
}

impl HaavCaptionDb {
    /// Opens the file and checks every batch group's datasets.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let (file, checks) = h5::open_checked(&path)?;
        let b = scan(&path, &checks, &file, file_len(&path)?)?;
        let (key_dim, value_dim) = b.dims.unwrap_or_default();
        let sources = b.sources.unwrap_or(false);
        Ok(Self { path, file, checks, key_dim, value_dim, groups: b.groups, len: b.len, sources })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the database holds no phrase.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Key size (768 for ViT-L/14); 0 without batches.
    pub fn key_dim(&self) -> usize {
        self.key_dim
    }

    /// Value size (the text tower's width, 768 for ViT-L/14); 0 without batches.
    pub fn value_dim(&self) -> usize {
        self.value_dim
    }

    /// Number of batch groups.
    pub fn batches(&self) -> usize {
        self.groups.len()
    }

    /// Provenance attributes, `None` for files HAAV's script wrote.
    pub fn provenance(&self) -> Result<Option<Provenance>> {
        Provenance::read(&self.path, &self.file)
    }

    /// Loads every phrase with its key and value, as HAAV's `load_caption_db` concatenates the
    /// batches. The values are in [`Captions::features`] (what `txt_ctx` stores as `features`).
    pub fn load(&self) -> Result<Captions> {
        let mut out = Captions {
            key_dim: self.key_dim,
            feature_dim: self.value_dim,
            keys: Vec::with_capacity(self.len * self.key_dim),
            features: Vec::with_capacity(self.len * self.value_dim),
            captions: Vec::with_capacity(self.len),
        };
        for i in 0..self.groups.len() {
            let part = self.load_part(i)?;
            out.keys.extend_from_slice(&part.keys);
            out.features.extend_from_slice(&part.features);
            out.captions.extend(part.captions);
        }
        Ok(out)
    }

    /// Whether the phrases have sources (a `sources` dataset in each batch group).
    pub fn has_sources(&self) -> bool {
        self.sources
    }

    /// Each phrase's source (the image whose caption it is), in row order; `None` when the
    /// database has no sources.
    pub fn sources(&self) -> Result<Option<Vec<String>>> {
        if !self.sources {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(self.len);
        for i in 0..self.groups.len() {
            out.extend(self.sources_part(i)?.unwrap_or_default());
        }
        Ok(Some(out))
    }

    /// The sources of batch group `i`, `None` without.
    pub fn sources_part(&self, i: usize) -> Result<Option<Vec<String>>> {
        if !self.sources {
            return Ok(None);
        }
        let Some((name, _)) = self.groups.get(i) else {
            return Err(Error::Missing { path: self.path.clone(), object: i.to_string() });
        };
        let g = h5::group(&self.path, &self.checks, &self.file, name, name)?;
        sources::read(&self.path, &self.checks, &g, &format!("{name}/"), None).map(Some)
    }

    /// Batch group `i`, values in [`Captions::features`].
    pub fn load_part(&self, i: usize) -> Result<Captions> {
        let Some((name, n)) = self.groups.get(i) else {
            return Err(Error::Missing { path: self.path.clone(), object: i.to_string() });
        };
        let g = h5::group(&self.path, &self.checks, &self.file, name, name)?;
        let read = |dataset: &str, width: usize| -> Result<Vec<f32>> {
            let object = format!("{name}/{dataset}");
            let ds = h5::dataset(&self.path, &self.checks, &g, dataset, &object)?;
            let mut v = vec![0f32; n * width];
            h5::read_f32_into(&self.path, &ds, &object, None, &mut v)?;
            Ok(v)
        };
        let object = format!("{name}/{}", schema::CAPTIONS);
        let ds = h5::dataset(&self.path, &self.checks, &g, schema::CAPTIONS, &object)?;
        Ok(Captions {
            key_dim: self.key_dim,
            feature_dim: self.value_dim,
            keys: read(schema::KEYS, self.key_dim)?,
            features: read(schema::VALUES, self.value_dim)?,
            captions: h5::vlen::strings(&self.path, &ds, &object, None)?,
        })
    }

    /// One phrase by its row in the database; its value is in [`Caption::feature`].
    pub fn get(&self, index: usize) -> Result<Caption> {
        let mut row = index;
        for (i, (_, n)) in self.groups.iter().enumerate() {
            if row < *n {
                let part = self.load_part(i)?;
                let (dk, d) = (self.key_dim, self.value_dim);
                return Ok(Caption {
                    key: part.keys[row * dk..(row + 1) * dk].to_vec(),
                    feature: part.features[row * d..(row + 1) * d].to_vec(),
                    caption: part.captions[row].clone(),
                });
            }
            row -= n;
        }
        Err(Error::Missing {
            path: self.path.clone(),
            object: format!("caption {index} (the database holds {})", self.len),
        })
    }
}
