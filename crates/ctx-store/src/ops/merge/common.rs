//! What merging either profile's files shares: the batch size of the copy, the inputs' image ids
//! checked to be disjoint, the error naming the input at fault.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::id::ImageId;

/// Images copied per batch written (vis_ctx, txt_ctx).
pub(crate) const IMAGES_PER_BATCH: usize = 64;

/// [`Error::Merge`] naming the input (or output) at fault.
pub(crate) fn merge_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Merge { path: path.to_owned(), message: message.into() }
}

/// Caption databases with rows, each with whether it has sources: all have them or none does.
pub(crate) fn sources_agree(dbs: &[(&Path, bool)]) -> Result<()> {
    if let (Some((with, _)), Some((without, _))) =
        (dbs.iter().find(|d| d.1), dbs.iter().find(|d| !d.1))
    {
        let message = format!("has no sources, but {} has", with.display());
        return Err(merge_error(without, message));
    }
    Ok(())
}

pub(crate) fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned())
}

/// Checks that no image id is in two inputs (`ids[i]` holds the ids of `inputs[i]`).
pub(crate) fn disjoint(inputs: &[&Path], ids: &[Vec<ImageId>]) -> Result<()> {
    let mut seen: HashMap<&ImageId, usize> = HashMap::new();
    for (j, list) in ids.iter().enumerate() {
        for id in list {
            if let Some(i) = seen.insert(id, j) {
                let message = format!("image {id} is also in {}", inputs[i].display());
                return Err(merge_error(inputs[j], message));
            }
        }
    }
    Ok(())
}
