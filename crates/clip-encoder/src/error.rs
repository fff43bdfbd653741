use std::path::PathBuf;

/// Everything that can go wrong loading or running a CLIP checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: not valid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },

    #[error("{path}: {msg}")]
    Config { path: PathBuf, msg: String },

    #[error(
        "{dir}: no model.safetensors; this checkpoint has only pytorch_model.bin. Convert it once with \
         `python -c \"from transformers import CLIPModel; CLIPModel.from_pretrained('{dir}').save_pretrained('{dir}')\"`"
    )]
    OnlyPytorchBin { dir: PathBuf },

    #[error("{dir}: not a CLIP checkpoint directory (no model.safetensors)")]
    NoWeights { dir: PathBuf },

    #[error("{path}: checkpoint does not match the model: {problems}")]
    Checkpoint { path: PathBuf, problems: String },

    #[error("{path}: cannot load tokenizer: {msg}")]
    Tokenizer { path: PathBuf, msg: String },

    #[error("tokenizing {text:?}: {msg}")]
    Encode { text: String, msg: String },

    #[error("device {spec:?}: {msg}")]
    Device { spec: String, msg: String },

    #[error("input: {0}")]
    Input(String),

    #[error("{path}: {source}")]
    Weights { path: PathBuf, source: tch::TchError },

    /// libtorch could not allocate what a batch needs: the batch is too large for the device.
    #[error(
        "{tower} tower ran out of memory on {device} for a batch of {rows} inputs; lower \
         --batch-size ({message})"
    )]
    OutOfMemory { tower: &'static str, rows: i64, device: String, message: String },

    /// libtorch refused a batch for another reason (a tensor of the wrong shape, ...).
    #[error("{tower} tower on {device}, batch of {rows} inputs: {message}")]
    Forward { tower: &'static str, rows: i64, device: String, message: String },

    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

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
        let device = crate::device_name(device);
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
