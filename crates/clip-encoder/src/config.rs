//! `config.json` and `preprocessor_config.json` of a Hugging Face CLIP checkpoint. Keys that
//! transformers leaves out when they equal its defaults get those defaults here.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `quick_gelu`: `x * sigmoid(1.702 x)` (CLIP's own).
    QuickGelu,
    /// `gelu`: exact, with erf.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: tanh approximation.
    GeluTanh,
}

impl Activation {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Self::QuickGelu),
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Self::GeluTanh),
            _ => None,
        }
    }
}

fn quick_gelu() -> String {
    "quick_gelu".into()
}
fn eps() -> f64 {
    1e-5
}

/// `text_config` (transformers' `CLIPTextConfig` defaults).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    #[serde(default = "text_vocab")]
    pub vocab_size: i64,
    #[serde(default = "text_hidden")]
    pub hidden_size: i64,
    #[serde(default = "text_inter")]
    pub intermediate_size: i64,
    #[serde(default = "twelve")]
    pub num_hidden_layers: i64,
    #[serde(default = "text_heads")]
    pub num_attention_heads: i64,
    #[serde(default = "text_positions")]
    pub max_position_embeddings: i64,
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

/// `vision_config` (transformers' `CLIPVisionConfig` defaults).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    #[serde(default = "vision_hidden")]
    pub hidden_size: i64,
    #[serde(default = "vision_inter")]
    pub intermediate_size: i64,
    #[serde(default = "twelve")]
    pub num_hidden_layers: i64,
    #[serde(default = "twelve")]
    pub num_attention_heads: i64,
    #[serde(default = "three")]
    pub num_channels: i64,
    #[serde(default = "image_size")]
    pub image_size: i64,
    #[serde(default = "patch_size")]
    pub patch_size: i64,
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

fn text_vocab() -> i64 {
    49408
}
fn text_hidden() -> i64 {
    512
}
fn text_inter() -> i64 {
    2048
}
fn text_heads() -> i64 {
    8
}
fn text_positions() -> i64 {
    77
}
fn twelve() -> i64 {
    12
}
fn three() -> i64 {
    3
}
fn vision_hidden() -> i64 {
    768
}
fn vision_inter() -> i64 {
    3072
}
fn image_size() -> i64 {
    224
}
fn patch_size() -> i64 {
    32
}
fn projection() -> i64 {
    512
}

impl Default for TextConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}
impl Default for VisionConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}

/// `config.json` of a `CLIPModel` checkpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    #[serde(default)]
    pub text_config: TextConfig,
    #[serde(default)]
    pub vision_config: VisionConfig,
    #[serde(default = "projection")]
    pub projection_dim: i64,
    #[serde(skip)]
    pub text_act: Option<Activation>,
    #[serde(skip)]
    pub vision_act: Option<Activation>,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: path.into(), source })
}

impl ClipConfig {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let mut c: ClipConfig = read_json(path)?;
        let bad = |msg: String| Error::Config { path: path.into(), msg };
        c.text_act = Some(Activation::parse(&c.text_config.hidden_act).ok_or_else(|| {
            bad(format!("unsupported text hidden_act {:?}", c.text_config.hidden_act))
        })?);
        c.vision_act = Some(Activation::parse(&c.vision_config.hidden_act).ok_or_else(|| {
            bad(format!("unsupported vision hidden_act {:?}", c.vision_config.hidden_act))
        })?);
        let (t, v) = (&c.text_config, &c.vision_config);
        for (what, width, heads) in [
            ("text", t.hidden_size, t.num_attention_heads),
            ("vision", v.hidden_size, v.num_attention_heads),
        ] {
            if heads <= 0 || width <= 0 || width % heads != 0 {
                return Err(bad(format!(
                    "{what} hidden_size {width} is not a multiple of num_attention_heads {heads}"
                )));
            }
        }
        if v.patch_size <= 0 || v.image_size % v.patch_size != 0 {
            return Err(bad(format!(
                "vision image_size {} is not a multiple of patch_size {}",
                v.image_size, v.patch_size
            )));
        }
        if c.projection_dim <= 0 {
            return Err(bad(format!("projection_dim {} must be positive", c.projection_dim)));
        }
        Ok(c)
    }

    pub fn text_activation(&self) -> Activation {
        self.text_act.unwrap_or(Activation::QuickGelu)
    }
    pub fn vision_activation(&self) -> Activation {
        self.vision_act.unwrap_or(Activation::QuickGelu)
    }
}

/// Size and normalisation of the model's image input.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    /// Shorter side after resize, and the square centre crop.
    pub size: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// CLIP's normalisation (used when the checkpoint has no preprocessor_config.json): the
/// preprocessing crate's.
pub use crops::{CLIP_MEAN, CLIP_STD};

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

impl ImageConfig {
    /// From `preprocessor_config.json` when present, else the vision config's `image_size` and
    /// CLIP's mean and std.
    pub fn from_checkpoint(dir: &Path, vision: &VisionConfig) -> Result<Self> {
        let path = dir.join("preprocessor_config.json");
        let mut cfg =
            ImageConfig { size: vision.image_size as u32, mean: CLIP_MEAN, std: CLIP_STD };
        if !path.exists() {
            return Ok(cfg);
        }
        let p: Preprocessor = read_json(&path)?;
        let bad = |msg: String| Error::Config { path: path.clone(), msg };
        let size =
            p.size.as_ref().map(|s| s.value().ok_or_else(|| bad("unsupported `size`".into())));
        let crop = p
            .crop_size
            .as_ref()
            .map(|s| s.value().ok_or_else(|| bad("unsupported `crop_size`".into())));
        if let (Some(s), Some(c)) = (&size, &crop)
            && s.as_ref().ok() != c.as_ref().ok()
        {
            return Err(bad(
                "`size` and `crop_size` differ; only CLIP's square pipeline is supported".into(),
            ));
        }
        if let Some(s) = crop.or(size) {
            cfg.size = s?;
        }
        if cfg.size as i64 != vision.image_size {
            return Err(bad(format!(
                "image size {} differs from the vision model's image_size {}",
                cfg.size, vision.image_size
            )));
        }
        cfg.mean = p.image_mean.unwrap_or(CLIP_MEAN);
        cfg.std = p.image_std.unwrap_or(CLIP_STD);
        Ok(cfg)
    }
}
