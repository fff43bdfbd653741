//! HDF5 plumbing shared by the readers and writers: opening with clear errors, the file-format
//! bounds and metadata-cache settings of our writers, typed reads with dtype/shape checks, and
//! string datasets. The files beside it build on this: resuming a killed writer (`resume`),
//! h5py's gzip datasets (`gzip`) and their chunks compressed on rayon's threads (`packed`,
//! stored by `direct_chunk`), and reading stored chunks (`chunks`) and variable-length strings
//! (`vlen`) without the library, and the caption databases' `sources` (`sources`).

use std::io::Read;
use std::path::{Path, PathBuf};

use hdf5::plist::dataset_create::{AllocTime, FillTime};
use hdf5::plist::file_access::{
    CacheDecreaseMode, CacheIncreaseMode, FileCloseDegree, FlashIncreaseMode, LibraryVersion,
    MetadataCacheConfig,
};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group};

use crate::error::{Error, Result};
use crate::id::ImageId;
pub(crate) use crate::oldh5::access::Checks;
use crate::sync::SyncClock;
use crate::testing::{self, WritePoint};
use crate::{bounds, schema};

pub(crate) mod chunks;
pub(crate) mod direct_chunk;
pub(crate) mod gzip;
mod object_addr;
pub(crate) mod packed;
pub(crate) mod provenance;
pub(crate) mod resume;
pub(crate) mod sources;
pub(crate) mod vlen;

/// The version of the HDF5 C library this crate was built with, e.g. `1.14.6`.
pub fn hdf5_version() -> String {
    let (a, b, c) = hdf5::library_version();
    format!("{a}.{b}.{c}")
}

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Error adaptor: `map_err(h5err(path, object))`.
pub(crate) fn h5err<'a>(path: &'a Path, object: &'a str) -> impl Fn(hdf5::Error) -> Error + 'a {
    move |source| Error::Hdf5 { path: path.to_owned(), object: object.to_owned(), source }
}

