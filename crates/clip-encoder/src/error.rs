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

    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
