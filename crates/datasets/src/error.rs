//! The one error type of `datasets`: every variant names the file.

use std::path::PathBuf;

/// Errors of `datasets`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed JSON, or JSON without the fields the format requires.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// A `.npy` file that is not a 1-D integer array.
    #[error("{}: {message}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An annotation id of a split file that the caption file does not hold.
    #[error("{}: annotation id {id} is not in {}", split.display(), captions.display())]
    UnknownAnnotation {
        /// The split file (`coco_*_ids.npy`).
        split: PathBuf,
        /// The caption file it was looked up in.
        captions: PathBuf,
        /// The annotation id.
        id: i64,
    },
    /// Images of the split that are not on disk (all of them, reported together).
    #[error("{} listed images are missing, first {}", missing.len(), missing.first().map(|p| p.display().to_string()).unwrap_or_default())]
    MissingImages {
        /// The missing files.
        missing: Vec<PathBuf>,
    },
    /// Tar shards a `wds:` pattern names that are not on disk (all of them, reported together).
    #[error("{pattern}: {} of its shards are missing, first {}", missing.len(), missing.first().map(|p| p.display().to_string()).unwrap_or_default())]
    MissingShards {
        /// The pattern as given.
        pattern: String,
        /// The missing files.
        missing: Vec<PathBuf>,
    },
    /// One entry of a list of images (or texts) that is not what its format requires.
    #[error("{}: {entry}: {message}", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// Which entry: `images[17]`, `line 4`, a tar member's name.
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// A source that names no image (or text database that holds no text) at all.
    #[error("{source_name}: no {what}")]
    EmptySource {
        /// The source as given (`folder:photos`, `wds:shards/{0..9}.tar`).
        source_name: String,
        /// What it lacks: `images` or `texts`.
        what: &'static str,
    },
    /// `--split` names a split that no image of a Karpathy file is in (a misspelt name).
    #[error("{}: no image is in split {split:?} (its splits: {})", path.display(), present.join(", "))]
    UnknownSplit {
        /// The split file.
        path: PathBuf,
        /// The split asked for.
        split: String,
        /// The splits its images are in, in order of first appearance.
        present: Vec<String>,
    },
    /// Two images of one source with the same id.
    #[error("{}: id {id} is both {} and {}", path.display(), first.display(), second.display())]
    DuplicateId {
        /// The source's file or folder.
        path: PathBuf,
        /// The id.
        id: String,
        /// The first image with it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A `--images` or `--texts` argument that names no known kind of source.
    #[error("{given:?}: {message}")]
    BadSource {
        /// The argument.
        given: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn entry(
        path: &std::path::Path,
        entry: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Entry { path: path.to_owned(), entry: entry.into(), message: message.into() }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_owned(), source }
    }

    pub(crate) fn json(path: &std::path::Path, e: &serde_json::Error) -> Self {
        // serde_json's message ends with " at line L column C", which the variant already says.
        let text = e.to_string();
        let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m).to_owned();
        Error::Json { path: path.to_owned(), line: e.line(), column: e.column(), message }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
