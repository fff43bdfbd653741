//! Resuming a writer: which image groups of a file are complete.

use std::path::Path;

use hdf5::Group;

use crate::error::Result;
use crate::h5::{self, h5err};
use crate::id::ImageId;

/// The ids of the image groups at the root of `file` that `complete` accepts, in [`ImageId`]'s
/// order.
pub(crate) fn complete_ids(
    path: &Path,
    file: &Group,
    complete: impl Fn(&Group) -> bool,
) -> Result<Vec<ImageId>> {
    let ids = h5::image_members(path, file)?;
    let mut done = Vec::with_capacity(ids.len());
    for id in ids {
        let g = file.group(id.as_str()).map_err(h5err(path, id.as_str()))?;
        if complete(&g) {
            done.push(id);
        }
    }
    Ok(done)
}

/// [`complete_ids`] of `w`'s file; the other image groups, left partly written by a writer
/// killed inside a flush, are removed so that the resumed run writes them again.
pub(crate) fn complete_image_groups(
    w: &h5::Writer,
    complete: impl Fn(&Group) -> bool,
) -> Result<Vec<ImageId>> {
    let done = complete_ids(&w.path, w.file(), complete)?;
    let ids = h5::image_members(&w.path, w.file())?;
    for id in ids.into_iter().filter(|id| done.binary_search(id).is_err()) {
        tracing::warn!("{:?}: removing incomplete image {id}", w.path);
        w.file().unlink(id.as_str()).map_err(h5err(&w.path, id.as_str()))?;
    }
    Ok(done)
}

/// Whether `g` holds every one of `names` (datasets or groups).
pub(crate) fn holds(g: &Group, names: &[&str]) -> bool {
    names.iter().all(|n| g.link_exists(n))
}
