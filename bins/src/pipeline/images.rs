//! The stages the image steps share: decoding ([`super::decode`]), the bad-image policy, the
//! vision tower, and the writer stage; each step composes them in its own file, top to bottom.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clip_encoder::{ClipEncoder, Device, ImageOutputs, Tensor};
use ctx_store::ImageId;
use indicatif::ProgressBar;

use super::decode::{self, Options};
pub use super::decode::{Hold, Inputs, Item, Prepared};
use super::output::Failures;
use super::stages::Flow;

/// A batch after the vision tower: the inputs' pooled outputs (`(n * inputs per image, width)`)
/// and projected, normalised embeddings (`(n * inputs per image, projection)`), on the model's
/// device, in f32.
pub struct Encoded {
    pub items: Vec<Item>,
    pub pooled: Tensor,
    pub embeds: Tensor,
    /// With [`ImageOutputs::WithGrid`]: the whole views' token grids, `(n, tokens, width)`.
    pub grid: Option<Tensor>,
    /// The batch's host buffer, while a copy from it to the device may be under way.
    hold: Option<Hold>,
    /// On a CUDA device: the batch's completion marker.
    done: Option<Marker>,
}

impl Encoded {
    /// What a search needs: the items and their embeddings (the pooled outputs, the grids and
    /// the host buffer are let go).
    pub fn into_queries(self) -> (Vec<Item>, Tensor) {
        (self.items, self.embeds)
    }
}

/// A batch's completion marker: after the batch's work, the device copies a number unique to
/// the batch into pinned host memory, asynchronously; the model stage sees the batch done when
/// that number is there, without synchronising the device (a blocking copy would also wait
/// for the next batch's work, queued on the same stream after it).
struct Marker {
    /// Pinned, one f32, written by the copy engine.
    host: Tensor,
    seq: f32,
}

impl Marker {
    /// Queues the marker of batch `seq` on `device`, after the work queued so far.
    fn queue(device: Device, seq: u32) -> Result<Self> {
        let seq = seq as f32 + 0.5;
        let on_device = Tensor::f_full([1], f64::from(seq), (clip_encoder::Kind::Float, device))?;
        // A non-blocking copy to the CPU lands in pinned memory from libtorch's pool.
        let host = on_device.f_to_device_(Device::Cpu, clip_encoder::Kind::Float, true, false)?;
        Ok(Marker { host, seq })
    }

