//! CLIP's vision and text towers on libtorch, loaded from a Hugging Face checkpoint directory
//! (`config.json`, `model.safetensors`, `tokenizer.json`, optionally `preprocessor_config.json`),
//! computing what the original pipeline and HAAV stored:
//!
//! - [`ClipEncoder::encode_images`]: the vision `pooler_output` (the original's `vis_ctx`) and
//!   the L2-normalised projected image embedding (retrieval queries, HAAV's `pooled_features`);
//!   with [`ImageOutputs::WithGrid`] ([`ClipEncoder::encode_images_with`]) also the encoder's
//!   output for every token before the final layer norm (HAAV's `grid_features`);
//! - [`ClipEncoder::encode_texts`]: the text tower's output at the largest token id before the
//!   final layer norm (HAAV's caption `values`) and after it (the original's caption `features`),
//!   and the L2-normalised projected text embedding (`keys`), with the original's tokenisation
//!   or HAAV's ([`Tokenization`], [`ClipEncoder::encode_texts_with`]).
//!
//! ```no_run
//! # fn main() -> clip_encoder::Result<()> {
//! use clip_encoder::{ClipEncoder, LoadOptions};
//! let enc = ClipEncoder::load("models/tiny".as_ref(), &LoadOptions::default())?;
//! let out = enc.encode_texts(&["white dog", "man riding horse"])?;
//! assert_eq!(out.keys.size(), [2, enc.config().projection_dim]);
//! # Ok(()) }
//! ```
//!
//! # Layers
//!
//! The modules form layers, listed bottom-up. A module imports only from lower layers, or from
//! its own layer's siblings where stated below, and no import cycle exists (`tests/layers.rs`
//! checks both).
//!
//! 1. Foundation: `limits` (bounds on `config.json`'s sizes), `ftfy_tables`, `device_name`,
//!    and on the last `error`.
//! 2. Inputs: the text's `html`, then `ftfy`, `clip_tokenize` and `tokenizer`, each on those
//!    before it; the checkpoint's `config`, then `preprocessor`; `weights`, `device`, `levels`,
//!    `device_crops`.
//! 3. Model: `model`, the towers built from `config` and `weights`.
//! 4. This file: [`ClipEncoder`] and the public face.

#![warn(missing_docs)]

mod clip_tokenize;
mod config;
mod device;
mod device_crops;
mod device_name;
mod error;
mod ftfy;
#[rustfmt::skip]
mod ftfy_tables;
mod html;
mod levels;
mod limits;
mod model;
mod preprocessor;
mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};

pub use clip_tokenize::{CLIP_CONTEXT, clip_clean};
pub use config::{Activation, ClipConfig, TextConfig, VisionConfig};
pub use crops::ClipPreprocess;
pub use device::parse_device;
pub use device_crops::{CropCost, DeviceCrops, Placement, pack_images};
pub use device_name::device_name;
pub use error::{Error, Result};
pub use ftfy::{fix_text, normalize};
pub use tch::{Device, Kind, Tensor};
pub use tokenizer::{ClipTokenizer, MAX_TOKENS, TokenBatch, Tokenization};

/// How to load a checkpoint.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where the weights live and the model runs.
    pub device: Device,
    /// fp16 weights and activations; outputs are returned as f32. Meant for CUDA (tensor
    /// cores); libtorch's CPU fp16 kernels work but are slow (used to measure the error).
    pub half: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { device: Device::Cpu, half: false }
    }
}

/// Which vision outputs a call keeps besides `pooled` and `embeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageOutputs {
    /// `pooled` and `embeds` only (the original's outputs).
    #[default]
    Pooled,
    /// Also `grid`, every token's features (HAAV's `grid_features`): large, `tokens` times the
    /// pooled output, so kept only when asked for.
    WithGrid,
}

/// Vision outputs for a batch of images, on the encoder's device, f32.
pub struct ImageOutput {
    /// `pooler_output`: the class token after `post_layernorm`, `(B, vision hidden)`.
    pub pooled: Tensor,
    /// `visual_projection(pooled)`, L2-normalised, `(B, projection_dim)`.
    pub embeds: Tensor,
    /// With [`ImageOutputs::WithGrid`]: the encoder's output for every token, class token first,
    /// before `post_layernorm` (transformers' `vision_model(...).last_hidden_state`),
    /// `(B, tokens, vision hidden)`, tokens = `(image_size / patch_size)^2 + 1`; else `None`.
    pub grid: Option<Tensor>,
}

/// Text outputs for a batch of phrases, on the encoder's device, f32.
pub struct TextOutput {
    /// The output at the largest token id after `final_layer_norm` (the original's caption
    /// `features`), `(B, text hidden)`.
    pub features: Tensor,
    /// The output at the largest token id before `final_layer_norm` (HAAV's caption `values`;
    /// transformers' `text_model(..., output_hidden_states=True).hidden_states[-1][i, end]`),
    /// `(B, text hidden)`.
    pub values: Tensor,
    /// `text_projection(features)`, L2-normalised, `(B, projection_dim)`.
    pub keys: Tensor,
}

