use std::path::PathBuf;

/// Errors of index construction and search.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Store { path: PathBuf, source: ctx_store::Error },

    #[error("{path}: the caption database is empty")]
    EmptyDb { path: PathBuf },

    #[error("keys: {0}")]
    Keys(String),

    #[error("queries: {0}")]
    Queries(String),

    #[error("k must be at least 1")]
    ZeroK,

    #[error("the CPU search's threads could not be started: {0}")]
    Threads(String),

    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
