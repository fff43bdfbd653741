//! The crops of the cross-modal context pipeline: the whole image, five crops and nine crops,
//! each preprocessed for CLIP. The box arithmetic is a pure API, separate from pixels; [`View`]
//! is the one description of an image's inputs (whole, then five, then nine: 15 rows).
//!
//! ```
//! use crops::{INPUTS_PER_IMAGE, View};
//! let five = crops::five(333, 501);
//! assert_eq!(five[4].to_array(), [67, 100, 267, 401]); // the centre crop
//! assert_eq!(crops::nine(333, 501)[1].to_array(), [99, 0, 233, 200]);
//! assert_eq!((View::Five.rows(), INPUTS_PER_IMAGE), (1..6, 15));
//! ```
#![warn(missing_docs)]

mod boxes;
mod coeffs;
mod engine;
mod error;
mod image;
mod jpeg;
mod plan;
mod preprocess;
mod resample;
mod view;

pub use boxes::{CropBox, five, nine, whole};
pub use engine::Window;
pub use error::{Error, Result};
/// The half-precision element type [`ClipPreprocess`] writes for a half-precision model.
pub use half::f16;
pub use image::{
    JpegDecoder, MAX_PIXELS, Opened, RgbImage, decode, decode_bytes, decode_bytes_into,
    decode_bytes_with, decode_into, open_bytes,
};
pub use plan::{AxisTaps, CropPlan, RESIZE_BIAS, RESIZE_SHIFT};
pub use preprocess::{CLIP_MEAN, CLIP_STD, CenterCrop, ClipPreprocess, Element};
pub use resample::{
    ResizeScratch, resize_bicubic, resize_bicubic_into, resize_bicubic_window_into,
};
pub use view::{INPUTS_PER_IMAGE, VIEWS, View, image_boxes};