/// Checks existence and the HDF5 signature (at 0 or a userblock boundary), so that a missing or
/// foreign file gets a plain error instead of HDF5's error stack.
fn check_signature(path: &Path) -> Result<()> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound { path: path.to_owned() });
        }
        Err(source) => return Err(Error::Io { path: path.to_owned(), object: "/".into(), source }),
    };
    let mut head = Vec::with_capacity(8);
    let mut offset = 0usize;
    // The superblock sits at 0, 512, 1024, 2048, ... (after a userblock). Look at the first few.
    while offset <= 8192 {
        head.clear();
        let mut buf = [0u8; 8];
        use std::io::Seek;
        if f.seek(std::io::SeekFrom::Start(offset as u64)).is_err() {
            break;
        }
        let n = f.by_ref().take(8).read_to_end(&mut head).unwrap_or(0);
        if n < 8 {
            break;
        }
        buf.copy_from_slice(&head);
        if &buf == SIGNATURE {
            return Ok(());
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Err(Error::NotHdf5 { path: path.to_owned() })
}

fn classify_open_error(path: &Path, action: &'static str, source: hdf5::Error) -> Error {
    if source.to_string().contains("truncated") {
        Error::Truncated { path: path.to_owned(), source }
    } else {
        Error::Open { path: path.to_owned(), action, source }
    }
}

/// Opens a context file read-only.
pub(crate) fn open_read(path: &Path) -> Result<File> {
    open_checked(path).map(|(file, _)| file)
}

/// Opens a context file read-only, with what is left to check as its objects are opened
/// ([`dataset`], [`group`], [`opened`]).
pub(crate) fn open_checked(path: &Path) -> Result<(File, Checks)> {
    check_signature(path)?;
    let checks = crate::oldh5::access::file(path)?;
    let file = File::open(path).map_err(|e| classify_open_error(path, "open", e))?;
    Ok((file, checks))
}

/// Metadata cache of our writers: a fixed 16 MiB, enough to hold the metadata of several
/// batches, so that the least-recently-used entries the cache evicts between two flushes are
/// ones the last flush already wrote (clean) and a killed writer leaves the file as of its last
/// flush. (Disabling evictions outright guarantees that, but the cache then grows with the file
/// and writing slows down superlinearly: 20,000 images took 1.8x as long per image as 5,000.)
fn writer_fapl(p: &mut hdf5::plist::FileAccessBuilder) -> &mut hdf5::plist::FileAccessBuilder {
    const CACHE: usize = 16 << 20;
    let mdc = MetadataCacheConfig {
        evictions_enabled: true,
        set_initial_size: true,
        initial_size: CACHE,
        min_size: CACHE,
        max_size: CACHE,
        incr_mode: CacheIncreaseMode::Off,
        flash_incr_mode: FlashIncreaseMode::Off,
        decr_mode: CacheDecreaseMode::Off,
        ..MetadataCacheConfig::default()
    };
    // Low bound 1.8: groups with many members use dense link storage (fractal heap + v2 B-tree),
    // which stays fast with 123,287 images at the root, where the 1.6-era symbol table slows
    // down badly (h5py issue 1055). High bound 1.8 keeps superblock version 2: no "file open for
    // writing" flag that would make a crashed file unopenable without h5clear, and every HDF5
    // since 1.8 (h5py 2.x and 3.x) reads the files.
    // Strong close: closing the writer closes every handle, so the file is unlocked for readers.
    p.libver_bounds(LibraryVersion::V18, LibraryVersion::V18)
        .mdc_config(&mdc)
        .fclose_degree(FileCloseDegree::Strong)
}

/// An HDF5 file open for writing, flushed after each batch.
pub(crate) struct Writer {
    pub(crate) path: PathBuf,
    file: Option<File>,
    /// The same file opened by std, for the float data written beside HDF5 ([`RawSink`]),
    /// and to sync it.
    raw: std::fs::File,
    /// When the flushed file is synced ([`crate::SyncPolicy`]).
    clock: std::sync::Mutex<SyncClock>,
    /// What is left to check in an existing file as its objects are opened.
    pub(crate) checks: Checks,
}

impl Writer {
    /// Creates `path`; refuses to replace an existing file unless `overwrite`.
    pub(crate) fn create(path: &Path, overwrite: bool) -> Result<Self> {
        if path.exists() && !overwrite {
            return Err(Error::Exists { path: path.to_owned() });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: path.to_owned(),
                object: "/".into(),
                source,
            })?;
        }
        let file = File::with_options()
            .with_fapl(writer_fapl)
            .create(path)
            .map_err(|e| classify_open_error(path, "create", e))?;
        let raw = Self::open_raw(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Some(file),
            raw,
            clock: SyncClock::new().into(),
            checks: Checks::default(),
        })
    }

    /// Opens an existing file to append to it (resuming a run).
    pub(crate) fn append(path: &Path) -> Result<Self> {
        check_signature(path)?;
        let checks = crate::oldh5::access::file(path)?;
        let file = Self::open_rw(path)?;
        let raw = Self::open_raw(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Some(file),
            raw,
            clock: SyncClock::new().into(),
            checks,
        })
    }

    fn open_raw(path: &Path) -> Result<std::fs::File> {
        std::fs::OpenOptions::new().write(true).open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            object: "/".into(),
            source,
        })
    }

    /// Runs `body`, the HDF5 calls of one batch, while a second thread writes the float data
    /// that `body` hands to the [`RawSink`]; then flushes. The data are on disk before the
    /// metadata that points to them.
    pub(crate) fn write_batch<'d>(
        &self,
        body: impl FnOnce(&RawSink<'_, 'd>) -> Result<()>,
    ) -> Result<()> {
        let raw = &self.raw;
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<RawWrites<'d>>(16);
            let writer = s.spawn(move || -> std::io::Result<()> {
                use std::os::unix::fs::FileExt;
                for (n, writes) in rx.into_iter().enumerate() {
                    for (offset, data) in writes {
                        raw.write_all_at(bytemuck::cast_slice(data), offset)?;
                    }
                    testing::at(WritePoint::RawData(n));
                }
                Ok(())
            });
            let sink = RawSink {
                path: &self.path,
                tx,
                pending: Default::default(),
                pending_bytes: Default::default(),
            };
            let result = body(&sink).and_then(|()| sink.send());
            drop(sink);
            let io = writer.join().expect("the raw data writer does not panic");
            io.map_err(|source| Error::Io {
                path: self.path.clone(),
                object: "(raw data)".into(),
                source,
            })?;
            result
        })?;
        self.end_batch()
    }

    fn open_rw(path: &Path) -> Result<File> {
        File::with_options()
            .with_fapl(writer_fapl)
            .open_rw(path)
            .map_err(|e| classify_open_error(path, "open for writing", e))
    }

    pub(crate) fn file(&self) -> &File {
        self.file.as_ref().expect("the writer holds its file until finish")
    }

    /// Flushes the batch to the file, and syncs it where the policy says.
    pub(crate) fn end_batch(&self) -> Result<()> {
        testing::at(WritePoint::BeforeFlush);
        self.file().flush().map_err(h5err(&self.path, "/"))?;
        let mut clock = self.clock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if clock.due() {
            self.sync()?;
            clock.synced();
        }
        testing::at(WritePoint::Flushed);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.raw.sync_data().map_err(|source| Error::Io {
            path: self.path.clone(),
            object: "/".into(),
            source,
        })
    }

    /// Flushes, closes and syncs the file.
    pub(crate) fn close(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            file.flush().map_err(h5err(&self.path, "/"))?;
            file.close().map_err(h5err(&self.path, "/"))?;
            self.sync()?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("closing {:?}: {e}", self.path);
        }
    }
}

