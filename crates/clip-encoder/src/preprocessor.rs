//! `preprocessor_config.json` of a Hugging Face CLIP checkpoint, read into crops' own
//! [`ClipPreprocess`] (the one type for the image settings).

use std::path::Path;

use crops::ClipPreprocess;
use serde::Deserialize;

use crate::config::{VisionConfig, read_json};
use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeField {
    Int(u32),
    Map { shortest_edge: Option<u32>, height: Option<u32>, width: Option<u32> },
}

impl SizeField {
    fn value(&self) -> Option<u32> {
        match self {
            SizeField::Int(n) => Some(*n),
            SizeField::Map { shortest_edge, height, width } => {
                shortest_edge.or(match (height, width) {
                    (Some(h), Some(w)) if h == w => Some(*h),
                    _ => None,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct Preprocessor {
    size: Option<SizeField>,
    crop_size: Option<SizeField>,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
}

/// The checkpoint's preprocessing: from `preprocessor_config.json` when present, else the
/// vision config's `image_size` (already checked) and CLIP's mean and std
/// ([`ClipPreprocess::default`]'s).
pub(crate) fn preprocess_of_checkpoint(
    dir: &Path,
    vision: &VisionConfig,
) -> Result<ClipPreprocess> {
    let path = dir.join("preprocessor_config.json");
    let image_size = u32::try_from(vision.image_size).map_err(|_| Error::Config {
        path: dir.join("config.json"),
        msg: format!("vision_config.image_size = {} is not a size", vision.image_size),
    })?;
    let mut cfg = ClipPreprocess { size: image_size, ..ClipPreprocess::default() };
    if !path.exists() {
        return Ok(cfg);
    }
    let p: Preprocessor = read_json(&path)?;
    let bad = |msg: String| Error::Config { path: path.clone(), msg };
    let size = p.size.as_ref().map(|s| s.value().ok_or_else(|| bad("unsupported `size`".into())));
    let crop = p
        .crop_size
        .as_ref()
        .map(|s| s.value().ok_or_else(|| bad("unsupported `crop_size`".into())));
    if let (Some(s), Some(c)) = (&size, &crop)
        && s.as_ref().ok() != c.as_ref().ok()
    {
        return Err(bad(
            "`size` and `crop_size` differ; only CLIP's square pipeline is supported".into()
        ));
    }
    if let Some(s) = crop.or(size) {
        cfg.size = s?;
    }
    if cfg.size != image_size {
        return Err(bad(format!(
            "image size {} differs from the vision model's image_size {image_size}",
            cfg.size
        )));
    }
    cfg.mean = p.image_mean.unwrap_or(cfg.mean);
    cfg.std = p.image_std.unwrap_or(cfg.std);
    for (key, values) in [("image_mean", cfg.mean), ("image_std", cfg.std)] {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!("{key} = {values:?}: every value must be finite")));
        }
    }
    if cfg.std.iter().any(|&s| s <= 0.0) {
        return Err(bad(format!("image_std = {:?}: every value must be positive", cfg.std)));
    }
    Ok(cfg)
}
