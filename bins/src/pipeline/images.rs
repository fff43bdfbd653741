//! The CPU side of the image steps: decoding and cropping on a pool of worker threads, a few
//! batches ahead of the device, in the images' order.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use clip_encoder::{Kind, Tensor};
use crops::{ClipPreprocess, RgbImage};
use half::f16;
use half::slice::HalfFloatSliceExt;
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
    /// The batch buffer `pixels` is a view of, handed back for reuse when the batch is dropped
    /// (declared after `pixels`, so dropped after it).
    buffer: Option<Recycle>,
}

/// A batch buffer on its way back to the assembler.
struct Recycle {
    base: Tensor,
    back: SyncSender<Tensor>,
}

impl Drop for Recycle {
    fn drop(&mut self) {
        let _ = self.back.try_send(self.base.shallow_clone());
    }
}

/// The assembler's batch buffers: each batch's inputs are copied into one of a few buffers
/// reused from batch to batch, since a fresh allocation of hundreds of MB per batch is paid in
/// page faults (the kernel clearing every page). The consumer holds at most `ahead + 1`
/// batches, so `ahead + 2` buffers never run out.
struct Buffers {
    back_tx: SyncSender<Tensor>,
    back_rx: Receiver<Tensor>,
    made: usize,
    cap: usize,
}

impl Buffers {
    fn new(cap: usize) -> Self {
        let (back_tx, back_rx) = sync_channel(cap);
        Buffers { back_tx, back_rx, made: 0, cap }
    }

    /// A buffer of `shape`: one handed back, or a new one while fewer than `cap` exist.
    fn take(&mut self, shape: &[i64], kind: Kind) -> Option<Tensor> {
        if let Ok(t) = self.back_rx.try_recv() {
            return Some(t);
        }
        if self.made < self.cap {
            self.made += 1;
            return Some(Tensor::empty(shape, (kind, clip_encoder::Device::Cpu)));
        }
        self.back_rx.recv().ok()
    }
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

    /// The image's inputs as a `(per_image, 3, size, size)` tensor of `kind` (`Half` for a
    /// half-precision model: half the bytes to copy and move to the device), through per-thread
    /// buffers reused from image to image.
    fn make(self, pre: &ClipPreprocess, img: &RgbImage, kind: Kind) -> crops::Result<Tensor> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
            static HALF: std::cell::RefCell<Vec<f16>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let n = self.per_image();
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.resize(n * pre.len(), 0.0);
            match self {
                Inputs::Whole => pre.pixels_into(img, &mut buf),
                Inputs::Crops => pre.image_crops_into(img, &mut buf)?,
            }
            let shape = [n as i64, 3, i64::from(pre.size), i64::from(pre.size)];
            if kind == Kind::Half {
                return Ok(HALF.with(|h| {
                    let mut h = h.borrow_mut();
                    h.resize(buf.len(), f16::ZERO);
                    h.convert_from_f32_slice(&buf);
                    Tensor::from_slice(&h).view(shape)
                }));
            }
            Ok(Tensor::from_slice(&buf).view(shape))
        })
    }
}

/// The prepared batches, in order. Dropping it stops the workers and waits for them, so that no
/// worker touches libtorch while the process exits (libtorch unregisters its operators then).
pub struct Batches {
    rx: Option<Receiver<Prepared>>,
    producer: Option<std::thread::JoinHandle<()>>,
}

impl Batches {
    /// The next batch; `None` when every batch has been handed over.
    pub fn recv(&self) -> Option<Prepared> {
        self.rx.as_ref().and_then(|rx| rx.recv().ok())
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(p) = self.producer.take() {
            let _ = p.join();
        }
    }
}

/// Starts `workers` threads preparing `items` in batches of `batch` as tensors of `kind`; at
/// most `ahead` batches wait for the consumer.
pub fn prepare(
    items: Vec<Item>,
    batch: usize,
    workers: usize,
    ahead: usize,
    pre: ClipPreprocess,
    inputs: Inputs,
    kind: Kind,
) -> anyhow::Result<Batches> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers.max(1))
        .thread_name(|i| format!("xctx-decode-{i}"))
        .build()?;
    let (tx, rx) = sync_channel(ahead.max(1));
    // Two stages, so that the workers decode and crop the next batch while the previous one
    // is joined into one tensor: the producer hands each batch's images to an assembler.
    let producer = std::thread::Builder::new().name("xctx-batches".into()).spawn(move || {
        std::thread::scope(|scope| {
            let (atx, arx) = sync_channel::<Vec<(Item, crops::Result<Tensor>)>>(1);
            let rows = (batch.max(1) * inputs.per_image()) as i64;
            let shape = [rows, 3, i64::from(pre.size), i64::from(pre.size)];
            scope.spawn(move || {
                let mut buffers = Buffers::new(ahead.max(1) + 2);
                for done in arx {
                    if tx.send(assemble(done, &mut buffers, &shape, kind)).is_err() {
                        return;
                    }
                }
            });
            for chunk in items.chunks(batch.max(1)) {
                let done: Vec<(Item, crops::Result<Tensor>)> = pool.install(|| {
                    chunk
                        .par_iter()
                        .map(|it| {
                            (
                                it.clone(),
                                crops::decode(&it.path)
                                    .and_then(|img| inputs.make(&pre, &img, kind)),
                            )
                        })
                        .collect()
                });
                if atx.send(done).is_err() {
                    return;
                }
            }
        });
    })?;
    Ok(Batches { rx: Some(rx), producer: Some(producer) })
}

