//! The one error type of `ctx-store`: every variant names the file, and the object where known.

use std::path::PathBuf;

/// Errors of `ctx-store`. Each names the file and, where one is involved, the HDF5 object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not exist.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but does not start with the HDF5 signature.
    #[error("{}: not an HDF5 file", path.display())]
    NotHdf5 {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its superblock says (an interrupted copy or download).
    #[error("{}: truncated HDF5 file ({source})", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What HDF5 reported.
        #[source]
        source: hdf5::Error,
    },
    /// The file could not be opened or created.
    #[error("{}: cannot {action} ({source})", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// `open`, `create` or `open for writing`.
        action: &'static str,
        /// What HDF5 reported.
        #[source]
        source: hdf5::Error,
    },
    /// The output exists and the caller did not ask to overwrite it.
    #[error("{}: already exists (pass overwrite to replace it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// An object the schema requires is absent (for example an image id).
    #[error("{}: no object {object:?}", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object.
        object: String,
    },
    /// A dataset or attribute has another element type than the schema's.
    #[error("{}: {object:?} has dtype {found}, expected {expected}", path.display())]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object.
        object: String,
        /// The schema's type.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// A dataset has another shape than the schema's.
    #[error("{}: {object:?} has shape {found:?}, expected {expected}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object.
        object: String,
        /// The schema's shape, in words (`(k, d)` with the known sizes filled in).
        expected: String,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The file is HDF5 but not one of the three context files, or its parts disagree.
    #[error("{}: {message}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's structures are damaged (an interrupted copy, a zeroed or flipped block): a
    /// size past the file's end, a loop, counts that disagree. Found by the checks made before
    /// the HDF5 library sees those structures, which it would trust.
    #[error("{}: damaged file: {object}{}: {reason}", path.display(), offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The object whose structures are damaged (`/` for the file's own).
        object: String,
        /// Where in the file, where known.
        offset: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// Data handed to a writer is inconsistent (wrong length, a NUL in a text).
    #[error("{}: invalid input for {object:?}: {message}", path.display())]
    Input {
        /// The file being written.
        path: PathBuf,
        /// The HDF5 path of the object that was to be written.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// Any other HDF5 failure while reading or writing an object.
    #[error("{}: {object:?}: {source}", path.display())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object.
        object: String,
        /// What HDF5 reported.
        #[source]
        source: hdf5::Error,
    },
    /// Writing the file failed (a full disk, an I/O error): what was committed before stays.
    #[error("{}: writing {object:?}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object being written.
        object: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading raw bytes of a dataset failed.
    #[error("{}: reading {object:?}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The HDF5 path of the object.
        object: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A size read from the file (an attribute, or a dataset's shape) is negative or larger than
    /// this crate accepts, checked before anything is allocated with it.
    #[error("{}: {object:?} is {value}, outside 0..={limit} ({what})", path.display())]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// The attribute or dataset (with the axis named in `what`).
        object: String,
        /// What the size is, in words (`fdim`, `k`, `rows of keys`, ...).
        what: String,
        /// The value found.
        value: i128,
        /// The largest value accepted.
        limit: u64,
    },
    /// An input of [`merge`](crate::merge) cannot join the others (another kind, other sizes, an
    /// image already in another input), or the output is one of the inputs.
    #[error("{}: cannot merge: {message}", path.display())]
    Merge {
        /// The input (or output) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A compact txt_ctx's caption database is missing, or is not the one it was made with
    /// (another size or content hash), or does not hold a row the txt_ctx names.
    #[error("{}: caption database {}: {message}", path.display(), caption_db.display())]
    CaptionDb {
        /// The compact txt_ctx.
        path: PathBuf,
        /// The caption database looked for, or given.
        caption_db: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor operation failed while batching entries.
    #[cfg(feature = "tch")]
    #[error("batching into tensors: {0}")]
    Tch(#[source] tch::TchError),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
