//! The `sources` dataset of a caption database (both profiles): each row's source, the image
//! whose caption it is, beside `captions` where the texts came with one. A file has sources in
//! every batch or in none; the first batch written decides.

use std::path::Path;

use hdf5::Group;
use hdf5::types::VarLenUnicode;

use crate::error::{Error, Result};
use crate::h5;
use crate::schema;

/// Checks a batch's sources against what the file holds (`has`: `None` before the first batch)
/// and converts them for HDF5.
pub(crate) fn prepare(
    path: &Path,
    has: Option<bool>,
    n: usize,
    sources: Option<&[String]>,
) -> Result<Option<Vec<VarLenUnicode>>> {
    if let Some(has) = has
        && has != sources.is_some()
    {
        let message = match has {
            true => "a batch without sources for a caption database whose rows have sources",
            false => "a batch with sources for a caption database whose rows have none",
        };
        return Err(Error::Schema { path: path.to_owned(), message: message.into() });
    }
    let Some(sources) = sources else { return Ok(None) };
    crate::bounds::check_len(path, schema::SOURCES, &[n], sources.len())?;
    h5::to_varlen(path, schema::SOURCES, sources).map(Some)
}

/// Whether `g` (a batch group, or the root of the contiguous layout; its objects' names start
/// with `prefix`) has sources, checked to be `(rows,)` strings.
pub(crate) fn check(
    path: &Path,
    checks: &h5::Checks,
    g: &Group,
    prefix: &str,
    rows: usize,
) -> Result<bool> {
    if !g.link_exists(schema::SOURCES) {
        return Ok(false);
    }
    let object = format!("{prefix}{}", schema::SOURCES);
    let ds = h5::dataset(path, checks, g, schema::SOURCES, &object)?;
    h5::check_shape(path, &ds, &object, &[Some(rows)])?;
    Ok(true)
}

/// Records whether batch `name` has sources in `seen`; an error if an earlier batch disagrees.
pub(crate) fn agree(path: &Path, name: &str, seen: &mut Option<bool>, has: bool) -> Result<()> {
    match *seen {
        Some(before) if before != has => Err(Error::Schema {
            path: path.to_owned(),
            message: format!(
                "batch {name} {} sources, earlier batches {}",
                if has { "has" } else { "has no" },
                if before { "have" } else { "have none" }
            ),
        }),
        _ => {
            *seen = Some(has);
            Ok(())
        }
    }
}

/// The sources of `g` (its objects' names start with `prefix`), rows `rows` or all.
pub(crate) fn read(
    path: &Path,
    checks: &h5::Checks,
    g: &Group,
    prefix: &str,
    rows: Option<std::ops::Range<usize>>,
) -> Result<Vec<String>> {
    let object = format!("{prefix}{}", schema::SOURCES);
    let ds = h5::dataset(path, checks, g, schema::SOURCES, &object)?;
    h5::vlen::strings(path, &ds, &object, rows)
}