/// Opens the dataset `name` under `group`, or [`Error::Missing`] with its full path `object`.
/// What the library reads of it that `oldh5::validate` left unchecked at open (a root member of
/// a large file; a chunk index) is checked first (`checks`, from [`open_checked`]).
pub(crate) fn dataset(
    path: &Path,
    checks: &Checks,
    group: &Group,
    name: &str,
    object: &str,
) -> Result<Dataset> {
    if name == object {
        checks.root_member(path, name)?;
    }
    let ds = group.dataset(name).map_err(|e| missing_or(path, group, name, object, e))?;
    opened(path, checks, &ds, object)?;
    Ok(ds)
}

/// Before the library reads the chunk index of `ds` (`object` of `path`): checks it where
/// `oldh5::validate` left it to be checked when opened (`checks`). Every dataset a reader opens
/// goes through here (or [`dataset`]) before its data are read.
pub(crate) fn opened(path: &Path, checks: &Checks, ds: &Dataset, object: &str) -> Result<()> {
    if checks.chunk_indexes() && ds.is_chunked() {
        let at = object_addr::header_address(ds).map_err(h5err(path, object))?;
        checks.dataset_opened(path, at, object)?;
    }
    Ok(())
}

/// After a failed open: [`Error::Missing`] if there is no such link, else the HDF5 error.
fn missing_or(path: &Path, parent: &Group, name: &str, object: &str, e: hdf5::Error) -> Error {
    if parent.link_exists(name) {
        h5err(path, object)(e)
    } else {
        Error::Missing { path: path.to_owned(), object: object.to_owned() }
    }
}

/// Opens the group `name` under `group`, or [`Error::Missing`]; a member of the root is checked
/// first where `checks` says.
pub(crate) fn group(
    path: &Path,
    checks: &Checks,
    parent: &Group,
    name: &str,
    object: &str,
) -> Result<Group> {
    if name == object {
        checks.root_member(path, name)?;
    }
    parent.group(name).map_err(|e| missing_or(path, parent, name, object, e))
}

/// The element type, as a descriptor.
pub(crate) fn descriptor(path: &Path, ds: &Dataset, object: &str) -> Result<TypeDescriptor> {
    ds.dtype().and_then(|t| t.to_descriptor()).map_err(h5err(path, object))
}

/// Checks that `ds` holds float32 and has `expected` shape (`None` = any size in that axis).
pub(crate) fn check_f32(
    path: &Path,
    ds: &Dataset,
    object: &str,
    expected: &[Option<usize>],
) -> Result<Vec<usize>> {
    let desc = descriptor(path, ds, object)?;
    if desc != TypeDescriptor::Float(FloatSize::U4) {
        return Err(Error::Dtype {
            path: path.to_owned(),
            object: object.to_owned(),
            expected: "float32",
            found: desc.to_string(),
        });
    }
    check_shape(path, ds, object, expected)
}

