//! The one error type of `clip-encoder`: every variant names the file, text, device or batch.

use std::path::PathBuf;

use crate::device_name::device_name;

/// Everything that can go wrong loading or running a CLIP checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A JSON file (`config.json`, `preprocessor_config.json`) does not parse.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },

    /// A configuration value is unsupported, out of bounds or inconsistent.
    #[error("{path}: {msg}")]
    Config {
        /// `config.json` or `preprocessor_config.json`.
        path: PathBuf,
        /// What is wrong, naming the key.
        msg: String,
    },

    /// The checkpoint has weights only as `pytorch_model.bin`.
    #[error(
        "{dir}: no model.safetensors; this checkpoint has only pytorch_model.bin. Convert it once with \
         `python -c \"from transformers import CLIPModel; CLIPModel.from_pretrained('{dir}').save_pretrained('{dir}')\"`"
    )]
    OnlyPytorchBin {
        /// The checkpoint directory.
        dir: PathBuf,
    },

    /// The directory holds no weights at all.
    #[error("{dir}: not a CLIP checkpoint directory (no model.safetensors)")]
    NoWeights {
        /// The checkpoint directory.
        dir: PathBuf,
    },

    /// Tensors missing, mis-shaped or unexpected in `model.safetensors`.
    #[error("{path}: checkpoint does not match the model: {problems}")]
    Checkpoint {
        /// `model.safetensors`.
        path: PathBuf,
        /// Every problem found (the first six, then a count).
        problems: String,
    },

    /// `tokenizer.json` is missing or unreadable.
    #[error("{path}: cannot load tokenizer: {msg}")]
    Tokenizer {
        /// `tokenizer.json`.
        path: PathBuf,
        /// The tokenizers crate's message.
        msg: String,
    },

    /// A text could not be tokenized.
    #[error("tokenizing {text:?}: {msg}")]
    Encode {
        /// The text.
        text: String,
        /// The tokenizers crate's message.
        msg: String,
    },

    /// A `--device` value names no usable device.
    #[error("device {spec:?}: {msg}")]
    Device {
        /// The flag's value.
        spec: String,
        /// Why it cannot be used.
        msg: String,
    },

    /// An input that does not fit the model (pixel count or shape, token ids, length).
    #[error("input: {0}")]
    Input(String),

    /// `model.safetensors` could not be read, or its tensors not moved to the device.
    #[error("{path}: {source}")]
    Weights {
        /// `model.safetensors`.
        path: PathBuf,
        /// libtorch's error.
        source: tch::TchError,
    },

    /// libtorch could not allocate what a batch needs: the batch is too large for the device.
    #[error(
        "{tower} tower ran out of memory on {device} for a batch of {rows} inputs; lower \
         --batch-size ({message})"
    )]
    OutOfMemory {
        /// `vision` or `text`.
        tower: &'static str,
        /// Rows of the batch.
        rows: i64,
        /// The device (`cpu`, `cuda:0`, ...).
        device: String,
        /// libtorch's message, first line.
        message: String,
    },

    /// libtorch refused a batch for another reason.
    #[error("{tower} tower on {device}, batch of {rows} inputs: {message}")]
    Forward {
        /// `vision` or `text`.
        tower: &'static str,
        /// Rows of the batch.
        rows: i64,
        /// The device (`cpu`, `cuda:0`, ...).
        device: String,
        /// libtorch's message, first line.
        message: String,
    },

    /// Any other libtorch error (moving outputs off the device, ...).
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A libtorch error from running `tower` on a batch of `rows` on `device`: out of memory
    /// (CUDA's or the CPU allocator's message) or anything else, with libtorch's message cut to
    /// its first line (the rest is a C++ backtrace).
    pub(crate) fn forward(
        tower: &'static str,
        rows: i64,
        device: tch::Device,
        err: tch::TchError,
    ) -> Self {
        let full = err.to_string();
        let message = full.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
        let device = device_name(device);
        let lower = full.to_lowercase();
        if ["out of memory", "not enough memory", "can't allocate memory"]
            .iter()
            .any(|m| lower.contains(m))
        {
            Error::OutOfMemory { tower, rows, device, message }
        } else {
            Error::Forward { tower, rows, device, message }
        }
    }
}
