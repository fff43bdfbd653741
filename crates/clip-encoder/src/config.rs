//! `config.json` of a Hugging Face CLIP checkpoint. Keys that transformers leaves out when they
//! equal its defaults get those defaults here; every size is checked (positive, consistent,
//! bounded) before anything is allocated with it.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::limits::{
    self, MAX_IMAGE_SIZE, MAX_POSITIONS, MAX_VOCAB, MAX_WIDTH, divisible, encoder, within,
};

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
    /// Token vocabulary size.
    #[serde(default = "text_vocab")]
    pub vocab_size: i64,
    /// Width of the residual stream.
    #[serde(default = "text_hidden")]
    pub hidden_size: i64,
    /// Width of the MLP.
    #[serde(default = "text_inter")]
    pub intermediate_size: i64,
    /// Encoder layers.
    #[serde(default = "twelve")]
    pub num_hidden_layers: i64,
    /// Attention heads (dividing `hidden_size`).
    #[serde(default = "text_heads")]
    pub num_attention_heads: i64,
    /// Longest token sequence.
    #[serde(default = "text_positions")]
    pub max_position_embeddings: i64,
    /// The MLP activation's name (see [`Activation`]).
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    /// Layer-norm epsilon.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

/// `vision_config` (transformers' `CLIPVisionConfig` defaults).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    /// Width of the residual stream.
    #[serde(default = "vision_hidden")]
    pub hidden_size: i64,
    /// Width of the MLP.
    #[serde(default = "vision_inter")]
    pub intermediate_size: i64,
    /// Encoder layers.
    #[serde(default = "twelve")]
    pub num_hidden_layers: i64,
    /// Attention heads (dividing `hidden_size`).
    #[serde(default = "twelve")]
    pub num_attention_heads: i64,
    /// Image channels (3: RGB).
    #[serde(default = "three")]
    pub num_channels: i64,
    /// Side of the square input image.
    #[serde(default = "image_size")]
    pub image_size: i64,
    /// Side of a square patch (dividing `image_size`).
    #[serde(default = "patch_size")]
    pub patch_size: i64,
    /// The MLP activation's name (see [`Activation`]).
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    /// Layer-norm epsilon.
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
    /// The text tower.
    #[serde(default)]
    pub text_config: TextConfig,
    /// The vision tower.
    #[serde(default)]
    pub vision_config: VisionConfig,
    /// Width of the shared image/text embedding.
    #[serde(default = "projection")]
    pub projection_dim: i64,
    /// The text tower's activation, parsed by [`ClipConfig::from_file`].
    #[serde(skip)]
    pub text_act: Option<Activation>,
    /// The vision tower's activation, parsed by [`ClipConfig::from_file`].
    #[serde(skip)]
    pub vision_act: Option<Activation>,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: path.into(), source })
}

impl ClipConfig {
    /// Reads and checks `config.json`: activations known, every size within bounds (a
    /// negative, zero or absurd size is an error naming the key) and the
    /// sizes consistent (widths divisible by the head counts, the image by the patch).
    pub fn from_file(path: &Path) -> Result<Self> {
        let mut c: ClipConfig = read_json(path)?;
        let bad = |msg: String| Error::Config { path: path.into(), msg };
        c.text_act = Some(Activation::parse(&c.text_config.hidden_act).ok_or_else(|| {
            bad(format!("unsupported text_config.hidden_act {:?}", c.text_config.hidden_act))
        })?);
        c.vision_act = Some(Activation::parse(&c.vision_config.hidden_act).ok_or_else(|| {
            bad(format!("unsupported vision_config.hidden_act {:?}", c.vision_config.hidden_act))
        })?);
        check_sizes(&c).map_err(bad)?;
        Ok(c)
    }

    /// The text tower's activation.
    pub fn text_activation(&self) -> Activation {
        self.text_act.unwrap_or(Activation::QuickGelu)
    }
    /// The vision tower's activation.
    pub fn vision_activation(&self) -> Activation {
        self.vision_act.unwrap_or(Activation::QuickGelu)
    }
}

/// Checks every size of `c` against `limits`; the message names the key
/// (`text_config.hidden_size`, ...).
fn check_sizes(c: &ClipConfig) -> Result<(), String> {
    let t = &c.text_config;
    within("text_config.vocab_size", t.vocab_size, 1..=MAX_VOCAB)?;
    within("text_config.max_position_embeddings", t.max_position_embeddings, 1..=MAX_POSITIONS)?;
    let v = &c.vision_config;
    let (th, vh) = (t.hidden_size, v.hidden_size);
    encoder("text_config", th, t.intermediate_size, t.num_attention_heads, t.num_hidden_layers)?;
    encoder("vision_config", vh, v.intermediate_size, v.num_attention_heads, v.num_hidden_layers)?;
    limits::eps("text_config.layer_norm_eps", t.layer_norm_eps)?;
    limits::eps("vision_config.layer_norm_eps", v.layer_norm_eps)?;
    if v.num_channels != 3 {
        return Err(format!(
            "vision_config.num_channels = {}: only RGB images (3 channels) are supported",
            v.num_channels
        ));
    }
    within("vision_config.image_size", v.image_size, 1..=MAX_IMAGE_SIZE)?;
    within("vision_config.patch_size", v.patch_size, 1..=v.image_size)?;
    divisible("vision_config.image_size", v.image_size, "vision_config.patch_size", v.patch_size)?;
    let side = v.image_size / v.patch_size;
    if side * side + 1 > MAX_POSITIONS {
        return Err(format!(
            "vision_config.image_size / patch_size = {side} patches a side: {} positions exceed \
             {MAX_POSITIONS}",
            side * side + 1
        ));
    }
    within("projection_dim", c.projection_dim, 1..=MAX_WIDTH)?;
    Ok(())
}