/// Checks the shape of `ds` against `expected` (`None` = any size in that axis).
pub(crate) fn check_shape(
    path: &Path,
    ds: &Dataset,
    object: &str,
    expected: &[Option<usize>],
) -> Result<Vec<usize>> {
    let shape = ds.shape();
    let ok = shape.len() == expected.len()
        && shape.iter().zip(expected).all(|(s, e)| e.is_none_or(|e| e == *s));
    if !ok {
        let words: Vec<String> =
            expected.iter().map(|e| e.map_or_else(|| "*".to_owned(), |e| e.to_string())).collect();
        return Err(Error::Shape {
            path: path.to_owned(),
            object: object.to_owned(),
            expected: format!("({})", words.join(", ")),
            found: shape,
        });
    }
    Ok(shape)
}

/// Reads a float32 dataset whose type and shape were checked.
///
/// Contiguous little-endian data of a file without userblock is read straight from the file
/// with `pread` (`raw`), outside HDF5's global lock, so that parallel preloads scale; anything
/// else goes through HDF5.
pub(crate) fn read_f32_into(
    path: &Path,
    ds: &Dataset,
    object: &str,
    raw: Option<&std::fs::File>,
    out: &mut [f32],
) -> Result<()> {
    if let (Some(raw), Some(offset)) = (raw, direct_offset(ds)) {
        pread_f32(path, object, raw, offset, out)
    } else {
        ds.read_into_raw(out).map(drop).map_err(h5err(path, object))
    }
}

/// Reads `out.len()` float32 values at `offset` of `raw`, without HDF5.
fn pread_f32(
    path: &Path,
    object: &str,
    raw: &std::fs::File,
    offset: u64,
    out: &mut [f32],
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    raw.read_exact_at(bytemuck::cast_slice_mut(out), offset).map_err(|source| Error::Io {
        path: path.to_owned(),
        object: object.to_owned(),
        source,
    })
}

/// Where a checked float32 dataset's values come from: read already through HDF5, or to be read
/// straight from the file at an offset (outside HDF5's lock).
pub(crate) enum F32Source {
    Loaded(Vec<f32>),
    Direct { offset: u64, len: usize },
}

impl F32Source {
    /// Decides (and, for data HDF5 must decode, reads) under HDF5's lock. `direct` is false
    /// for files with a userblock.
    pub(crate) fn plan(
        path: &Path,
        ds: &Dataset,
        object: &str,
        direct: bool,
        len: usize,
    ) -> Result<Self> {
        if let Some(offset) = direct_offset(ds).filter(|_| direct) {
            return Ok(F32Source::Direct { offset, len });
        }
        let mut v = vec![0f32; len];
        read_f32_into(path, ds, object, None, &mut v)?;
        Ok(F32Source::Loaded(v))
    }

    /// The values; `raw` is the file opened by std for `pread`.
    pub(crate) fn load(self, path: &Path, object: &str, raw: &std::fs::File) -> Result<Vec<f32>> {
        match self {
            F32Source::Loaded(v) => Ok(v),
            F32Source::Direct { offset, len } => {
                let mut v = vec![0f32; len];
                pread_f32(path, object, raw, offset, &mut v)?;
                Ok(v)
            }
        }
    }
}

/// The file offset of a dataset's bytes when they can be read directly: contiguous and
/// allocated (HDF5 reports no offset for chunked, compact or external storage, so no filter can
/// apply), little-endian float32 on a little-endian machine.
fn direct_offset(ds: &Dataset) -> Option<u64> {
    if !cfg!(target_endian = "little") {
        return None;
    }
    let dtype = ds.dtype().ok()?;
    if dtype.byte_order() != hdf5::datatype::ByteOrder::LittleEndian {
        return None;
    }
    ds.offset()
}

/// Reads a string dataset through HDF5 (variable-length UTF-8 or ASCII, as h5py writes
/// `list[str]` and `list[bytes]`), in row-major order; with `rows`, only those rows of a 1-d
/// dataset. Readers call `vlen::strings`, which reads the strings from the file itself where it
/// can, checked, and this otherwise.
pub(crate) fn read_strings_in(
    path: &Path,
    ds: &Dataset,
    object: &str,
    rows: Option<std::ops::Range<usize>>,
) -> Result<Vec<String>> {
    fn read<T: hdf5::H5Type>(
        ds: &Dataset,
        rows: Option<std::ops::Range<usize>>,
    ) -> hdf5::Result<Vec<T>> {
        match rows {
            None => ds.read_raw::<T>(),
            Some(r) => ds.read_slice_1d::<T, _>(r).map(|a| a.into_iter().collect()),
        }
    }
    match descriptor(path, ds, object)? {
        TypeDescriptor::VarLenUnicode => Ok(read::<VarLenUnicode>(ds, rows)
            .map_err(h5err(path, object))?
            .into_iter()
            .map(|s| s.as_str().to_owned())
            .collect()),
        TypeDescriptor::VarLenAscii => Ok(read::<VarLenAscii>(ds, rows)
            .map_err(h5err(path, object))?
            .into_iter()
            .map(|s| s.as_str().to_owned())
            .collect()),
        other => Err(Error::Dtype {
            path: path.to_owned(),
            object: object.to_owned(),
            expected: "variable-length string",
            found: other.to_string(),
        }),
    }
}

