//! The CPU side of the image steps: decoding and cropping on a pool of worker threads, a few
//! batches ahead of the device, in the images' order.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

use clip_encoder::Tensor;
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
    pub pixels: Option<Tensor>,
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

    /// The image's inputs as a `(per_image, 3, size, size)` tensor, through a per-thread buffer
    /// reused from image to image.
    fn make(self, pre: &ClipPreprocess, img: &RgbImage) -> crops::Result<Tensor> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let n = self.per_image();
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.resize(n * pre.len(), 0.0);
            match self {
                Inputs::Whole => pre.pixels_into(img, &mut buf),
                Inputs::Crops => pre.image_crops_into(img, &mut buf)?,
            }
            let s = i64::from(pre.size);
            Ok(Tensor::from_slice(&buf).view([n as i64, 3, s, s]))
        })
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
            let done: Vec<(Item, crops::Result<Tensor>)> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|it| {
                        (
                            it.clone(),
                            crops::decode(&it.path).and_then(|img| inputs.make(&pre, &img)),
                        )
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
                p.pixels = Some(Tensor::cat(&tensors, 0));
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
