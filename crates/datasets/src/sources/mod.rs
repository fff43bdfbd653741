//! Image sources other than COCO's Karpathy split as the original reads it: `--images SOURCE`.
//!
//! Each source lists its images in its own order, each with an id (an HDF5 group name: the
//! source's integer id where it has one, else a file name's stem or a webdataset key) and where
//! its bytes are (a file, or a member of a tar shard read in place).

mod braces;
mod coco_json;
mod folder;
mod karpathy;
mod list;
mod wds;

use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub use braces::expand_braces;
pub use karpathy::{KarpathyCaption, karpathy_captions};
pub use wds::{wds_images, wds_shards};

/// Where an image's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file.
    File(PathBuf),
    /// `len` bytes at `offset` of the tar file `tar` (a webdataset shard), member `member`.
    TarMember {
        /// The shard.
        tar: PathBuf,
        /// The member's name inside the shard.
        member: String,
        /// Where the member's data start in the shard.
        offset: u64,
        /// The member's size.
        len: u64,
    },
}

impl Location {
    /// A path that names the image in messages: the file, or `<shard>/<member>`.
    pub fn display_path(&self) -> PathBuf {
        match self {
            Location::File(p) => p.clone(),
            Location::TarMember { tar, member, .. } => tar.join(member),
        }
    }

    /// The image's bytes (a tar member's are read in place, without unpacking the shard).
    pub fn read(&self) -> Result<Vec<u8>> {
        match self {
            Location::File(p) => std::fs::read(p).map_err(|e| Error::io(p, e)),
            Location::TarMember { tar, member, offset, len } => {
                wds::read_member(tar, member, *offset, *len)
            }
        }
    }

    /// Whether the image is there (a tar member always is: its shard was read to list it).
    pub fn exists(&self) -> bool {
        match self {
            Location::File(p) => p.is_file(),
            Location::TarMember { .. } => true,
        }
    }
}

/// One image of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceImage {
    /// The id its context is stored under.
    pub id: String,
    /// Its bytes.
    pub location: Location,
}

/// `--images SOURCE`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// `karpathy:FILE`: Karpathy's split JSON (`dataset_coco.json`, `dataset_flickr30k.json`).
    Karpathy(PathBuf),
    /// `coco-json:FILE`: a COCO-format image list (`images[].id`, `file_name`).
    CocoJson(PathBuf),
    /// `folder:DIR`: every image below DIR, recursively, sorted by path.
    Folder(PathBuf),
    /// `list:FILE`: one image path a line, or `ID<TAB>PATH`.
    List(PathBuf),
    /// `wds:PATTERN`: webdataset tar shards, brace ranges expanded.
    Wds(String),
}

impl std::str::FromStr for ImageSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |message: &str| Error::BadSource { given: s.to_owned(), message: message.into() };
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            bad("expected KIND:WHERE with KIND one of karpathy, coco-json, folder, list, wds")
        })?;
        if rest.is_empty() {
            return Err(bad("nothing after the colon"));
        }
        Ok(match kind {
            "karpathy" => ImageSource::Karpathy(rest.into()),
            "coco-json" => ImageSource::CocoJson(rest.into()),
            "folder" => ImageSource::Folder(rest.into()),
            "list" => ImageSource::List(rest.into()),
            "wds" => ImageSource::Wds(rest.into()),
            _ => {
                return Err(bad("unknown kind; expected karpathy, coco-json, folder, list or wds"));
            }
        })
    }
}

impl std::fmt::Display for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageSource::Karpathy(p) => write!(f, "karpathy:{}", p.display()),
            ImageSource::CocoJson(p) => write!(f, "coco-json:{}", p.display()),
            ImageSource::Folder(p) => write!(f, "folder:{}", p.display()),
            ImageSource::List(p) => write!(f, "list:{}", p.display()),
            ImageSource::Wds(p) => write!(f, "wds:{p}"),
        }
    }
}

/// What some sources need besides their file.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// The folder image paths are relative to (`karpathy:` and `coco-json:`).
    pub image_root: Option<PathBuf>,
    /// Karpathy splits to keep (`train`, `restval`, `val`, `test`); `None` keeps every image.
    pub splits: Option<Vec<String>>,
}

impl ImageSource {
    /// The source's images, in its order. Does not look at image files ([`missing`] does);
    /// an empty source is an error.
    pub fn images(&self, opts: &SourceOptions) -> Result<Vec<SourceImage>> {
        let root = || {
            opts.image_root.clone().ok_or_else(|| Error::BadSource {
                given: self.to_string(),
                message: "needs --image-root (the folder its file names are relative to)".into(),
            })
        };
        let images = match self {
            ImageSource::Karpathy(p) => karpathy::images(p, &root()?, opts.splits.as_deref())?,
            ImageSource::CocoJson(p) => coco_json::images(p, &root()?)?,
            ImageSource::Folder(p) => folder::images(p)?,
            ImageSource::List(p) => list::images(p)?,
            ImageSource::Wds(pattern) => wds_images(&wds_shards(pattern)?)?,
        };
        if images.is_empty() {
            return Err(Error::EmptySource { source_name: self.to_string(), what: "images" });
        }
        tracing::debug!(images = images.len(), source = %self, "image source read");
        Ok(images)
    }
}

/// Checks that every listed image file exists, reporting all the missing ones together.
pub fn missing(images: &[SourceImage]) -> Result<()> {
    let missing: Vec<PathBuf> =
        images.iter().filter(|i| !i.location.exists()).map(|i| i.location.display_path()).collect();
    if missing.is_empty() { Ok(()) } else { Err(Error::MissingImages { missing }) }
}

/// The id a file gives when its source has none: its name without the extension.
pub(crate) fn stem_id(path: &Path, file: &Path, entry: &str) -> Result<String> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::entry(path, entry, format!("{:?} has no usable name", file)))
}

/// Errors out on the first id given to two images.
pub(crate) fn unique(path: &Path, images: &[SourceImage]) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, &Location> = std::collections::HashMap::new();
    for i in images {
        if let Some(first) = seen.insert(&i.id, &i.location) {
            return Err(Error::DuplicateId {
                path: path.to_owned(),
                id: i.id.clone(),
                first: first.display_path(),
                second: i.location.display_path(),
            });
        }
    }
    Ok(())
}

/// Whether `path` names an image by its extension (JPEG, PNG or WebP, any case).
pub(crate) fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The extensions an image file may have.
pub(crate) const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