/// Creates contiguous float32 datasets (h5py's layout for `data=`) and has their bytes written
/// by the second thread of [`Writer::write_batch`]: space is allocated at creation (no fill
/// values written), HDF5 tells where, and the thread `pwrite`s the data there while this one goes
/// on creating objects.
///
/// Writes go to the thread in groups of about [`RAW_GROUP_BYTES`]: one hand-over per dataset
/// costs a thread wake-up each, more than a small dataset's write.
pub(crate) struct RawSink<'a, 'd> {
    path: &'a Path,
    tx: std::sync::mpsc::SyncSender<RawWrites<'d>>,
    /// Writes not yet handed over, and their bytes.
    pending: std::cell::RefCell<RawWrites<'d>>,
    pending_bytes: std::cell::Cell<usize>,
}

/// `pwrite`s for the writing thread: file offset and the values that go there.
type RawWrites<'d> = Vec<(u64, &'d [f32])>;

/// Bytes of float data per hand-over to the writing thread.
const RAW_GROUP_BYTES: usize = 1 << 20;

impl<'d> RawSink<'_, 'd> {
    /// Hands the pending writes to the writing thread.
    fn send(&self) -> Result<()> {
        let writes = std::mem::take(&mut *self.pending.borrow_mut());
        self.pending_bytes.set(0);
        if writes.is_empty() {
            return Ok(());
        }
        self.tx.send(writes).map_err(|_| Error::Input {
            path: self.path.to_owned(),
            object: "(raw data)".into(),
            message: "the raw data writer stopped".into(),
        })
    }

    pub(crate) fn write_f32(
        &self,
        group: &Group,
        name: &str,
        object: &str,
        shape: &[usize],
        data: &'d [f32],
    ) -> Result<()> {
        let path = self.path;
        bounds::check_len(path, object, shape, data.len())?;
        let ds = group
            .new_dataset::<f32>()
            .shape(shape)
            .with_dcpl(|p| p.alloc_time(Some(AllocTime::Early)).fill_time(FillTime::Never))
            .create(name)
            .map_err(h5err(path, object))?;
        match ds.offset().filter(|_| cfg!(target_endian = "little") && !data.is_empty()) {
            Some(offset) => {
                self.pending.borrow_mut().push((offset, data));
                self.pending_bytes.set(self.pending_bytes.get() + std::mem::size_of_val(data));
                if self.pending_bytes.get() >= RAW_GROUP_BYTES { self.send() } else { Ok(()) }
            }
            None => ds.write_raw(data).map_err(h5err(path, object)),
        }
    }
}

/// Writes a variable-length UTF-8 string dataset, as h5py does for a list of `str`.
pub(crate) fn write_strings(
    path: &Path,
    group: &Group,
    name: &str,
    object: &str,
    shape: &[usize],
    data: &[String],
) -> Result<()> {
    bounds::check_len(path, object, shape, data.len())?;
    let values = to_varlen(path, object, data)?;
    let ds = group
        .new_dataset::<VarLenUnicode>()
        .shape(shape)
        .create(name)
        .map_err(h5err(path, object))?;
    ds.write_raw(&values).map_err(h5err(path, object))
}

/// Converts texts to HDF5 variable-length strings (which cannot hold NUL).
pub(crate) fn to_varlen(path: &Path, object: &str, data: &[String]) -> Result<Vec<VarLenUnicode>> {
    data.iter()
        .map(|s| {
            s.parse::<VarLenUnicode>().map_err(|e| Error::Input {
                path: path.to_owned(),
                object: object.to_owned(),
                message: format!("text {s:?}: {e}"),
            })
        })
        .collect()
}

