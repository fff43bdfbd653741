//! `caption_db.hdf5`: the phrase database with its keys (projected, L2-normalised text
//! embeddings) and features (text pooled outputs), in two layouts:
//!
//! - [`CaptionLayout::Original`]: what the Python original writes, a group per batch of 512
//!   (`"0"`, `"1"`, ...) with gzip-compressed `keys`, `features`, `captions`;
//! - [`CaptionLayout::Contiguous`]: ours, three root datasets chunked along the rows (not
//!   compressed: see `create_growing`) and
//!   extended batch by batch, marked by the root attribute `layout`. Faster to write and load.
//!
//! Texts that came with a source (the image a caption describes) keep it in a `sources` dataset
//! beside `captions` (see `sources`). [`CaptionDb::open`] detects the layout.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, File, Group};
use ndarray::{ArrayView1, ArrayView2};

use crate::bounds;
use crate::entry::{Caption, Captions};
use crate::error::{Error, Result};
use crate::h5::gzip::{H5PY_GZIP_LEVEL, guess_chunk};
use crate::h5::{self, h5err, packed};
use crate::kind::{CaptionLayout, FileKind};
use crate::provenance::Provenance;
use crate::schema;
use crate::testing::{self, WritePoint};

mod load;
mod native;
mod sources;

/// Rows per chunk of the contiguous layout (4 MiB of 512-d float32 per chunk).
const CHUNK_ROWS: usize = 2048;

/// Writes `caption_db.hdf5` batch by batch.
pub struct CaptionDbWriter {
    /// Contiguous layout: `keys`, `features`, `captions`, open while the writer is (declared
    /// first: dropped before the file is closed).
    grown: Option<[Dataset; 3]>,
    /// The HDF5 library's writer: the original layout, or a file the native one cannot
    /// continue.
    w: Option<h5::Writer>,
    /// Either layout without the HDF5 library (`oldh5::caption_db`, `oldh5::caption_groups`).
    native: Option<native::Native>,
    path: PathBuf,
    layout: CaptionLayout,
    key_dim: usize,
    feature_dim: usize,
    batches: usize,
    rows: usize,
    /// Original layout: the float chunks' compressor (on rayon's threads).
    packer: packed::Packer,
    /// Original layout: compress through HDF5 on the calling thread (see
    /// [`set_serial_compression`](Self::set_serial_compression)).
    serial: bool,
    /// Whether the rows have sources: `None` until the first batch decides.
    has_sources: Option<bool>,
    /// Contiguous layout with sources: the growing `sources` dataset, held open as `grown`.
    grown_sources: Option<Dataset>,
}

impl CaptionDbWriter {
    /// Creates the file in `layout` for keys of `key_dim` and features of `feature_dim` values.
    pub fn create(
        path: impl AsRef<Path>,
        layout: CaptionLayout,
        key_dim: usize,
        feature_dim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        let native = native::create(path, layout, key_dim, feature_dim, provenance, overwrite)?;
        Ok(Self::of_native(native, path, layout, (key_dim, feature_dim), (0, 0), None))
    }

    /// [`create`](Self::create) with every layout written through the HDF5 library, as before
    /// the native writer: the reference the tests compare its files with.
    #[doc(hidden)]
    pub fn create_through_hdf5(
        path: impl AsRef<Path>,
        layout: CaptionLayout,
        key_dim: usize,
        feature_dim: usize,
        provenance: &Provenance,
        overwrite: bool,
    ) -> Result<Self> {
        let w = h5::Writer::create(path.as_ref(), overwrite)?;
        provenance.write(&w.path, w.file(), FileKind::CaptionDb(layout))?;
        if layout == CaptionLayout::Contiguous {
            let root: &Group = w.file();
            h5::write_attr_str(&w.path, root, schema::LAYOUT, schema::LAYOUT_CONTIGUOUS)?;
            create_growing::<f32>(&w.path, root, schema::KEYS, Some(key_dim))?;
            create_growing::<f32>(&w.path, root, schema::FEATURES, Some(feature_dim))?;
            create_growing::<VarLenUnicode>(&w.path, root, schema::CAPTIONS, None)?;
        }
        w.file().flush().map_err(h5err(&w.path, "/"))?;
        let grown = open_grown(&w, layout)?;
        let packer = packed::Packer::new(&w.path, H5PY_GZIP_LEVEL);
        Ok(Self {
            path: w.path.clone(),
            w: Some(w),
            native: None,
            layout,
            key_dim,
            feature_dim,
            batches: 0,
            rows: 0,
            grown,
            serial: false,
            packer,
            has_sources: None,
            grown_sources: None,
        })
    }

