//! The image ids of a compact txt_ctx, `/ids`: int64 where every image's id is an integer
//! (COCO's), else variable-length UTF-8 strings (h5py's `str` dtype) holding each image's name
//! as the full layout names its group. Read back, either gives the names the full layout's
//! groups give ([`ImageId`]).

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenUnicode};
use hdf5::{Dataset, Group};
use ndarray::ArrayView1;

use crate::error::{Error, Result};
use crate::h5::{self, h5err, vlen};
use crate::id::{ImageId, Key, checked_name};

/// Dataset of the image ids, in the order of the rows of every other dataset.
pub(crate) const IDS: &str = "ids";

/// How a compact txt_ctx stores its image ids, fixed when the file is created
/// ([`CompactTxtWriter::create_with_ids`](crate::CompactTxtWriter::create_with_ids)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactIds {
    /// int64: every id is an integer as `str(int)` writes it (COCO's, nocaps').
    Integers,
    /// Variable-length UTF-8 strings: any name a group of the full layout can have (a folder's
    /// file stems, webdataset keys, `000010001`).
    Names,
}

impl CompactIds {
    /// [`Integers`](Self::Integers) where every id of `ids` is an integer, else
    /// [`Names`](Self::Names): what a writer of these images needs.
    pub fn of<K: Key>(ids: impl IntoIterator<Item = K>) -> Self {
        let integer = |k: K| ImageId::of(k).as_u64().is_some();
        match ids.into_iter().all(integer) {
            true => Self::Integers,
            false => Self::Names,
        }
    }

    /// The dtype's name, for messages: `int64` or `str`.
    pub fn dtype(self) -> &'static str {
        match self {
            Self::Integers => "int64",
            Self::Names => "str",
        }
    }
}

/// Creates the empty, growing `/ids` of `kind`, in chunks of `chunk` images.
pub(crate) fn create(path: &Path, root: &Group, kind: CompactIds, chunk: usize) -> Result<()> {
    match kind {
        CompactIds::Integers => root.new_dataset::<i64>().shape(0..).chunk(chunk).create(IDS),
        CompactIds::Names => {
            root.new_dataset::<VarLenUnicode>().shape(0..).chunk(chunk).create(IDS)
        }
    }
    .map(drop)
    .map_err(h5err(path, IDS))
}

/// How `/ids` (open as `ds`) stores the ids, from its dtype.
pub(crate) fn kind_of(path: &Path, ds: &Dataset) -> Result<CompactIds> {
    match h5::descriptor(path, ds, IDS)? {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => Ok(CompactIds::Integers),
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => Ok(CompactIds::Names),
        other => Err(Error::Dtype {
            path: path.to_owned(),
            object: IDS.into(),
            expected: "int64 or variable-length string",
            found: other.to_string(),
        }),
    }
}

/// How the file stores its ids and the ids, in the file's order (none without `/ids`). `/ids` is
/// opened as every dataset a reader opens (its chunk index checked where `checks` says) and
/// names are read from their global heap collections checked (`vlen::strings`), never by the
/// library's heap decoder, which loops on a damaged collection.
pub(crate) fn read(
    path: &Path,
    checks: &h5::Checks,
    root: &Group,
) -> Result<(CompactIds, Vec<ImageId>)> {
    if !root.link_exists(IDS) {
        return Ok((CompactIds::Integers, Vec::new()));
    }
    let ds = h5::dataset(path, checks, root, IDS, IDS)?;
    let kind = kind_of(path, &ds)?;
    let ids = match kind {
        CompactIds::Integers => {
            let raw: Vec<i64> = ds.read_raw().map_err(h5err(path, IDS))?;
            raw.into_iter()
                .enumerate()
                .map(|(i, v)| {
                    u64::try_from(v).map(ImageId::from).map_err(|_| Error::Schema {
                        path: path.to_owned(),
                        message: format!("{IDS}[{i}] is {v}, not an image id"),
                    })
                })
                .collect::<Result<Vec<_>>>()?
        }
        CompactIds::Names => {
            vlen::strings(path, &ds, IDS, None)?.into_iter().map(ImageId::from).collect()
        }
    };
    Ok((kind, ids))
}

/// Checks that a file of `kind` can hold `ids` (an integer file holds integers only; no file
/// holds a name a group of the full layout cannot have).
pub(crate) fn check(path: &Path, kind: CompactIds, ids: &[ImageId]) -> Result<()> {
    for id in ids {
        checked_name(path, id)?;
        if kind == CompactIds::Integers && id.as_u64().is_none() {
            return Err(Error::Input {
                path: path.to_owned(),
                object: format!("{id:?}"),
                message: format!(
                    "image {:?} is not an integer id, but the file's {IDS} are int64 (made for \
                     integer ids; write the images to a new file)",
                    id.as_str()
                ),
            });
        }
    }
    Ok(())
}

/// Writes `ids` (checked with [`check`]) at `start..` of `/ids` (open as `ds`), growing it.
pub(crate) fn append(
    path: &Path,
    ds: &Dataset,
    kind: CompactIds,
    start: usize,
    ids: &[ImageId],
) -> Result<()> {
    let end = start + ids.len();
    ds.resize([end]).map_err(h5err(path, IDS))?;
    match kind {
        CompactIds::Integers => {
            let raw: Vec<i64> = ids.iter().map(|id| id.as_u64().map_or(-1, |n| n as i64)).collect();
            ds.write_slice(ArrayView1::from(&raw[..]), start..end)
        }
        CompactIds::Names => {
            let names: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
            let raw = h5::to_varlen(path, IDS, &names)?;
            ds.write_slice(ArrayView1::from(&raw[..]), start..end)
        }
    }
    .map_err(h5err(path, IDS))
}