/// Writes a scalar int64 attribute (what h5py stores for a Python `int`).
pub(crate) fn write_attr_i64(path: &Path, loc: &Group, name: &str, value: i64) -> Result<()> {
    let attr = loc.new_attr::<i64>().create(name).map_err(h5err(path, name))?;
    attr.write_scalar(&value).map_err(h5err(path, name))
}

/// Writes a scalar variable-length UTF-8 string attribute (what h5py stores for a `str`).
pub(crate) fn write_attr_str(path: &Path, loc: &Group, name: &str, value: &str) -> Result<()> {
    let v = to_varlen(path, name, &[value.to_owned()])?.remove(0);
    if loc.attr_names().map_err(h5err(path, name))?.iter().any(|n| n == name) {
        loc.delete_attr(name).map_err(h5err(path, name))?;
    }
    let attr = loc.new_attr::<VarLenUnicode>().create(name).map_err(h5err(path, name))?;
    attr.write_scalar(&v).map_err(h5err(path, name))
}

/// Reads a scalar string attribute, if present.
pub(crate) fn read_attr_str(path: &Path, loc: &Group, name: &str) -> Result<Option<String>> {
    if !loc.attr_names().map_err(h5err(path, name))?.iter().any(|n| n == name) {
        return Ok(None);
    }
    let attr = loc.attr(name).map_err(h5err(path, name))?;
    let desc = attr.dtype().and_then(|t| t.to_descriptor()).map_err(h5err(path, name))?;
    let s = match desc {
        TypeDescriptor::VarLenUnicode => {
            attr.read_scalar::<VarLenUnicode>().map_err(h5err(path, name))?.as_str().to_owned()
        }
        TypeDescriptor::VarLenAscii => {
            attr.read_scalar::<VarLenAscii>().map_err(h5err(path, name))?.as_str().to_owned()
        }
        other => {
            return Err(Error::Dtype {
                path: path.to_owned(),
                object: name.to_owned(),
                expected: "string",
                found: other.to_string(),
            });
        }
    };
    Ok(Some(s))
}

/// Reads a scalar integer attribute, if present; any other type is a [`Error::Dtype`].
pub(crate) fn read_attr_int(path: &Path, loc: &Group, name: &str) -> Result<Option<i64>> {
    if !loc.attr_names().map_err(h5err(path, name))?.iter().any(|n| n == name) {
        return Ok(None);
    }
    let attr = loc.attr(name).map_err(h5err(path, name))?;
    let desc = attr.dtype().and_then(|t| t.to_descriptor()).map_err(h5err(path, name))?;
    match desc {
        TypeDescriptor::Integer(_)
        | TypeDescriptor::Unsigned(IntSize::U1 | IntSize::U2)
        | TypeDescriptor::Unsigned(IntSize::U4) => {}
        other => {
            return Err(Error::Dtype {
                path: path.to_owned(),
                object: name.to_owned(),
                expected: "integer",
                found: other.to_string(),
            });
        }
    }
    if !attr.shape().is_empty() {
        return Err(Error::Shape {
            path: path.to_owned(),
            object: name.to_owned(),
            expected: "() (a scalar)".into(),
            found: attr.shape(),
        });
    }
    attr.read_scalar::<i64>().map(Some).map_err(h5err(path, name))
}

/// Member names of a group that are decimal image ids, sorted ascending; other names are
/// returned separately.
pub(crate) fn numeric_members(path: &Path, g: &Group) -> Result<(Vec<u64>, Vec<String>)> {
    let names = g.member_names().map_err(h5err(path, "/"))?;
    let mut ids = Vec::with_capacity(names.len());
    let mut other = Vec::new();
    for n in names {
        match schema::parse_id(&n) {
            Some(id) => ids.push(id),
            None => other.push(n),
        }
    }
    ids.sort_unstable();
    Ok((ids, other))
}

/// Every member name of a group, as image ids in [`ImageId`]'s order (the root of a vis_ctx or
/// txt_ctx holds images only).
pub(crate) fn image_members(path: &Path, g: &Group) -> Result<Vec<ImageId>> {
    let names = g.member_names().map_err(h5err(path, "/"))?;
    let mut ids: Vec<ImageId> = names.into_iter().map(ImageId::from).collect();
    ids.sort_unstable();
    Ok(ids)
}