    /// Opens an existing file to add batches (resume). Returns the writer; [`rows`] tells how
    /// many captions it already holds.
    ///
    /// [`rows`]: CaptionDbWriter::rows
    pub fn append(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        native::recover(path)?;
        let db = CaptionDb::open(path)?;
        let (layout, key_dim, feature_dim, rows) =
            (db.layout, db.key_dim, db.feature_dim, db.len());
        let batches = db.groups.len();
        let has_sources = (rows > 0 || batches > 0 || db.sources).then_some(db.sources);
        drop(db);
        let native = match layout {
            CaptionLayout::Contiguous => {
                native::append(path, key_dim, feature_dim, rows, has_sources == Some(true))?
            }
            CaptionLayout::Original => native::append_groups(path, batches, rows)?,
        };
        if let Some(native) = native {
            let dims = (key_dim, feature_dim);
            return Ok(Self::of_native(native, path, layout, dims, (batches, rows), has_sources));
        }
        let w = h5::Writer::append(path)?;
        let grown = open_grown(&w, layout)?;
        let grown_sources = open_grown_sources(&w, layout, has_sources)?;
        let packer = packed::Packer::new(&w.path, H5PY_GZIP_LEVEL);
        Ok(Self {
            path: w.path.clone(),
            w: Some(w),
            native: None,
            layout,
            key_dim,
            feature_dim,
            batches,
            rows,
            grown,
            serial: false,
            packer,
            has_sources,
            grown_sources,
        })
    }

    /// A writer through `native`, of a file holding `batches` groups and `rows` rows.
    fn of_native(
        native: native::Native,
        path: &Path,
        layout: CaptionLayout,
        (key_dim, feature_dim): (usize, usize),
        (batches, rows): (usize, usize),
        has_sources: Option<bool>,
    ) -> Self {
        Self {
            grown: None,
            w: None,
            native: Some(native),
            path: path.to_owned(),
            layout,
            key_dim,
            feature_dim,
            batches,
            rows,
            packer: packed::Packer::new(path, H5PY_GZIP_LEVEL),
            serial: false,
            has_sources,
            grown_sources: None,
        }
    }

    /// With `serial`, the original layout's float chunks are compressed by HDF5 on the calling
    /// thread, as before the parallel writer: the same file, for benchmarks and tests. Only the
    /// HDF5 library's writer ([`create_through_hdf5`](Self::create_through_hdf5), or a file the
    /// native writer cannot continue) compresses through HDF5; the native one always on rayon.
    #[doc(hidden)]
    pub fn set_serial_compression(&mut self, serial: bool) {
        self.serial = serial;
    }

    /// Captions written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Batches written so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Appends one batch: `captions.len()` rows of keys and features. Flushed before returning.
    pub fn write_batch(
        &mut self,
        keys: &[f32],
        features: &[f32],
        captions: &[String],
    ) -> Result<()> {
        self.write_batch_with_sources(keys, features, captions, None)
    }

