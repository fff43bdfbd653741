//! Which images an image step reads: COCO's Karpathy split as the original reads it
//! (`--dataset-root`), or another source (`--images SOURCE`); and each shard's part of them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ctx_store::ImageId;
use datasets::{ImageSource, Location, SourceOptions};

use super::Shard;
use super::output::canonical;

/// The image flags of `encode-images` and `retrieve-captions`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// COCO root: annotations/ (captions_*2014.json, coco_*_ids.npy), train2014/, val2014/; the
    /// Karpathy split's images, as the original reads them.
    #[arg(long, required_unless_present = "images", conflicts_with = "images")]
    pub dataset_root: Option<PathBuf>,
    /// Another image source, processed in its order: karpathy:FILE (Karpathy's split JSON, with
    /// --image-root and --split), coco-json:FILE (a COCO-format image list, with --image-root),
    /// folder:DIR (every image below DIR, sorted), list:FILE (a path a line, or an id, a tab and
    /// a path), wds:PATTERN (webdataset tar shards, brace ranges such as shards/{00000..00099}.tar).
    #[arg(long, value_parser = parse_source)]
    pub images: Option<ImageSource>,
    /// The folder the file names of a karpathy: or coco-json: source are relative to.
    #[arg(long, requires = "images")]
    pub image_root: Option<PathBuf>,
    /// The splits of a karpathy: source to read (train, restval, val, test) [default: all].
    #[arg(long, value_delimiter = ',', requires = "images")]
    pub split: Option<Vec<String>>,
}

fn parse_source(s: &str) -> Result<ImageSource, String> {
    s.parse().map_err(|e: datasets::Error| e.to_string())
}

/// One image to process: its id and where its bytes are.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: ImageId,
    pub location: Location,
}

impl ImageArgs {
    /// The images of `shard` (all of them without one) in the source's order, and the file
    /// the shard writes instead of `out`. Slices are whole batches (see [`super::shard::apply`]);
    /// a webdataset source with at least as many tar files as shards gives each shard whole
    /// tar files, and reads only those.
    pub fn load(
        &self,
        shard: Option<Shard>,
        batch: usize,
        out: &Path,
    ) -> Result<(Vec<Image>, PathBuf)> {
        let Some(source) = &self.images else {
            let root = self.dataset_root.as_ref().context("give --dataset-root or --images")?;
            let images = datasets::karpathy_images(root)?
                .into_iter()
                .map(|i| Image { id: i.id.into(), location: Location::File(i.path) })
                .collect();
            return Ok(super::shard::apply(shard, images, batch, out));
        };
        let uses_root = matches!(source, ImageSource::Karpathy(_) | ImageSource::CocoJson(_));
        if self.image_root.is_some() && !uses_root {
            bail!("--image-root is for karpathy: and coco-json: sources, not {source}");
        }
        if self.split.is_some() && !matches!(source, ImageSource::Karpathy(_)) {
            bail!("--split is for karpathy: sources, not {source}");
        }
        if let (ImageSource::Wds(pattern), Some(s)) = (source, shard) {
            let tars = datasets::wds_shards(pattern)?;
            if tars.len() >= s.count {
                let mine = &tars[s.range(tars.len())];
                tracing::info!(shard = %s, tars = mine.len(), of = tars.len(), "whole tar files");
                let images = ids(source, datasets::wds_images(mine)?)?;
                return Ok((images, s.path(out)));
            }
        }
        let opts =
            SourceOptions { image_root: self.image_root.clone(), splits: self.split.clone() };
        let images = ids(source, source.images(&opts)?)?;
        Ok(super::shard::apply(shard, images, batch, out))
    }

    /// The flags' part of a run's provenance: `dataset_root` alone for COCO's Karpathy split (as
    /// files written before other sources existed record it), else the source and its options.
    pub fn provenance(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match &self.images {
            None => {
                let root = self.dataset_root.as_deref().unwrap_or(Path::new(""));
                m.insert("dataset_root".into(), canonical(root).into());
            }
            Some(source) => {
                m.insert("images".into(), canonical_source(source).into());
                if let Some(r) = &self.image_root {
                    m.insert("image_root".into(), canonical(r).into());
                }
                if let Some(s) = &self.split {
                    m.insert("split".into(), s.join(",").into());
                }
            }
        }
        m
    }
}

/// The source with its file or folder made absolute (a pattern's folder for `wds:`).
fn canonical_source(source: &ImageSource) -> String {
    let c = |p: &Path| PathBuf::from(canonical(p));
    match source {
        ImageSource::Karpathy(p) => ImageSource::Karpathy(c(p)).to_string(),
        ImageSource::CocoJson(p) => ImageSource::CocoJson(c(p)).to_string(),
        ImageSource::Folder(p) => ImageSource::Folder(c(p)).to_string(),
        ImageSource::List(p) => ImageSource::List(c(p)).to_string(),
        ImageSource::Wds(pattern) => {
            let p = Path::new(pattern);
            match (p.parent().filter(|d| !d.as_os_str().is_empty()), p.file_name()) {
                (Some(dir), Some(name)) => {
                    format!("wds:{}", c(dir).join(name).display())
                }
                _ => format!("wds:{pattern}"),
            }
        }
    }
}

/// The images with their ids as the context files store them: the source's id as it is (an
/// integer, or a name such as `dog_01` or `000010001`), in the source's order. An id that HDF5
/// cannot name a group with, or one given twice, is an error naming the entry.
fn ids(source: &ImageSource, images: Vec<datasets::SourceImage>) -> Result<Vec<Image>> {
    let mut seen = std::collections::HashMap::with_capacity(images.len());
    images
        .into_iter()
        .map(|i| {
            let path = i.location.display_path();
            if let Some(problem) = ImageId::problem(&i.id) {
                bail!(
                    "{source}: image {} has the id {:?}, {problem}, which cannot name an HDF5 \
                     group",
                    path.display(),
                    i.id
                );
            }
            if let Some(first) = seen.insert(i.id.clone(), path.clone()) {
                bail!(
                    "{source}: images {} and {} have the same id {:?}",
                    first.display(),
                    path.display(),
                    i.id
                );
            }
            Ok(Image { id: ImageId::from(i.id), location: i.location })
        })
        .collect()
}
