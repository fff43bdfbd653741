//! `folder:DIR`: every image below a folder, recursively, sorted by path; the id is the file's
//! stem, and two images with one stem are an error naming both.

use std::path::{Path, PathBuf};

use super::{Location, SourceImage, is_image_name, stem_id, unique};
use crate::{Error, Result};

/// The images below `dir`, sorted by their path.
pub(crate) fn images(dir: &Path) -> Result<Vec<SourceImage>> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    // By the path's text, as Python's `sorted()` orders paths ("a-b/x" before "a/x").
    files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let id = stem_id(dir, &f, &f.display().to_string())?;
        out.push(SourceImage { id, location: Location::File(f) });
    }
    unique(dir, &out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // Links are followed: a dataset folder is often a tree of links to the images.
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() && is_image_name(&path) {
            out.push(path);
        }
    }
    Ok(())
}