    /// [`write_batch`](Self::write_batch) with each caption's source (row-aligned with
    /// `captions`), stored in the `sources` dataset. The first batch decides whether the file
    /// has sources; every later batch must agree.
    pub fn write_batch_with_sources(
        &mut self,
        keys: &[f32],
        features: &[f32],
        captions: &[String],
        sources: Option<&[String]>,
    ) -> Result<()> {
        let n = captions.len();
        let path = self.path.clone();
        if self.layout == CaptionLayout::Original && self.batches == 0 && n > 0 {
            // A file of no batch group yet (one whose writer was killed before its first
            // batch, continued) does not record the sizes: the first batch sets them.
            (self.key_dim, self.feature_dim) = (keys.len() / n, features.len() / n);
        }
        bounds::check_len(&path, schema::KEYS, &[n, self.key_dim], keys.len())?;
        bounds::check_len(&path, schema::FEATURES, &[n, self.feature_dim], features.len())?;
        let texts = h5::to_varlen(&path, schema::CAPTIONS, captions)?;
        let sources = h5::sources::prepare(&path, self.has_sources, n, sources)?;
        if let Some(native) = &mut self.native {
            fn strs(t: &[VarLenUnicode]) -> Vec<&str> {
                t.iter().map(|s| s.as_str()).collect()
            }
            let source_strs = sources.as_deref().map(strs);
            let (k, f) = ((keys, self.key_dim), (features, self.feature_dim));
            native.write_batch(k, f, &strs(&texts), source_strs.as_deref())?;
            self.batches += 1;
            self.rows += n;
            self.has_sources = Some(sources.is_some());
            tracing::debug!(n, rows = self.rows, "caption_db batch written");
            return Ok(());
        }
        let w = self.w.as_mut().expect("the HDF5 writer without the native one");
        let root: &Group = w.file();
        match self.layout {
            CaptionLayout::Original => {
                let name = self.batches.to_string();
                let g = root.create_group(&name).map_err(h5err(&path, &name))?;
                let obj = |d: &str| format!("{name}/{d}");
                if self.serial || n == 0 {
                    let (kd, fd) = (self.key_dim, self.feature_dim);
                    write_gzip(&path, &g, schema::KEYS, &obj(schema::KEYS), keys, n, kd)?;
                    testing::at(WritePoint::Entry(0));
                    write_gzip(
                        &path,
                        &g,
                        schema::FEATURES,
                        &obj(schema::FEATURES),
                        features,
                        n,
                        fd,
                    )?;
                    testing::at(WritePoint::Entry(1));
                } else {
                    let rows = |name: &str, data, width| packed::F32Array {
                        name: name.to_owned(),
                        object: obj(name),
                        data,
                        shape: vec![n, width],
                    };
                    let floats = [
                        rows(schema::KEYS, keys, self.key_dim),
                        rows(schema::FEATURES, features, self.feature_dim),
                    ];
                    self.packer.write(&g, &floats, |i| testing::at(WritePoint::Entry(i)))?;
                }
                if let Some(sources) = &sources {
                    write_strings(&path, &g, schema::SOURCES, &obj(schema::SOURCES), sources)?;
                }
                write_strings(&path, &g, schema::CAPTIONS, &obj(schema::CAPTIONS), &texts)?;
                testing::at(WritePoint::Entry(2));
            }
            CaptionLayout::Contiguous => {
                let [k, f, c] = self.grown.as_ref().expect("opened with the contiguous layout");
                let (start, end) = (self.rows, self.rows + n);
                grow_2d(&path, k, schema::KEYS, keys, start, end, self.key_dim)?;
                testing::at(WritePoint::Entry(0));
                grow_2d(&path, f, schema::FEATURES, features, start, end, self.feature_dim)?;
                testing::at(WritePoint::Entry(1));
                if let Some(sources) = &sources {
                    if self.grown_sources.is_none() {
                        create_growing::<VarLenUnicode>(&path, root, schema::SOURCES, None)?;
                        let ds =
                            root.dataset(schema::SOURCES).map_err(h5err(&path, schema::SOURCES))?;
                        self.grown_sources = Some(ds);
                    }
                    let s = self.grown_sources.as_ref().expect("created above");
                    s.resize([end]).map_err(h5err(&path, schema::SOURCES))?;
                    s.write_slice(ArrayView1::from(&sources[..]), start..end)
                        .map_err(h5err(&path, schema::SOURCES))?;
                }
                c.resize([end]).map_err(h5err(&path, schema::CAPTIONS))?;
                c.write_slice(ArrayView1::from(&texts[..]), start..end)
                    .map_err(h5err(&path, schema::CAPTIONS))?;
                testing::at(WritePoint::Entry(2));
            }
        }
        self.batches += 1;
        self.rows += n;
        self.has_sources = Some(sources.is_some());
        tracing::debug!(n, rows = self.rows, "caption_db batch written");
        w.end_batch()
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<()> {
        self.grown = None;
        self.grown_sources = None;
        if let Some(native) = self.native.take() {
            return native.finish();
        }
        self.w.take().map_or(Ok(()), |mut w| w.close())
    }
}

/// The growing datasets of the contiguous layout, held open by the writer: closing a dataset
/// writes its cached chunks at once, and the `captions` chunk then on disk, before the flush that
/// would record its new strings, holds references a resumed write cannot overwrite (HDF5 frees
/// the strings an element held before). Held open, chunks are written by the batch's flush.
fn open_grown(w: &h5::Writer, layout: CaptionLayout) -> Result<Option<[Dataset; 3]>> {
    if layout != CaptionLayout::Contiguous {
        return Ok(None);
    }
    let open = |name: &str| w.file().dataset(name).map_err(h5err(&w.path, name));
    Ok(Some([open(schema::KEYS)?, open(schema::FEATURES)?, open(schema::CAPTIONS)?]))
}

/// The contiguous layout's `sources`, held open by a resumed writer like the other datasets.
fn open_grown_sources(
    w: &h5::Writer,
    layout: CaptionLayout,
    has: Option<bool>,
) -> Result<Option<Dataset>> {
    if layout != CaptionLayout::Contiguous || has != Some(true) {
        return Ok(None);
    }
    w.file().dataset(schema::SOURCES).map(Some).map_err(h5err(&w.path, schema::SOURCES))
}

/// A dataset of `dim`-wide rows (1-d without `dim`) that grows batch by batch, in chunks of
/// [`CHUNK_ROWS`] rows, uncompressed: a batch then rewrites the last chunk with the earlier rows'
/// bytes unchanged, where a compressed chunk would move and a killed writer could leave a file
/// whose last flush points at overwritten bytes.
fn create_growing<T: hdf5::H5Type>(
    path: &Path,
    root: &Group,
    name: &str,
    dim: Option<usize>,
) -> Result<()> {
    let b = root.new_dataset::<T>();
    let b = match dim {
        Some(d) => b.shape((0.., d)).chunk((CHUNK_ROWS, d.max(1))),
        None => b.shape(0..).chunk(CHUNK_ROWS * 8),
    };
    b.create(name).map(drop).map_err(h5err(path, name))
}

fn grow_2d(
    path: &Path,
    ds: &Dataset,
    object: &str,
    data: &[f32],
    start: usize,
    end: usize,
    dim: usize,
) -> Result<()> {
    ds.resize([end, dim]).map_err(h5err(path, object))?;
    let view = ArrayView2::from_shape((end - start, dim), data).expect("length checked");
    ds.write_slice(view, (start..end, ..)).map_err(h5err(path, object))
}

/// A batch group's `(n,)` strings, gzip as h5py writes them.
fn write_strings(
    path: &Path,
    g: &Group,
    name: &str,
    object: &str,
    texts: &[VarLenUnicode],
) -> Result<()> {
    let ds = g
        .new_dataset::<VarLenUnicode>()
        .shape([texts.len()])
        .chunk(guess_chunk(&[texts.len()], 8))
        .deflate(H5PY_GZIP_LEVEL)
        .create(name)
        .map_err(h5err(path, object))?;
    ds.write_raw(texts).map_err(h5err(path, object))
}

fn write_gzip(
    path: &Path,
    g: &Group,
    name: &str,
    object: &str,
    data: &[f32],
    n: usize,
    dim: usize,
) -> Result<()> {
    let ds = g
        .new_dataset::<f32>()
        .shape([n, dim])
        .chunk(guess_chunk(&[n, dim], 4))
        .deflate(H5PY_GZIP_LEVEL)
        .create(name)
        .map_err(h5err(path, object))?;
    ds.write_raw(data).map_err(h5err(path, object))
}

/// Reads `caption_db.hdf5` in either layout.
pub struct CaptionDb {
    path: PathBuf,
    file: File,
    /// What is left to check as the file's objects are opened.
    checks: h5::Checks,
    layout: CaptionLayout,
    key_dim: usize,
    feature_dim: usize,
    /// Original layout: (group name, rows) in batch order.
    groups: Vec<(String, usize)>,
    len: usize,
    /// Whether the rows have sources (a `sources` dataset beside `captions`).
    sources: bool,
}

impl CaptionDb {
    /// Opens the file and detects its layout.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let (file, checks) = h5::open_checked(&path)?;
        let file_len = std::fs::metadata(&path).map(|m| m.len()).map_err(|source| Error::Io {
            path: path.clone(),
            object: "/".into(),
            source,
        })?;
        let contiguous = h5::read_attr_str(&path, &file, schema::LAYOUT)?
            .is_some_and(|l| l == schema::LAYOUT_CONTIGUOUS)
            || file.link_exists(schema::KEYS);
        if contiguous {
            let (len, key_dim, feature_dim) = check_batch(&path, &checks, &file, "", file_len)?;
            let sources = h5::sources::check(&path, &checks, &file, "", len)?;
            return Ok(Self {
                path,
                file,
                checks,
                layout: CaptionLayout::Contiguous,
                key_dim,
                feature_dim,
                groups: Vec::new(),
                len,
                sources,
            });
        }
        let (batches, other) = h5::numeric_members(&path, &file)?;
        if let Some(name) = other.first() {
            return Err(Error::Schema {
                path,
                message: format!("unexpected member {name:?} in a caption database"),
            });
        }
        let mut groups = Vec::with_capacity(batches.len());
        let (mut key_dim, mut feature_dim, mut len) = (0, 0, 0);
        let mut with_sources = None;
        for (i, b) in batches.iter().enumerate() {
            if *b != i as u64 {
                return Err(Error::Missing { path, object: i.to_string() });
            }
            let name = b.to_string();
            let g = h5::group(&path, &checks, &file, &name, &name)?;
            let (n, kd, fd) = check_batch(&path, &checks, &g, &format!("{name}/"), file_len)?;
            if i > 0 && (kd, fd) != (key_dim, feature_dim) {
                return Err(Error::Schema {
                    path,
                    message: format!(
                        "batch {name} has key/feature sizes ({kd}, {fd}), batch 0 has ({key_dim}, {feature_dim})"
                    ),
                });
            }
            (key_dim, feature_dim) = (kd, fd);
            let has = h5::sources::check(&path, &checks, &g, &format!("{name}/"), n)?;
            h5::sources::agree(&path, &name, &mut with_sources, has)?;
            len += n;
            groups.push((name, n));
        }
        let what = "rows of all batches times (key size + feature size + 1)";
        bounds::values(&path, "/", what, &[len, key_dim + feature_dim + 1], file_len)?;
        let sources = with_sources.unwrap_or(false);
        let layout = CaptionLayout::Original;
        Ok(Self { path, file, checks, layout, key_dim, feature_dim, groups, len, sources })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn root(&self) -> Result<Group> {
        self.file.as_group().map_err(h5err(&self.path, "/"))
    }

