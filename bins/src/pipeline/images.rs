//! The CPU side of the image steps: decoding and cropping on a pool of worker threads, a few
//! batches ahead of the device, in the images' order.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

use crops::{ClipPreprocess, RgbImage};
use rayon::prelude::*;

/// An image to process: id and file.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: u64,
    pub path: PathBuf,
}

/// One batch ready for the device: the images that decoded, their inputs as one
/// `(images * inputs per image, 3, size, size)` tensor (built off the device thread), and the
/// ones that failed (in order, with the error).
pub struct Prepared {
    pub items: Vec<Item>,
    pub pixels: Option<clip_encoder::Tensor>,
    pub failed: Vec<(Item, crops::Error)>,
}

/// What each image becomes: `whole` (one input) or `crops` (whole + five + nine, 15 inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    Whole,
    Crops,
}

impl Inputs {
    pub fn per_image(self) -> usize {
        match self {
            Inputs::Whole => 1,
            Inputs::Crops => 15,
        }
    }

    fn make(self, pre: &ClipPreprocess, img: &RgbImage) -> crops::Result<Vec<f32>> {
        match self {
            Inputs::Whole => {
                let mut v = vec![0f32; pre.len()];
                pre.pixels_into(img, &mut v);
                Ok(v)
            }
            Inputs::Crops => pre.image_crops(img),
        }
    }
}

/// Starts `workers` threads preparing `items` in batches of `batch`; at most `ahead` batches
/// wait for the consumer. Dropping the receiver stops the producer.
pub fn prepare(
    items: Vec<Item>,
    batch: usize,
    workers: usize,
    ahead: usize,
    pre: ClipPreprocess,
    inputs: Inputs,
) -> anyhow::Result<Receiver<Prepared>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers.max(1))
        .thread_name(|i| format!("xctx-decode-{i}"))
        .build()?;
    let (tx, rx) = sync_channel(ahead.max(1));
    std::thread::Builder::new().name("xctx-batches".into()).spawn(move || {
        for chunk in items.chunks(batch.max(1)) {
            let shape = [inputs.per_image() as i64, 3, i64::from(pre.size), i64::from(pre.size)];
            let done: Vec<(Item, crops::Result<clip_encoder::Tensor>)> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|it| {
                        let px = crops::decode(&it.path).and_then(|img| inputs.make(&pre, &img));
                        (it.clone(), px.map(|px| clip_encoder::Tensor::from_slice(&px).view(shape)))
                    })
                    .collect()
            });
            let mut p = Prepared { items: Vec::new(), pixels: None, failed: Vec::new() };
            let mut tensors = Vec::new();
            for (it, r) in done {
                match r {
                    Ok(t) => {
                        tensors.push(t);
                        p.items.push(it);
                    }
                    Err(e) => p.failed.push((it, e)),
                }
            }
            if !tensors.is_empty() {
                p.pixels = Some(clip_encoder::Tensor::cat(&tensors, 0));
            }
            if tx.send(p).is_err() {
                return;
            }
        }
    })?;
    Ok(rx)
}

/// The checkpoint's image settings as crops' preprocessing.
pub fn preprocess_of(enc: &clip_encoder::ClipEncoder) -> ClipPreprocess {
    let c = enc.image_config();
    ClipPreprocess { size: c.size, mean: c.mean, std: c.std }
}