    /// Waits until the device has written the marker, polling the host memory; after a minute
    /// (a device that stopped) it gives up and returns false.
    fn wait(&self) -> Result<bool> {
        let t = Instant::now();
        loop {
            if super::host_rows::read_first::<f32>(&self.host)? == self.seq {
                return Ok(true);
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The images of `all` not in every one of `done` (an image counts as done when each output
/// holds it), and how many are.
pub fn todo(all: &[super::sources::Image], done: &[&HashSet<ImageId>]) -> (Vec<Item>, usize) {
    let todo: Vec<Item> = all
        .iter()
        .filter(|i| !done.iter().all(|d| d.contains(&i.id)))
        .map(|i| Item::at(i.id.clone(), i.location.clone()))
        .collect();
    let already = all.len() - todo.len();
    (todo, already)
}

/// The images' failure record (`<out>.failures.jsonl`), shared by the stage that fills it and
/// the step that reports it.
pub type SharedFailures = Arc<Mutex<Failures>>;

/// The first stages of an image step: decoding and cropping `todo` on the CPU workers (batches
/// pinned in host memory for a CUDA model), then the `--on-error` policy: with `fail` the first
/// bad image stops the run (what is written stays), with `skip` it is recorded in `failures`.
/// Batches left with no image are dropped here.
pub fn decoded(
    todo: Vec<Item>,
    common: &super::Common,
    batch: usize,
    enc: &ClipEncoder,
    inputs: Inputs,
    failures: &SharedFailures,
    pb: &ProgressBar,
) -> Result<Flow<Prepared>> {
    let pin = match enc.device() {
        Device::Cpu => None,
        d => Some(d),
    };
    let opts = Options {
        batch,
        workers: common.workers(),
        ahead: 2,
        pre: common.preprocess(enc),
        inputs,
        kind: common.pixel_kind(enc),
        pin,
        device_crops: common.resize_on_device(enc)?,
        times: None,
    };
    let (on_error, failures, pb) = (common.on_error, Arc::clone(failures), pb.clone());
    decode::batches(todo, opts)?.stage("check", 1, move |input, out| {
        while let Some(batch) = input.recv() {
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
                    super::OnError::Skip => failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record(item.id.as_str(), &item.path, &e.to_string())?,
                }
                pb.inc(1);
            }
            if batch.pixels.is_some() && out.send(batch).is_err() {
                break;
            }
        }
        Ok(())
    })
}

/// The vision-tower stage. On a CUDA device each batch's copy to the device, forward pass and
/// completion marker are queued, and the batch is handed on once the next one is queued and its
/// own marker is there (so the device always has the next batch's work while this thread
/// waits, and the wait ends with the batch's own work, not the next one's); its host buffer
/// goes back to the decoders then. `outputs` says whether the whole views' grids are kept.
pub fn encode(
    flow: Flow<Prepared>,
    enc: ClipEncoder,
    outputs: ImageOutputs,
) -> Result<Flow<Encoded>> {
    flow.stage("model", 1, move |input, out| {
        let lag = enc.device() != Device::Cpu;
        let mut queued: Option<Encoded> = None;
        let mut clock = ModelClock { started: Some(Instant::now()), ..ModelClock::default() };
        let mut seq = 0u32;
        loop {
            let t = Instant::now();
            let Some(batch) = input.recv() else { break };
            clock.input += t.elapsed();
            let t = Instant::now();
            let e = forward(&enc, batch, outputs, seq)?;
            seq = seq.wrapping_add(1);
            clock.queue += t.elapsed();
            let ready = if lag { queued.replace(e) } else { Some(e) };
            if let Some(r) = ready {
                let t = Instant::now();
                let r = settle(r)?;
                clock.settle += t.elapsed();
                let t = Instant::now();
                let sent = out.send(r);
                clock.send += t.elapsed();
                if sent.is_err() {
                    return Ok(());
                }
            }
        }
        if let Some(r) = queued.take() {
            let _ = out.send(settle(r)?);
        }
        clock.log(seq);
        Ok(())
    })
}

/// Where the model stage's thread spent its time, per batch: queuing a batch's work (on the
/// CPU, running it), waiting for a queued batch to finish, waiting for the next batch, handing a
/// batch on, and the rest (the thread's own overhead). On a GPU the next batch's work is queued
/// before the wait, so the device idles only when waiting for input, handing on and the rest
/// together exceed one batch's device time; waiting for input is the decoders' doing.
#[derive(Default)]
struct ModelClock {
    queue: Duration,
    settle: Duration,
    input: Duration,
    send: Duration,
    started: Option<Instant>,
}

impl ModelClock {
    fn log(&self, batches: u32) {
        let per = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(batches.max(1));
        let total = self.started.map_or(Duration::ZERO, |t| t.elapsed());
        let rest = total.saturating_sub(self.queue + self.settle + self.input + self.send);
        tracing::debug!(
            batches,
            queue_ms_per_batch = per(self.queue),
            wait_ms_per_batch = per(self.settle),
            input_ms_per_batch = per(self.input),
            hand_on_ms_per_batch = per(self.send),
            rest_ms_per_batch = per(rest),
            "model stage"
        );
    }
}

/// Queues one batch on the model's device (8-bit levels are normalised there; decoded images
/// are cropped there first), then, on CUDA, its completion marker (`seq` numbers the batch).
fn forward(enc: &ClipEncoder, batch: Prepared, outputs: ImageOutputs, seq: u32) -> Result<Encoded> {
    let px = batch.pixels.as_ref().expect("the check stage drops batches with no pixels");
    let x = match enc.device() {
        Device::Cpu => px.shallow_clone(),
        d => {
            let mb = (px.numel() * px.kind().elt_size_in_bytes()) as f64 / 1e6;
            let dev = clip_encoder::device_name(d);
            enc.copy_to_device(px)
                .with_context(|| format!("copying a batch of {mb:.0} MB to {dev}"))?
        }
    };
    let x = match &batch.crops {
        Some(crops) => crops.levels(&x)?,
        None => x,
    };
    let out = enc.encode_image_tensor_with(&x, outputs)?;
    let Prepared { items, hold, .. } = batch;
    // Only the whole views' grids are kept.
    let grid = match out.grid {
        Some(g) => Some(whole_views(&g, items.len())?),
        None => None,
    };
    let done = match enc.device() {
        Device::Cpu => None,
        d => Some(Marker::queue(d, seq).context("queuing a batch's completion marker")?),
    };
    Ok(Encoded { items, pooled: out.pooled, embeds: out.embeds, grid, hold, done })
}

/// The rows of `t` (one per input, the batch's `images` in crops' layout) that are whole views:
/// an image's first input is its whole view.
pub fn whole_views(t: &Tensor, images: usize) -> Result<Tensor> {
    let rows = t.size().first().copied().unwrap_or(0);
    let per = (rows / (images as i64).max(1)).max(1);
    anyhow::ensure!(rows == per * images as i64, "{rows} model rows for {images} images");
    Ok(t.f_slice(0, 0, rows, per)?)
}

/// Waits for a queued batch's results (its marker; without one, the work ran already), then
/// lets its host buffer go. A marker that never arrives falls back to a blocking one-value copy.
fn settle(mut e: Encoded) -> Result<Encoded> {
    if let Some(m) = e.done.take()
        && !m.wait()?
    {
        tracing::warn!("a batch's completion marker did not arrive: waiting for the device");
        let _ = e.embeds.f_narrow(0, 0, 1)?.f_to_device(Device::Cpu)?;
    }
    e.hold = None;
    Ok(e)
}

/// A stage that writes each item with `write` on `writer` (returning the images it wrote) and
/// ends by `finish`ing it; after the N-th write the abort hook runs ([`super::maybe_abort`]).
/// The stage's output is the number of images each write added.
pub fn write_stage<T: Send + 'static, W: Send + 'static>(
    flow: Flow<T>,
    name: &'static str,
    mut writer: W,
    mut write: impl FnMut(&mut W, T) -> Result<usize> + Send + 'static,
    finish: impl FnOnce(W) -> Result<()> + Send + 'static,
) -> Result<Flow<usize>> {
    flow.stage(name, 2, move |input, out| {
        let mut number = 0;
        while let Some(item) = input.recv() {
            let n = write(&mut writer, item)?;
            number += 1;
            super::maybe_abort(number);
            if out.send(n).is_err() {
                break;
            }
        }
        finish(writer)
    })
}

/// Runs an image step's flow to its end: counts the images written (moving the progress bar),
/// waits for every stage and logs their clocks. Returns the images written.
pub fn consume(flow: Flow<usize>, pb: &ProgressBar, step: &str) -> Result<usize> {
    let t = std::time::Instant::now();
    let mut written = 0;
    while let Some(n) = flow.recv() {
        written += n;
        pb.inc(n as u64);
    }
    let report = flow.finish()?;
    let loop_s = t.elapsed().as_secs_f64();
    report.log(step);
    tracing::info!(
        written,
        loop_s,
        images_per_s = written as f64 / loop_s.max(1e-9),
        "{step}: loop"
    );
    Ok(written)
}

/// Ends an image step whose file is finished: progress bar cleared, the summary line, and a
/// failing exit status when images were skipped.
pub fn conclude(
    tool: &'static str,
    pb: &ProgressBar,
    written: usize,
    already: usize,
    failures: &SharedFailures,
    started: std::time::Instant,
    out: std::path::PathBuf,
) -> Result<std::process::ExitCode> {
    pb.finish_and_clear();
    let failures = failures.lock().unwrap_or_else(|p| p.into_inner());
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