    /// The detected layout.
    pub fn layout(&self) -> CaptionLayout {
        self.layout
    }

    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the database holds no phrase.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Key size (512 for ViT-B/32).
    pub fn key_dim(&self) -> usize {
        self.key_dim
    }

    /// Feature size (512 for ViT-B/32).
    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// Number of batch groups (original layout), 0 for the contiguous layout.
    pub fn batches(&self) -> usize {
        self.groups.len()
    }

    /// Provenance attributes, `None` for files the original wrote.
    pub fn provenance(&self) -> Result<Option<Provenance>> {
        Provenance::read(&self.path, &self.file)
    }

    /// The batch groups (original layout) or the root (contiguous), with the prefix of their
    /// objects' names and their rows, in row order.
    fn parts_in_order(&self) -> Result<Vec<(Group, String, usize)>> {
        match self.layout {
            CaptionLayout::Contiguous => Ok(vec![(self.root()?, String::new(), self.len)]),
            CaptionLayout::Original => self
                .groups
                .iter()
                .map(|(name, n)| {
                    let g = self.file.group(name).map_err(h5err(&self.path, name))?;
                    Ok((g, format!("{name}/"), *n))
                })
                .collect(),
        }
    }

    /// [`load`](Self::load) through HDF5 alone, on one thread: each dataset read by HDF5, one
    /// after the other. The reference the parallel load is tested and measured against.
    #[doc(hidden)]
    pub fn load_serial(&self) -> Result<Captions> {
        let mut out = Captions {
            key_dim: self.key_dim,
            feature_dim: self.feature_dim,
            keys: vec![0f32; self.len * self.key_dim],
            features: vec![0f32; self.len * self.feature_dim],
            captions: Vec::with_capacity(self.len),
        };
        let mut row = 0;
        for (g, prefix, n) in self.parts_in_order()? {
            let (kd, fd) = (self.key_dim, self.feature_dim);
            self.read_rows(&g, &prefix, schema::KEYS, &mut out.keys[row * kd..(row + n) * kd])?;
            self.read_rows(
                &g,
                &prefix,
                schema::FEATURES,
                &mut out.features[row * fd..(row + n) * fd],
            )?;
            let object = format!("{prefix}{}", schema::CAPTIONS);
            let ds = self.dataset(&g, schema::CAPTIONS, &object)?;
            out.captions.extend(h5::vlen::strings(&self.path, &ds, &object, None)?);
            row += n;
        }
        Ok(out)
    }