/// A loaded CLIP model with its tokenizer and image settings; weights are loaded once.
pub struct ClipEncoder {
    model: model::Clip,
    config: ClipConfig,
    preprocess: ClipPreprocess,
    tokenizer: ClipTokenizer,
    device: Device,
    kind: Kind,
    dir: PathBuf,
    /// The table that normalises 8-bit levels on the device.
    levels: levels::Levels,
}

impl ClipEncoder {
    /// Loads `dir`: every tensor the model needs must be present with its shape, and nothing else
    /// (buffers such as `position_ids` and the unused `logit_scale` are tolerated).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such checkpoint directory",
                ),
            });
        }
        let config = ClipConfig::from_file(&dir.join("config.json"))?;
        let preprocess = preprocessor::preprocess_of_checkpoint(dir, &config.vision_config)?;
        let tokenizer = ClipTokenizer::from_file(&dir.join("tokenizer.json"))?;
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            return Err(if dir.join("pytorch_model.bin").exists() {
                Error::OnlyPytorchBin { dir: dir.into() }
            } else {
                Error::NoWeights { dir: dir.into() }
            });
        }
        let kind = if opts.half { Kind::Half } else { Kind::Float };
        let _guard = tch::no_grad_guard();
        let mut w = weights::Weights::load(&weights, opts.device, kind)?;
        let model = model::Clip::new(&mut w, &config);
        w.finish()?;
        let levels = levels::Levels::new(&preprocess, opts.device, kind)
            .map_err(|source| Error::Weights { path: weights.clone(), source })?;
        tracing::info!(
            checkpoint = %dir.display(),
            device = %device_name(opts.device),
            half = opts.half,
            "loaded CLIP (vision {}x{} layers, text {}x{} layers, projection {})",
            config.vision_config.hidden_size,
            config.vision_config.num_hidden_layers,
            config.text_config.hidden_size,
            config.text_config.num_hidden_layers,
            config.projection_dim
        );
        Ok(ClipEncoder {
            model,
            config,
            preprocess,
            tokenizer,
            device: opts.device,
            kind,
            dir: dir.into(),
            levels,
        })
    }

    /// The checkpoint's `config.json`, checked.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }
    /// The checkpoint's image preprocessing (`preprocessor_config.json`, else CLIP's with the
    /// vision tower's `image_size`), as crops runs it.
    pub fn preprocess(&self) -> &ClipPreprocess {
        &self.preprocess
    }
    /// The checkpoint's tokenizer with the original's normalisation.
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }
    /// The weights' and activations' kind: `Half` with `half`, else `Float`.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The device the model runs on.
    pub fn device(&self) -> Device {
        self.device
    }
    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Encodes preprocessed images given as one contiguous f32 NCHW buffer of `n` images.
    pub fn encode_images(&self, pixels: &[f32], n: usize) -> Result<ImageOutput> {
        self.encode_images_with(pixels, n, ImageOutputs::Pooled)
    }

    /// [`ClipEncoder::encode_images`], keeping the outputs `outputs` names.
    pub fn encode_images_with(
        &self,
        pixels: &[f32],
        n: usize,
        outputs: ImageOutputs,
    ) -> Result<ImageOutput> {
        let s = self.model.vision.image_size;
        let c = self.model.vision.channels;
        let per = (c * s * s) as usize;
        if n.checked_mul(per) != Some(pixels.len()) {
            return Err(Error::Input(format!(
                "{} floats for {n} images of {c}x{s}x{s} (expected {} per image)",
                pixels.len(),
                per
            )));
        }
        let t = Tensor::f_from_slice(pixels)
            .and_then(|t| t.f_view([n as i64, c, s, s]))
            .map_err(|e| Error::forward("vision", n as i64, Device::Cpu, e))?;
        self.encode_image_tensor_with(&t, outputs)
    }

    /// Encodes a `(B, C, H, W)` tensor of preprocessed images (any device): normalised values
    /// (any float kind), or 8-bit levels (uint8, crops' `u8` output), which are normalised on the
    /// model's device with [`normalise_levels`](Self::normalise_levels). A tensor of another
    /// shape is [`Error::Input`]; a batch the device has no memory for is
    /// [`Error::OutOfMemory`].
    pub fn encode_image_tensor(&self, pixels: &Tensor) -> Result<ImageOutput> {
        self.encode_image_tensor_with(pixels, ImageOutputs::Pooled)
    }

    /// [`ClipEncoder::encode_image_tensor`], keeping the outputs `outputs` names (the grid with
    /// [`ImageOutputs::WithGrid`]; it costs nothing more to compute, only the memory it holds).
    pub fn encode_image_tensor_with(
        &self,
        pixels: &Tensor,
        outputs: ImageOutputs,
    ) -> Result<ImageOutput> {
        let (v, size) = (&self.model.vision, pixels.size());
        let rows = match size[..] {
            [rows, c, h, w] if c == v.channels && h == v.image_size && w == v.image_size => rows,
            _ => {
                return Err(Error::Input(format!(
                    "pixels of shape {size:?}, expected (B, {0}, {1}, {1})",
                    v.channels, v.image_size
                )));
            }
        };
        let _guard = tch::no_grad_guard();
        let run = || -> Result<ImageOutput, tch::TchError> {
            let x = match pixels.kind() {
                Kind::Uint8 => self.levels.apply(pixels)?,
                _ => pixels.f_to_device(self.device)?.f_to_kind(self.kind)?,
            };
            let (grid, pooled) = self.model.vision.forward(&x)?;
            let embeds = self.model.project_image(&pooled)?;
            let grid = match outputs {
                ImageOutputs::Pooled => None,
                ImageOutputs::WithGrid => Some(grid.f_to_kind(Kind::Float)?),
            };
            Ok(ImageOutput {
                pooled: pooled.f_to_kind(Kind::Float)?,
                embeds: embeds.f_to_kind(Kind::Float)?,
                grid,
            })
        };
        run().map_err(|e| Error::forward("vision", rows, self.device, e))
    }

    /// Queues a copy of `pixels` (a CPU tensor, pinned for the copy to be asynchronous) to the
    /// model's device, for [`encode_image_tensor`](Self::encode_image_tensor). A device with no
    /// memory left for it is [`Error::OutOfMemory`] naming the batch's rows, like a forward
    /// pass that runs out.
    pub fn copy_to_device(&self, pixels: &Tensor) -> Result<Tensor> {
        let rows = pixels.size().first().copied().unwrap_or(0);
        pixels
            .f_to_device_(self.device, pixels.kind(), true, false)
            .map_err(|e| Error::forward("vision", rows, self.device, e))
    }

    /// CLIP's normalisation of 8-bit levels (a `(B, 3, H, W)` uint8 tensor of crops' `u8`
    /// output, any device) on the model's device, in the model's kind, by a table of the
    /// checkpoint's mean and std: the values equal crops' f32 output (f16 for a half-precision
    /// model) bit for bit.
    pub fn normalise_levels(&self, levels: &Tensor) -> Result<Tensor> {
        let size = levels.size();
        if levels.kind() != Kind::Uint8 || size.len() != 4 || size[1] != 3 {
            return Err(Error::Input(format!(
                "levels of kind {:?} and shape {size:?}, expected uint8 (B, 3, H, W)",
                levels.kind()
            )));
        }
        self.levels.apply(levels).map_err(|e| Error::forward("vision", size[0], self.device, e))
    }

    /// Tokenizes and encodes phrases as the original did.
    pub fn encode_texts<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<TextOutput> {
        self.encode_texts_with(texts, Tokenization::Original)
    }

    /// Tokenizes phrases as `how` says and encodes them.
    pub fn encode_texts_with<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        how: Tokenization,
    ) -> Result<TextOutput> {
        let batch = self.tokenizer.batch_with(texts, how)?;
        self.encode_tokens(&batch)
    }

    /// Encodes an already tokenized batch. A batch the device has no memory for is
    /// [`Error::OutOfMemory`].
    pub fn encode_tokens(&self, batch: &TokenBatch) -> Result<TextOutput> {
        let t = &self.model.text;
        if batch.len as i64 > t.max_positions {
            return Err(Error::Input(format!(
                "{} tokens exceed max_position_embeddings {}",
                batch.len, t.max_positions
            )));
        }
        if batch.ids.len() != batch.rows * batch.len || batch.mask.len() != batch.ids.len() {
            return Err(Error::Input(format!(
                "a token batch of {} x {} with {} ids and {} mask values",
                batch.rows,
                batch.len,
                batch.ids.len(),
                batch.mask.len()
            )));
        }
        if let Some(bad) = batch.ids.iter().find(|&&i| i < 0 || i >= t.vocab) {
            return Err(Error::Input(format!(
                "token id {bad} outside the vocabulary of {}",
                t.vocab
            )));
        }
        let _guard = tch::no_grad_guard();
        let run = || -> Result<TextOutput, tch::TchError> {
            if batch.rows == 0 {
                let empty = |w: i64| Tensor::f_zeros([0, w], (Kind::Float, self.device));
                let hidden = self.config.text_config.hidden_size;
                return Ok(TextOutput {
                    features: empty(hidden)?,
                    values: empty(hidden)?,
                    keys: empty(self.config.projection_dim)?,
                });
            }
            let shape = [batch.rows as i64, batch.len as i64];
            let ids = Tensor::f_from_slice(&batch.ids)?.f_view(shape)?.f_to_device(self.device)?;
            let mask =
                Tensor::f_from_slice(&batch.mask)?.f_view(shape)?.f_to_device(self.device)?;
            let (values, features) = t.forward(&ids, &mask)?;
            let keys = self.model.project_text(&features)?;
            Ok(TextOutput {
                features: features.f_to_kind(Kind::Float)?,
                values: values.f_to_kind(Kind::Float)?,
                keys: keys.f_to_kind(Kind::Float)?,
            })
        };
        run().map_err(|e| Error::forward("text", batch.rows as i64, self.device, e))
    }
}

/// A tensor's values as a `Vec<f32>` (moved to the CPU).
pub fn to_vec_f32(t: &Tensor) -> Result<Vec<f32>> {
    let t = t.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
    Ok(Vec::<f32>::try_from(t.f_flatten(0, -1)?)?)
}