/// One batch's images joined: the inputs of those that decoded as one tensor (a view of a
/// reused buffer of `shape`), the failures apart.
fn assemble(
    done: Vec<(Item, crops::Result<Tensor>)>,
    buffers: &mut Buffers,
    shape: &[i64],
    kind: Kind,
) -> Prepared {
    let mut p = Prepared { items: Vec::new(), pixels: None, failed: Vec::new(), buffer: None };
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
    if tensors.is_empty() {
        return p;
    }
    let rows: i64 = tensors.iter().map(|t| t.size()[0]).sum();
    match buffers.take(shape, kind) {
        Some(base) => {
            let out = base.narrow(0, 0, rows);
            let _ = Tensor::cat_out(&out, &tensors, 0);
            p.pixels = Some(out);
            p.buffer = Some(Recycle { base, back: buffers.back_tx.clone() });
        }
        None => p.pixels = Some(Tensor::cat(&tensors, 0)),
    }
    p
}

/// The checkpoint's image settings as crops' preprocessing.
pub fn preprocess_of(enc: &clip_encoder::ClipEncoder) -> ClipPreprocess {
    let c = enc.image_config();
    ClipPreprocess { size: c.size, mean: c.mean, std: c.std }
}

/// The images of `all` that are not in `done`, and how many are.
pub fn todo(all: &[datasets::CocoImage], done: Vec<u64>) -> (Vec<Item>, usize) {
    let done: std::collections::HashSet<u64> = done.into_iter().collect();
    let todo: Vec<Item> = all
        .iter()
        .filter(|i| !done.contains(&i.id))
        .map(|i| Item { id: i.id, path: i.path.clone() })
        .collect();
    let already = all.len() - todo.len();
    (todo, already)
}

/// Drives an image step: for every prepared batch, records or fails on its bad images (per
/// `--on-error`), hands the rest to `step`, which returns how many it took and the job that
/// writes them; the jobs run in order on `writer`, moved to a writer thread
/// ([`Background`](super::background::Background)), each followed by the abort hook. Moves the
/// progress bar and fills `timings`. Returns the number of images written, and the writer.
#[allow(clippy::too_many_arguments)]
pub fn drive<W, J>(
    batches: Batches,
    writer: W,
    out: &std::path::Path,
    on_error: super::OnError,
    failures: &mut super::output::Failures,
    pb: &indicatif::ProgressBar,
    timings: &mut super::Timings,
    mut step: impl FnMut(&Prepared, &Tensor, &mut super::Timings) -> anyhow::Result<(usize, J)>,
) -> anyhow::Result<(usize, W)>
where
    W: Send + 'static,
    J: FnOnce(&mut W) -> anyhow::Result<()> + Send + 'static,
{
    use anyhow::Context;
    let mut bg = super::background::Background::new(writer, 2)?;
    let (mut written, mut count) = (0, 0);
    let mut t = std::time::Instant::now();
    while let Some(batch) = batches.recv() {
        super::Timings::lap(&mut timings.wait, &mut t);
        for (item, e) in &batch.failed {
            match on_error {
                super::OnError::Fail => {
                    // The decoders' errors name the file already.
                    let (e, path) = (e.to_string(), item.path.display().to_string());
                    if e.contains(&path) {
                        anyhow::bail!("image {}: {e}", item.id)
                    }
                    anyhow::bail!("image {} ({path}): {e}", item.id)
                }
                super::OnError::Skip => {
                    failures.record(&item.id.to_string(), &item.path, &e.to_string())?
                }
            }
            pb.inc(1);
        }
        if let Some(pixels) = &batch.pixels {
            count += 1;
            let (n, job) = step(&batch, pixels, timings)?;
            let (number, path) = (count, out.to_path_buf());
            let mut queued = std::time::Instant::now();
            bg.send(move |w: &mut W| {
                job(w).with_context(|| format!("writing {}", path.display()))?;
                super::maybe_abort(number);
                Ok(())
            })?;
            super::Timings::lap(&mut timings.write, &mut queued);
            written += n;
            pb.inc(n as u64);
        }
        t = std::time::Instant::now();
    }
    let (writer, busy) = bg.finish()?;
    timings.writer_busy = busy;
    Ok((written, writer))
}

/// Starts an image step's CPU side for `todo`: the failure record beside `out`, the progress
/// bar, and the decoding workers two batches ahead.
pub fn start(
    out: &std::path::Path,
    todo: Vec<Item>,
    tool: &str,
    common: &super::Common,
    batch: usize,
    enc: &clip_encoder::ClipEncoder,
    inputs: Inputs,
) -> anyhow::Result<(super::output::Failures, indicatif::ProgressBar, Batches)> {
    let failures = super::output::Failures::new(out);
    let pb = super::progress(todo.len() as u64, tool, common.quiet);
    let rx = prepare(todo, batch, common.workers(), 2, preprocess_of(enc), inputs, enc.kind())?;
    Ok((failures, pb, rx))
}

/// Ends an image step whose file is finished: timings logged, progress bar cleared, the summary
/// line, and a failing exit status when images were skipped.
#[allow(clippy::too_many_arguments)]
pub fn conclude(
    tool: &'static str,
    timings: &super::Timings,
    pb: &indicatif::ProgressBar,
    written: usize,
    already: usize,
    failures: &super::output::Failures,
    started: std::time::Instant,
    out: std::path::PathBuf,
) -> anyhow::Result<std::process::ExitCode> {
    timings.log(tool);
    pb.finish_and_clear();
    super::Summary {
        tool,
        what: "images",
        written,
        already,
        skipped: failures.count,
        started,
        out,
    }
    .print();
    if failures.count > 0 {
        anyhow::bail!(
            "{} inputs failed and were skipped; see {}",
            failures.count,
            failures.path().display()
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
