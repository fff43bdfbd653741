//! The inputs of the context pipeline, exactly as the original reads them:
//!
//! - [`karpathy_images`]: the COCO images of the Karpathy split (annotation ids from the
//!   `coco_*_ids.npy` files looked up in the 2014 caption files), ascending by image id;
//! - [`phrase_database`]: the sorted unique Visual Genome phrases from `attributes.json` and
//!   `relationships.json`, streamed, with the original's shared-set quirk;
//! - [`ImageSource`]: other image lists (`--images SOURCE`): Karpathy's split JSON, a COCO-format
//!   image list, a folder, a list file, webdataset tar shards read in place;
//! - [`TextSource`]: text databases (`--texts`): a text file, JSON Lines, Karpathy's captions.
//!
//! ```no_run
//! # fn main() -> datasets::Result<()> {
//! let images = datasets::karpathy_images("datasets/coco_captions".as_ref())?;
//! datasets::missing_images(&images)?;
//! let phrases = datasets::phrase_database(
//!     "datasets/visual_genome/attributes.json".as_ref(),
//!     "datasets/visual_genome/relationships.json".as_ref(),
//! )?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod coco;
mod error;
mod json;
mod sources;
mod texts;
mod visual_genome;

pub use coco::{CocoImage, karpathy_images, missing_images};
pub use error::{Error, Result};
pub use sources::{
    ImageSource, KarpathyCaption, Location, SourceImage, SourceOptions, expand_braces,
    karpathy_captions, missing as missing_source_images, wds_images, wds_shards,
};
pub use texts::{Text, TextSource, dedup};
pub use visual_genome::{phrase_database, synset, word};
