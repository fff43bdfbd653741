//! `karpathy:FILE`: Karpathy's split files (`dataset_coco.json`, `dataset_flickr8k.json`,
//! `dataset_flickr30k.json`), which most captioning codebases load.

use std::path::Path;

use serde::Deserialize;

use super::{Location, SourceImage, stem_id, unique};
use crate::{Error, Result, json};

#[derive(Deserialize)]
struct SplitFile {
    images: Vec<Entry>,
}

/// The fields used; the others (`tokens`, `sentids`, `imgid`...) are skipped by the parser.
#[derive(Deserialize)]
struct Entry {
    filename: Option<String>,
    filepath: Option<String>,
    cocoid: Option<u64>,
    split: Option<String>,
    #[serde(default)]
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    raw: Option<String>,
}

/// One caption of a Karpathy split file and the id of its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KarpathyCaption {
    /// `sentences[].raw`.
    pub text: String,
    /// The image's id (as [`super::ImageSource::images`] gives it).
    pub image_id: String,
}

fn entry_name(i: usize) -> String {
    format!("images[{i}]")
}

/// The entry's file name, its id (`cocoid` where given, else the file name's stem) and
/// whether its split is kept.
fn read_entry<'e>(
    path: &Path,
    i: usize,
    e: &'e Entry,
    splits: Option<&[String]>,
) -> Result<Option<(&'e str, String)>> {
    let filename = e
        .filename
        .as_deref()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| Error::entry(path, entry_name(i), "no `filename`"))?;
    if let Some(splits) = splits {
        let split = e
            .split
            .as_deref()
            .ok_or_else(|| Error::entry(path, entry_name(i), format!("{filename}: no `split`")))?;
        if !splits.iter().any(|s| s == split) {
            return Ok(None);
        }
    }
    let id = match e.cocoid {
        Some(id) => id.to_string(),
        None => stem_id(path, Path::new(filename), &entry_name(i))?,
    };
    Ok(Some((filename, id)))
}

/// An error naming the first of `splits` that no image of `f` is in (`train,vall`: a typo would
/// otherwise leave that split's images out silently).
fn known_splits(path: &Path, f: &SplitFile, splits: Option<&[String]>) -> Result<()> {
    let Some(splits) = splits else { return Ok(()) };
    let mut present: Vec<&str> = Vec::new();
    for split in f.images.iter().filter_map(|e| e.split.as_deref()) {
        if !present.contains(&split) {
            present.push(split);
        }
    }
    match splits.iter().find(|s| !present.contains(&s.as_str())) {
        None => Ok(()),
        Some(split) => Err(Error::UnknownSplit {
            path: path.to_owned(),
            split: split.clone(),
            present: present.into_iter().map(str::to_owned).collect(),
        }),
    }
}

/// The images of the kept splits, in the file's order: `root/filepath/filename` (or
/// `root/filename` where the entry has no `filepath`).
pub(crate) fn images(
    path: &Path,
    root: &Path,
    splits: Option<&[String]>,
) -> Result<Vec<SourceImage>> {
    let f: SplitFile = json::read(path)?;
    known_splits(path, &f, splits)?;
    let mut out = Vec::new();
    for (i, e) in f.images.iter().enumerate() {
        let Some((filename, id)) = read_entry(path, i, e, splits)? else { continue };
        let dir = match e.filepath.as_deref() {
            Some(fp) => root.join(fp),
            None => root.to_owned(),
        };
        out.push(SourceImage { id, location: Location::File(dir.join(filename)) });
    }
    unique(path, &out)?;
    Ok(out)
}

/// Every caption of the images of the kept splits, in the file's order (SmallCap's datastore:
/// the training captions, each with its image's id).
pub fn karpathy_captions(path: &Path, splits: Option<&[String]>) -> Result<Vec<KarpathyCaption>> {
    let f: SplitFile = json::read(path)?;
    known_splits(path, &f, splits)?;
    let mut out = Vec::new();
    for (i, e) in f.images.iter().enumerate() {
        let Some((_, id)) = read_entry(path, i, e, splits)? else { continue };
        for (j, s) in e.sentences.iter().enumerate() {
            let text = s.raw.as_deref().ok_or_else(|| {
                Error::entry(path, format!("images[{i}].sentences[{j}]"), "no `raw`")
            })?;
            out.push(KarpathyCaption { text: text.to_owned(), image_id: id.clone() });
        }
    }
    Ok(out)
}