    /// How many parts [`load_part`](Self::load_part) reads the database in.
    pub(crate) fn parts(&self) -> usize {
        match self.layout {
            CaptionLayout::Original => self.groups.len(),
            CaptionLayout::Contiguous => self.len.div_ceil(CHUNK_ROWS),
        }
    }

    /// Where part `i` lies: its group, the prefix of its objects' names and its rows there.
    pub(crate) fn part(&self, i: usize) -> Result<(hdf5::Group, String, std::ops::Range<usize>)> {
        Ok(match self.layout {
            CaptionLayout::Original => {
                let (name, n) = &self.groups[i];
                let g = self.file.group(name).map_err(h5err(&self.path, name))?;
                (g, format!("{name}/"), 0..*n)
            }
            CaptionLayout::Contiguous => {
                let start = i * CHUNK_ROWS;
                (self.root()?, String::new(), start..self.len.min(start + CHUNK_ROWS))
            }
        })
    }

    /// Part `i` of the database: batch group `i` of the original layout, rows
    /// `i * CHUNK_ROWS ..` of the contiguous one (so that a copy needs no more memory than that).
    pub(crate) fn load_part(&self, i: usize) -> Result<Captions> {
        let (g, prefix, rows) = self.part(i)?;
        let read = |name: &str| -> Result<Vec<f32>> {
            let object = format!("{prefix}{name}");
            let ds = self.dataset(&g, name, &object)?;
            let a: ndarray::Array2<f32> =
                ds.read_slice_2d((rows.clone(), ..)).map_err(h5err(&self.path, &object))?;
            Ok(a.into_iter().collect())
        };
        let object = format!("{prefix}{}", schema::CAPTIONS);
        let ds = self.dataset(&g, schema::CAPTIONS, &object)?;
        Ok(Captions {
            key_dim: self.key_dim,
            feature_dim: self.feature_dim,
            keys: read(schema::KEYS)?,
            features: read(schema::FEATURES)?,
            captions: h5::vlen::strings(&self.path, &ds, &object, Some(rows.clone()))?,
        })
    }

