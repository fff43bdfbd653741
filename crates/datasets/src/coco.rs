//! The COCO images the original processes: the Karpathy split's annotation ids looked up in the
//! 2014 caption files (`docs/reference.md`, step 0).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::json;
use crate::{Error, Result};

/// One image to process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CocoImage {
    /// The COCO image id.
    pub id: u64,
    /// `<root>/train2014/<file_name>` or `<root>/val2014/<file_name>`.
    pub path: PathBuf,
    /// The captions of its listed annotations, in the order the split files list them.
    pub captions: Vec<String>,
}

#[derive(Deserialize)]
struct CaptionFile {
    images: Vec<ImageRecord>,
    annotations: Vec<AnnotationRecord>,
}

#[derive(Deserialize)]
struct ImageRecord {
    id: u64,
    file_name: String,
}

#[derive(Deserialize)]
struct AnnotationRecord {
    id: i64,
    image_id: u64,
    caption: String,
}

/// One caption file, indexed: image id -> file name, annotation id -> (image id, caption).
struct CaptionIndex {
    path: PathBuf,
    images: HashMap<u64, String>,
    anns: HashMap<i64, (u64, String)>,
}

/// The split files and where their ids are looked up: train in train2014, the rest in val2014.
const SPLITS: [(&str, &str); 4] = [
    ("coco_train_ids.npy", "train2014"),
    ("coco_restval_ids.npy", "val2014"),
    ("coco_dev_ids.npy", "val2014"),
    ("coco_test_ids.npy", "val2014"),
];

fn read_ids(path: &Path) -> Result<Vec<i64>> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| Error::Npy { path: path.to_owned(), message: e.to_string() })?;
    if npy.shape().len() != 1 {
        return Err(Error::Npy {
            path: path.to_owned(),
            message: format!(
                "expected a 1-D array of annotation ids, found shape {:?}",
                npy.shape()
            ),
        });
    }
    npy.into_vec::<i64>().map_err(|e| Error::Npy {
        path: path.to_owned(),
        message: format!("expected int64 annotation ids: {e}"),
    })
}

/// The images the original processes, in ascending id order: every image with at least one
/// annotation listed in `<root>/annotations/coco_{train,restval,dev,test}_ids.npy`.
/// Does not look at the image files; see [`missing_images`].
pub fn karpathy_images(root: &Path) -> Result<Vec<CocoImage>> {
    let ann = root.join("annotations");
    let mut files: HashMap<&str, CaptionIndex> = HashMap::new();
    for dir in ["train2014", "val2014"] {
        let path = ann.join(format!("captions_{dir}.json"));
        let f: CaptionFile = json::read(&path)?;
        let images = f.images.into_iter().map(|i| (i.id, i.file_name)).collect();
        let anns = f.annotations.into_iter().map(|a| (a.id, (a.image_id, a.caption))).collect();
        files.insert(dir, CaptionIndex { path, images, anns });
    }
    let mut out: BTreeMap<u64, CocoImage> = BTreeMap::new();
    for (split, dir) in SPLITS {
        let split_path = ann.join(split);
        let CaptionIndex { path: captions_path, images, anns } = &files[dir];
        for id in read_ids(&split_path)? {
            let (image_id, caption) = anns.get(&id).ok_or_else(|| Error::UnknownAnnotation {
                split: split_path.clone(),
                captions: captions_path.clone(),
                id,
            })?;
            let file_name = images.get(image_id).ok_or_else(|| Error::Json {
                path: captions_path.clone(),
                line: 0,
                column: 0,
                message: format!(
                    "annotation {id} refers to image {image_id}, which is not in `images`"
                ),
            })?;
            out.entry(*image_id)
                .or_insert_with(|| CocoImage {
                    id: *image_id,
                    path: root.join(dir).join(file_name),
                    captions: Vec::new(),
                })
                .captions
                .push(caption.clone());
        }
    }
    tracing::debug!(images = out.len(), "Karpathy split read");
    Ok(out.into_values().collect())
}

/// Checks that every image file exists, reporting all the missing ones together.
pub fn missing_images(images: &[CocoImage]) -> Result<()> {
    let missing: Vec<PathBuf> =
        images.iter().filter(|i| !i.path.is_file()).map(|i| i.path.clone()).collect();
    if missing.is_empty() { Ok(()) } else { Err(Error::MissingImages { missing }) }
}
