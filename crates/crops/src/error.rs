//! The one error type of `crops`: every variant names the file.

use std::path::PathBuf;

/// Errors of `crops`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The image file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a decodable JPEG, PNG or WebP (empty, truncated, another format, corrupt).
    #[error("{}: cannot decode image: {message}", path.display())]
    Decode {
        /// The image file.
        path: PathBuf,
        /// What the decoder reported.
        message: String,
    },
    /// The image is larger than the decoder limit (a decompression bomb, as Pillow would say).
    #[error("{}: image of {width}x{height} pixels exceeds the limit of {limit} pixels", path.display())]
    TooLarge {
        /// The image file.
        path: PathBuf,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The pixel limit.
        limit: u64,
    },
    /// A crop of zero width or height (images narrower than 3 pixels).
    #[error("crop {crop:?} of a {width}x{height} image is empty")]
    EmptyCrop {
        /// The box.
        crop: [u32; 4],
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