    /// The dataset `name` of `g` (`object` in errors), its chunk index checked where `checks`
    /// says.
    pub(crate) fn dataset(&self, g: &Group, name: &str, object: &str) -> Result<hdf5::Dataset> {
        let ds = g.dataset(name).map_err(h5err(&self.path, object))?;
        h5::opened(&self.path, &self.checks, &ds, object)?;
        Ok(ds)
    }

    fn read_rows(&self, g: &Group, prefix: &str, name: &str, out: &mut [f32]) -> Result<()> {
        let object = format!("{prefix}{name}");
        let ds = self.dataset(g, name, &object)?;
        h5::read_f32_into(&self.path, &ds, &object, None, out)
    }

    /// One phrase by its row in the database.
    pub fn get(&self, index: usize) -> Result<Caption> {
        if index >= self.len {
            return Err(Error::Missing {
                path: self.path.clone(),
                object: format!("caption {index} (the database holds {})", self.len),
            });
        }
        let (g, prefix, row) = match self.layout {
            CaptionLayout::Contiguous => (self.root()?, String::new(), index),
            CaptionLayout::Original => {
                let mut row = index;
                let mut found = None;
                for (name, n) in &self.groups {
                    if row < *n {
                        found = Some(name);
                        break;
                    }
                    row -= n;
                }
                let name = found.expect("index < len");
                (self.file.group(name).map_err(h5err(&self.path, name))?, format!("{name}/"), row)
            }
        };
        let read_row = |name: &str| -> Result<Vec<f32>> {
            let object = format!("{prefix}{name}");
            let ds = self.dataset(&g, name, &object)?;
            let a: ndarray::Array1<f32> =
                ds.read_slice_1d((row, ..)).map_err(h5err(&self.path, &object))?;
            Ok(a.to_vec())
        };
        let object = format!("{prefix}{}", schema::CAPTIONS);
        let ds = self.dataset(&g, schema::CAPTIONS, &object)?;
        let texts = h5::vlen::strings(&self.path, &ds, &object, None)?;
        Ok(Caption {
            key: read_row(schema::KEYS)?,
            feature: read_row(schema::FEATURES)?,
            caption: texts[row].clone(),
        })
    }
}

/// Checks `keys (n, dk)`, `features (n, d)`, `captions (n,)` of one batch group (or the root),
/// and that the sizes are ones to allocate with in a file of `file_len` bytes.
fn check_batch(
    path: &Path,
    checks: &h5::Checks,
    g: &Group,
    prefix: &str,
    file_len: u64,
) -> Result<(usize, usize, usize)> {
    let obj = |d: &str| format!("{prefix}{d}");
    let keys = h5::dataset(path, checks, g, schema::KEYS, &obj(schema::KEYS))?;
    let ks = h5::check_f32(path, &keys, &obj(schema::KEYS), &[None, None])?;
    let dk = bounds::dim(path, &obj(schema::KEYS), "the key size", ks[1] as i128)?;
    let features = h5::dataset(path, checks, g, schema::FEATURES, &obj(schema::FEATURES))?;
    let fs = h5::check_f32(path, &features, &obj(schema::FEATURES), &[Some(ks[0]), None])?;
    let d = bounds::dim(path, &obj(schema::FEATURES), "the feature size", fs[1] as i128)?;
    let captions = h5::dataset(path, checks, g, schema::CAPTIONS, &obj(schema::CAPTIONS))?;
    h5::check_shape(path, &captions, &obj(schema::CAPTIONS), &[Some(ks[0])])?;
    let what = "rows times (key size + feature size + 1)";
    bounds::values(path, &obj(schema::KEYS), what, &[ks[0], dk + d + 1], file_len)?;
    Ok((ks[0], dk, d))
}
