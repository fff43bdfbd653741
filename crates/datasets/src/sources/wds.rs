//! `wds:PATTERN`: webdataset tar shards as img2dataset writes them: each sample a `KEY.jpg`
//! (or `.png`, `.webp`) with `KEY.json` / `KEY.txt` beside it. The shards are listed by reading
//! their tar headers only (seeking past the data) and each image is read in place later, so
//! nothing is unpacked; the id is the sample's key.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{IMAGE_EXTENSIONS, Location, SourceImage, expand_braces, unique};
use crate::{Error, Result};

/// The shard files `pattern` names (brace ranges expanded), in order; every one must exist.
pub fn wds_shards(pattern: &str) -> Result<Vec<PathBuf>> {
    let shards: Vec<PathBuf> = expand_braces(pattern)?.into_iter().map(PathBuf::from).collect();
    let missing: Vec<PathBuf> = shards.iter().filter(|p| !p.is_file()).cloned().collect();
    if !missing.is_empty() {
        return Err(Error::MissingShards { pattern: pattern.to_owned(), missing });
    }
    Ok(shards)
}

/// The samples with an image of `shards`, in order: shard by shard, in each in the tar's order.
/// A sample with no image (a caption alone) is left out.
pub fn wds_images(shards: &[PathBuf]) -> Result<Vec<SourceImage>> {
    let mut out = Vec::new();
    for shard in shards {
        let before = out.len();
        let skipped = shard_images(shard, &mut out)?;
        tracing::debug!(shard = %shard.display(), images = out.len() - before, skipped, "shard read");
    }
    if let Some(first) = shards.first() {
        unique(first, &out)?;
    }
    Ok(out)
}

/// Appends one shard's images to `out`; returns how many samples had none.
fn shard_images(tar: &Path, out: &mut Vec<SourceImage>) -> Result<usize> {
    let file = std::fs::File::open(tar).map_err(|e| Error::io(tar, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(tar, e))?.len();
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| Error::entry(tar, "header", format!("not a tar file: {e}")))?;
    let (mut keys, mut with_image) = (HashSet::new(), HashSet::new());
    let mut last = String::from("the first member");
    for entry in entries {
        let entry = entry.map_err(|e| Error::entry(tar, format!("after {last}"), e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| Error::entry(tar, format!("after {last}"), e.to_string()))?
            .to_string_lossy()
            .into_owned();
        last.clone_from(&name);
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let (offset, len) = (entry.raw_file_position(), entry.size());
        if offset.saturating_add(len) > file_len {
            return Err(Error::entry(
                tar,
                &name,
                format!(
                    "truncated: {len} bytes at {offset}, but the file ends at {file_len} (an \
                     interrupted copy?)"
                ),
            ));
        }
        let Some((key, ext)) = split_key(&name) else { continue };
        keys.insert(key.to_owned());
        if IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext)) {
            with_image.insert(key.to_owned());
            let location =
                Location::TarMember { tar: tar.to_owned(), member: name.clone(), offset, len };
            out.push(SourceImage { id: key_id(key), location });
        }
    }
    Ok(keys.len() - with_image.len())
}

/// `dir/000123.jpg` -> (`dir/000123`, `jpg`): webdataset's key is the name up to the first dot
/// of its last component.
fn split_key(name: &str) -> Option<(&str, &str)> {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    let dot = name[start..].find('.')? + start;
    (dot > start).then(|| (&name[..dot], &name[dot + 1..]))
}

/// The id of a sample: its key's last component (img2dataset's keys have no folder).
fn key_id(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_owned()
}

/// `len` bytes at `offset` of `tar`: one member's data, read in place.
pub(super) fn read_member(tar: &Path, member: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(tar).map_err(|e| Error::io(tar, e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(tar, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(len).read_to_end(&mut bytes).map_err(|e| Error::io(tar, e))?;
    if (bytes.len() as u64) < len {
        return Err(Error::entry(
            tar,
            member,
            format!("truncated: {} of its {len} bytes are there", bytes.len()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_dot_of_the_name() {
        assert_eq!(split_key("000123.jpg"), Some(("000123", "jpg")));
        assert_eq!(split_key("a.b/000123.seg.png"), Some(("a.b/000123", "seg.png")));
        assert_eq!(split_key("noext"), None);
        assert_eq!(split_key(".hidden"), None);
    }
}
