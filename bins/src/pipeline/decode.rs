//! The CPU side of the image steps, as the first stage of a [`Flow`]: worker threads decode and
//! crop images straight into reused batch buffers (pinned for a CUDA device, so that the copy to
//! the device can run asynchronously), a few batches ahead of the device, in the images' order.
//!
//! There is no barrier between batches: a worker takes the next image as soon as it is done with
//! one, whichever batch that image belongs to, as long as that batch is at most `ahead` batches
//! beyond the oldest one still being filled. The source thread hands each batch on as soon as
//! its last image is in.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anyhow::{Context, Result, anyhow};
use clip_encoder::{Device, DeviceCrops, Kind, Tensor};
use crops::{ClipPreprocess, CropPlan, RgbImage};
use ctx_store::ImageId;
use half::f16;

use super::device_batch::{self, Decoded, Room, WorkerMemory};
use super::host_rows;
use super::stages::{Emit, Flow, source};
use super::step_times::{Step, StepTimes, timed};

/// An image to process: id, where its bytes are, and the path that names it in messages.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: ImageId,
    pub path: PathBuf,
    pub location: datasets::Location,
}

impl Item {
    /// An image file.
    pub fn file(id: impl Into<ImageId>, path: PathBuf) -> Item {
        Item { id: id.into(), location: datasets::Location::File(path.clone()), path }
    }

    /// An image wherever it is (a tar member is read in place).
    pub fn at(id: ImageId, location: datasets::Location) -> Item {
        Item { id, path: location.display_path(), location }
    }

    /// Reads the image's bytes into `bytes` (reused: cleared first).
    fn read(&self, bytes: &mut Vec<u8>) -> crops::Result<()> {
        bytes.clear();
        match &self.location {
            datasets::Location::File(p) => std::fs::File::open(p)
                .and_then(|mut f| f.read_to_end(bytes))
                .map(drop)
                .map_err(|source| crops::Error::Io { path: p.clone(), source }),
            other => {
                *bytes = other.read().map_err(|e| crops::Error::Io {
                    path: self.path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                })?;
                Ok(())
            }
        }
    }
}

/// What each image becomes: `whole` (one input) or `crops` (crops' layout: whole, five, nine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    Whole,
    Crops,
}

impl Inputs {
    pub fn per_image(self) -> usize {
        match self {
            Inputs::Whole => 1,
            Inputs::Crops => crops::INPUTS_PER_IMAGE,
        }
    }

    /// Writes the image's inputs into `dst`, a `(per_image, 3, size, size)` CPU tensor of
    /// `kind` (`Half` for a half-precision model: half the bytes to move to the device;
    /// `Uint8`: the levels before normalisation, which the model's device normalises),
    /// preprocessed straight into its memory in that element type.
    fn fill(
        self,
        pre: &ClipPreprocess,
        img: &RgbImage,
        kind: Kind,
        dst: &mut Tensor,
    ) -> Result<()> {
        let expected = [self.per_image() as i64, 3, i64::from(pre.size), i64::from(pre.size)];
        anyhow::ensure!(dst.size() == expected, "rows of shape {:?}, not {expected:?}", dst.size());
        match kind {
            Kind::Half => {
                host_rows::with_elements_mut::<f16, _>(dst, |out| self.write(pre, img, out))??
            }
            Kind::Uint8 => {
                host_rows::with_elements_mut::<u8, _>(dst, |out| self.write(pre, img, out))??
            }
            _ => host_rows::with_elements_mut::<f32, _>(dst, |out| self.write(pre, img, out))??,
        }
        Ok(())
    }

    /// The plans of the inputs of a `width x height` image, for crops resized on the device.
    pub(super) fn plans(
        self,
        pre: &ClipPreprocess,
        width: u32,
        height: u32,
    ) -> crops::Result<Vec<CropPlan>> {
        let boxes = match self {
            Inputs::Whole => vec![crops::whole(width, height)],
            Inputs::Crops => crops::image_boxes(width, height).to_vec(),
        };
        boxes.into_iter().map(|b| pre.crop_plan(width, height, b)).collect()
    }

    fn write<T: crops::Element>(
        self,
        pre: &ClipPreprocess,
        img: &RgbImage,
        out: &mut [T],
    ) -> crops::Result<()> {
        match self {
            Inputs::Whole => pre.crop_pixels_into(img, crops::whole(img.width, img.height), out),
            Inputs::Crops => pre.image_crops_into(img, out),
        }
    }
}

/// A batch buffer, handed back to the source for reuse when dropped. A stage that holds it keeps
/// the host memory the batch's pixels live in (for a copy to the device still under way).
pub struct Hold {
    base: Tensor,
    back: SyncSender<Tensor>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.back.try_send(self.base.shallow_clone());
    }
}

/// One batch ready for the device: the images that decoded, their inputs as one
/// `(images * inputs per image, 3, size, size)` tensor, and the ones that failed (in order, with
/// the error). With `crops`, `pixels` is instead the decoded images packed in one byte buffer,
/// which the device crops as `crops` plans.
pub struct Prepared {
    pub items: Vec<Item>,
    pub pixels: Option<Tensor>,
    pub crops: Option<DeviceCrops>,
    pub failed: Vec<(Item, crops::Error)>,
    /// The buffer `pixels` is a view of (declared after `pixels`, so dropped after it).
    pub hold: Option<Hold>,
}

/// How the images are prepared.
#[derive(Debug, Clone)]
pub struct Options {
    /// Images per batch.
    pub batch: usize,
    /// Decoding threads.
    pub workers: usize,
    /// Batches being filled at once.
    pub ahead: usize,
    pub pre: ClipPreprocess,
    pub inputs: Inputs,
    /// The tensors' kind: the model's, or `Uint8` for levels the device normalises.
    pub kind: Kind,
    /// Pin the batch buffers for this CUDA device (asynchronous copies to it).
    pub pin: Option<Device>,
    /// Decode only: the crops are resized on the model's device (`kind` is then not used).
    pub device_crops: bool,
    /// Where to add the time of each step (benchmarks); `None`: no clock is read.
    pub times: Option<Arc<StepTimes>>,
}

/// The batch buffers: reused from batch to batch, since a fresh allocation of hundreds of MB per
/// batch is paid in page faults (and pinning is slower still); new ones are made when none has
/// come back, so the source never waits for one (the bounded channels bound how many exist).
///
/// Pinned buffers are cut from slabs: libtorch's pinned-memory pool rounds every allocation up
/// to a power of two (a 144 MB batch took 256 MB, a 578 MB one 1 GiB), so each slab is a power
/// of two holding at least [`SLAB_BUFFERS`] batches (less than a quarter of it unused), and one
/// pinning serves them all (libtorch 2.11 warns once per pinning).
pub(super) struct Buffers {
    back_tx: SyncSender<Tensor>,
    back_rx: Receiver<Tensor>,
    shape: Vec<i64>,
    kind: Kind,
    pin: Option<Device>,
}

/// Batch buffers per pinned slab, at least.
const SLAB_BUFFERS: usize = 4;

impl Buffers {
    fn take(&self) -> Result<Tensor> {
        if let Ok(t) = self.back_rx.try_recv() {
            return Ok(t);
        }
        let Some(device) = self.pin else {
            return Ok(Tensor::f_empty(self.shape.as_slice(), (self.kind, Device::Cpu))?);
        };
        let numel: i64 = self.shape.iter().product();
        let bytes = numel as usize * self.kind.elt_size_in_bytes();
        let count = slab_buffers(bytes);
        let slab = Tensor::f_empty([count as i64 * numel], (self.kind, Device::Cpu))?
            .f_pin_memory(device)
            .with_context(|| {
                format!("pinning {} MB of host memory for batch buffers", (count * bytes) >> 20)
            })?;
        let buffer =
            |i: usize| slab.f_narrow(0, i as i64 * numel, numel)?.f_view(self.shape.as_slice());
        for i in 1..count {
            // The others wait in the pool (dropped if it is full: the slab lives while any does).
            let _ = self.back_tx.try_send(buffer(i)?);
        }
        Ok(buffer(0)?)
    }

    /// A byte buffer of at least `len` bytes: a returned one if large enough, else a new one
    /// with room to spare (image sizes vary from batch to batch; one pinning per buffer).
    pub(super) fn take_bytes(&self, len: usize) -> Result<Tensor> {
        if let Ok(t) = self.back_rx.try_recv()
            && t.numel() >= len
        {
            return Ok(t);
        }
        let t = Tensor::f_empty([(len + len / 4) as i64], (Kind::Uint8, Device::Cpu))?;
        match self.pin {
            Some(d) => t.f_pin_memory(d).context("pinning a batch buffer in host memory"),
            None => Ok(t),
        }
    }

    /// Puts `t` back in the pool (dropped if the pool is full).
    pub(super) fn give_back(&self, t: Tensor) {
        let _ = self.back_tx.try_send(t);
    }
}

/// Buffers of `bytes` cut from one pinned slab: the slab is the smallest power of two that
/// holds [`SLAB_BUFFERS`] of them, filled with as many as fit.
fn slab_buffers(bytes: usize) -> usize {
    let bytes = bytes.max(1);
    (bytes * SLAB_BUFFERS).next_power_of_two() / bytes
}

/// A batch being filled: its buffer of preprocessed inputs, or (crops resized on the device)
/// the buffer its images are decoded into, and their places in `outcome`.
struct Open {
    base: Option<Tensor>,
    room: Option<Room>,
    outcome: Vec<Option<crops::Result<Option<Decoded>>>>,
    left: usize,
}

struct State {
    /// Batch index of `open[0]`.
    first: usize,
    open: VecDeque<Open>,
    next_item: usize,
    stop: bool,
    fatal: Option<anyhow::Error>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(g).unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the decoding stage for `items`; its batches come out in order.
pub fn batches(items: Vec<Item>, o: Options) -> Result<Flow<Prepared>> {
    let batch = o.batch.max(1);
    let per = o.inputs.per_image();
    let rows = (batch * per) as i64;
    let size = i64::from(o.pre.size);
    let (back_tx, back_rx) = sync_channel(o.ahead + 16);
    let buffers =
        Buffers { back_tx, back_rx, shape: vec![rows, 3, size, size], kind: o.kind, pin: o.pin };
    let items = Arc::new(items);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            first: 0,
            open: VecDeque::new(),
            next_item: 0,
            stop: false,
            fatal: None,
        }),
        changed: Condvar::new(),
    });
    let workers = Workers::start(&items, &shared, &o)?;
    let device_crops = o.device_crops;
    source("decode", 2, move |emit| {
        let _workers = workers; // stopped and joined when the source ends, however it ends
        let shape = Shape { batch, per, ahead: o.ahead.max(1), device_crops };
        feed(&items, &shared, &buffers, shape, o.times.as_ref(), emit)
    })
}

/// How the source cuts and opens batches.
#[derive(Clone, Copy)]
struct Shape {
    batch: usize,
    per: usize,
    ahead: usize,
    device_crops: bool,
}

/// The source's loop: opens batches up to `ahead` beyond the oldest one, hands each on once full.
fn feed(
    items: &[Item],
    shared: &Shared,
    buffers: &Buffers,
    Shape { batch, per, ahead, device_crops }: Shape,
    times: Option<&Arc<StepTimes>>,
    emit: &mut Emit<Prepared>,
) -> Result<()> {
    let n_batches = items.len().div_ceil(batch);
    let mut opened = 0;
    let mut per_image = device_batch::FIRST_IMAGE_BYTES;
    for b in 0..n_batches {
        if super::stop_requested() {
            break; // the batches being filled are dropped; those handed on are written
        }
        while opened < n_batches && opened < b + ahead {
            let len = batch.min(items.len() - opened * batch);
            let (base, room) = if device_crops {
                let room = timed(times, Step::Packing, || Room::new(buffers, len, per_image))?;
                (None, Some(room))
            } else {
                (Some(buffers.take()?), None)
            };
            let mut st = shared.lock();
            let outcome = (0..len).map(|_| None).collect();
            st.open.push_back(Open { base, room, outcome, left: len });
            shared.changed.notify_all();
            opened += 1;
        }
        let done = {
            let mut st = shared.lock();
            while st.fatal.is_none() && st.open.front().is_some_and(|o| o.left > 0) {
                st = shared.wait(st);
            }
            if let Some(e) = st.fatal.take() {
                return Err(e);
            }
            st.first += 1;
            shared.changed.notify_all();
            st.open.pop_front().expect("batch b is open")
        };
        let start = b * batch;
        let items = &items[start..start + done.outcome.len()];
        let p = prepared(items, done, per, buffers, &mut per_image, times)?;
        if emit.send(p).is_err() {
            break;
        }
        super::maybe_pause(b + 1);
    }
    Ok(())
}

/// A filled batch as the next stage takes it: the rows of the images that failed left out.
fn prepared(
    items: &[Item],
    done: Open,
    per: usize,
    buffers: &Buffers,
    per_image: &mut usize,
    times: Option<&Arc<StepTimes>>,
) -> Result<Prepared> {
    let mut p =
        Prepared { items: Vec::new(), pixels: None, crops: None, failed: Vec::new(), hold: None };
    let mut good = Vec::new();
    let mut decoded = Vec::new();
    for (i, (it, r)) in items.iter().zip(done.outcome).enumerate() {
        match r.expect("every image of a full batch has its outcome") {
            Ok(d) => {
                good.push(i as i64);
                decoded.extend(d);
                p.items.push(it.clone());
            }
            Err(e) => p.failed.push((it.clone(), e)),
        }
    }
    let Some(base) = done.base else {
        let room = done.room.expect("a batch of crops resized on the device has its room");
        if decoded.is_empty() {
            buffers.give_back(room.into_buffer());
        } else {
            let packed = device_batch::packed(&decoded, room, buffers, per_image, times)?;
            p.pixels = Some(packed.pixels);
            p.crops = Some(packed.crops);
            p.hold = Some(Hold { base: packed.buffer, back: buffers.back_tx.clone() });
        }
        return Ok(p);
    };
    let per = per as i64;
    if good.len() == items.len() {
        p.pixels = Some(base.f_narrow(0, 0, good.len() as i64 * per)?);
    } else if !good.is_empty() {
        // Rare: the good images' rows gathered into a new tensor.
        let rows: Vec<Tensor> =
            good.iter().map(|&i| base.f_narrow(0, i * per, per)).collect::<Result<_, _>>()?;
        p.pixels = Some(Tensor::f_cat(&rows, 0)?);
    }
    p.hold = Some(Hold { base, back: buffers.back_tx.clone() });
    Ok(p)
}

/// The decoding threads; dropping this stops and joins them.
struct Workers {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn start(items: &Arc<Vec<Item>>, shared: &Arc<Shared>, o: &Options) -> Result<Self> {
        let n = o.workers.max(1);
        let mut w = Workers { shared: Arc::clone(shared), threads: Vec::with_capacity(n) };
        // Each worker runs libtorch single-threaded (its copies would otherwise start an OpenMP
        // team per worker); libtorch's count for later threads (the model's) is restored once
        // every worker has set its own.
        let threads_before = tch::get_num_threads();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut failed = None;
        for i in 0..n {
            let (items, shared, ready) = (Arc::clone(items), Arc::clone(shared), ready_tx.clone());
            let (pre, inputs) = (o.pre.clone(), o.inputs);
            let kind = if o.device_crops { None } else { Some(o.kind) };
            let batch = o.batch.max(1);
            let times = o.times.clone();
            let t = std::thread::Builder::new().name(format!("xctx-decode-{i}")).spawn(move || {
                tch::set_num_threads(1);
                // libtorch reads the count into a thread's OpenMP settings at the thread's first
                // parallel loop (any non-empty one): take it now, while the count is 1, or the
                // worker's copies run on an OpenMP team of the restored size.
                let _ = Tensor::f_zeros([1], (Kind::Float, Device::Cpu));
                let _ = ready.send(());
                let job = Job { batch, pre: &pre, inputs, kind, times: times.as_ref() };
                work(&items, &shared, &job);
            });
            match t {
                Ok(t) => w.threads.push(t),
                Err(e) => {
                    failed = Some(anyhow!("starting decoding thread {i}: {e}"));
                    break;
                }
            }
        }
        for _ in 0..w.threads.len() {
            let _ = ready_rx.recv();
        }
        tch::set_num_threads(threads_before);
        match failed {
            Some(e) => Err(e), // dropping `w` stops and joins the threads started
            None => Ok(w),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What a decoding worker does with each image.
struct Job<'a> {
    batch: usize,
    pre: &'a ClipPreprocess,
    inputs: Inputs,
    /// The element type of the rows it fills; `None`: it decodes into the batch's byte buffer
    /// for crops resized on the device.
    kind: Option<Kind>,
    times: Option<&'a Arc<StepTimes>>,
}

/// A worker's loop: takes the next image whose batch is open, fills its rows of that batch
/// (in `kind`), or with no `kind` decodes it into the batch's byte buffer and keeps the plans
/// of its crops for the device. The memory an image needs on the way (its file's bytes, the
/// decoded image) is the worker's, reused from image to image.
fn work(items: &[Item], shared: &Shared, job: &Job<'_>) {
    let Job { batch, pre, inputs, kind, times } = *job;
    let per = inputs.per_image() as i64;
    let fatal = |e: anyhow::Error| {
        let mut st = shared.lock();
        st.fatal.get_or_insert(e);
        shared.changed.notify_all();
    };
    let mut memory = WorkerMemory::default();
    let mut img = RgbImage { width: 0, height: 0, data: Vec::new() };
    loop {
        let (i, mut dst) = {
            let mut st = shared.lock();
            loop {
                if st.stop || st.fatal.is_some() || st.next_item >= items.len() {
                    return;
                }
                let b = st.next_item / batch;
                if b < st.first + st.open.len() {
                    break;
                }
                st = shared.wait(st);
            }
            let i = st.next_item;
            st.next_item += 1;
            let slot = &st.open[i / batch - st.first];
            let dst = slot.base.as_ref().map(|b| b.f_narrow(0, (i % batch) as i64 * per, per));
            match dst.transpose() {
                Ok(dst) => (i, dst),
                Err(e) => {
                    drop(st);
                    return fatal(e.into());
                }
            }
        };
        let it = &items[i];
        let read = timed(times, Step::Decode, || it.read(&mut memory.bytes));
        let r = match (read, dst.as_mut().zip(kind)) {
            (Err(e), _) => Err(e),
            (Ok(()), None) => {
                // Room in the batch's buffer, taken once the image's size is known.
                let reserve = |len: usize| {
                    let mut st = shared.lock();
                    let first = st.first;
                    let slot = &mut st.open[i / batch - first];
                    slot.room.as_mut().expect("a batch for the device has its room").reserve(len)
                };
                let r =
                    device_batch::decode_image(&it.path, &mut memory, pre, inputs, times, reserve);
                match r {
                    Ok(r) => r.map(Some),
                    Err(e) => return fatal(e.context(format!("preparing {}", it.path.display()))),
                }
            }
            (Ok(()), Some((dst, kind))) => {
                let decoded = timed(times, Step::Decode, || {
                    crops::decode_bytes_into(&it.path, &memory.bytes, &mut img)
                });
                match decoded.map(|()| inputs.fill(pre, &img, kind, dst)) {
                    Err(e) => Err(e),
                    Ok(Ok(())) => Ok(None),
                    Ok(Err(e)) => match e.downcast::<crops::Error>() {
                        Ok(e) => Err(e),
                        Err(e) => {
                            return fatal(e.context(format!("preparing {}", it.path.display())));
                        }
                    },
                }
            }
        };
        let mut st = shared.lock();
        let first = st.first;
        let slot = &mut st.open[i / batch - first];
        slot.outcome[i % batch] = Some(r);
        slot.left -= 1;
        if slot.left == 0 {
            shared.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photos(n: usize, bad: &[usize]) -> (tempfile::TempDir, Vec<Item>) {
        let dir = tempfile::tempdir().unwrap();
        let mut items = Vec::new();
        for i in 0..n {
            let path = dir.path().join(format!("{i}.png"));
            if bad.contains(&i) {
                std::fs::write(&path, b"not an image").unwrap();
            } else {
                // Each image a flat colour that names it, so rows can be told apart.
                let (w, h) = (40 + i as u32, 30 + 2 * i as u32);
                let img =
                    image::RgbImage::from_pixel(w, h, image::Rgb([(i * 9 % 256) as u8, 0, 255]));
                img.save(&path).unwrap();
            }
            items.push(Item::file(i as u64, path));
        }
        (dir, items)
    }

    fn options(batch: usize, workers: usize, inputs: Inputs) -> Options {
        Options {
            batch,
            workers,
            ahead: 2,
            pre: ClipPreprocess { size: 8, ..ClipPreprocess::default() },
            inputs,
            kind: Kind::Float,
            pin: None,
            device_crops: false,
            times: None,
        }
    }

    /// The batches equal each image prepared alone, in order, whatever the worker count.
    #[test]
    fn batches_hold_every_image_in_order_with_failures_apart() {
        let (_d, items) = photos(11, &[4, 9]);
        for workers in [1, 3] {
            let flow = batches(items.clone(), options(4, workers, Inputs::Crops)).unwrap();
            let (mut ids, mut failed, mut rows) = (Vec::new(), Vec::new(), 0);
            let pre = ClipPreprocess { size: 8, ..ClipPreprocess::default() };
            while let Some(b) = flow.recv() {
                let px = b.pixels.as_ref().unwrap();
                let per = crops::INPUTS_PER_IMAGE;
                assert_eq!(px.size()[0] as usize, b.items.len() * per);
                for (j, it) in b.items.iter().enumerate() {
                    let img = crops::decode(&it.path).unwrap();
                    let want = pre.image_crops(&img).unwrap();
                    let got = Vec::<f32>::try_from(
                        px.narrow(0, (j * per) as i64, per as i64).flatten(0, -1),
                    )
                    .unwrap();
                    assert_eq!(got.len(), want.len());
                    assert!(got == want, "image {} differs", it.id);
                    ids.push(it.id.as_u64().unwrap());
                }
                failed.extend(b.failed.iter().map(|(it, _)| it.id.as_u64().unwrap()));
                rows += b.items.len() + b.failed.len();
            }
            let r = flow.finish().unwrap();
            assert_eq!(ids, [0, 1, 2, 3, 5, 6, 7, 8, 10]);
            assert_eq!(failed, [4, 9]);
            assert_eq!(rows, 11);
            assert_eq!(r.stages[0].items, 3);
        }
    }

    /// In 8-bit levels (for a device that normalises them): each image's levels as crops
    /// writes them.
    #[test]
    fn level_batches_hold_crops_levels() {
        let (_d, items) = photos(5, &[]);
        let opts = Options { kind: Kind::Uint8, ..options(2, 2, Inputs::Crops) };
        let pre = opts.pre.clone();
        let flow = batches(items, opts).unwrap();
        let mut images = 0;
        while let Some(b) = flow.recv() {
            let px = b.pixels.as_ref().unwrap();
            assert_eq!(px.kind(), Kind::Uint8);
            let per = crops::INPUTS_PER_IMAGE;
            for (j, it) in b.items.iter().enumerate() {
                let img = crops::decode(&it.path).unwrap();
                let mut want = vec![0u8; per * pre.len()];
                pre.image_crops_into(&img, &mut want).unwrap();
                let rows = px.narrow(0, (j * per) as i64, per as i64).flatten(0, -1);
                assert!(Vec::<u8>::try_from(rows).unwrap() == want, "image {}", it.id);
                images += 1;
            }
        }
        flow.finish().unwrap();
        assert_eq!(images, 5);
    }

    /// Slabs are powers of two holding 4 to 7 buffers: less than a quarter unused.
    #[test]
    fn slabs_fit_the_batch() {
        for bytes in [1usize, 3, 144 << 20, 578 << 20, (256 << 20) + 1, 1 << 30] {
            let n = slab_buffers(bytes);
            let slab = (bytes * SLAB_BUFFERS).next_power_of_two();
            assert!((SLAB_BUFFERS..2 * SLAB_BUFFERS).contains(&n), "{bytes}: {n}");
            assert!(n * bytes <= slab && (slab - n * bytes) * 4 < slab, "{bytes}: {n}");
        }
        assert_eq!(slab_buffers(144 << 20), 7);
    }

    /// With the crops left to the device: each batch holds the decoded images packed with the
    /// plan of their crops, which give crops' levels; failures stay apart.
    #[test]
    fn device_crop_batches_give_crops_levels() {
        let (_d, items) = photos(7, &[3]);
        let opts = Options { device_crops: true, ..options(3, 2, Inputs::Crops) };
        let pre = opts.pre.clone();
        let flow = batches(items, opts).unwrap();
        let (mut images, mut failed) = (Vec::new(), Vec::new());
        while let Some(b) = flow.recv() {
            let per = crops::INPUTS_PER_IMAGE;
            let plan = b.crops.as_ref().unwrap();
            assert_eq!(plan.len(), b.items.len() * per);
            let levels = plan.levels(b.pixels.as_ref().unwrap()).unwrap();
            for (j, it) in b.items.iter().enumerate() {
                let img = crops::decode(&it.path).unwrap();
                let mut want = vec![0u8; per * pre.len()];
                pre.image_crops_into(&img, &mut want).unwrap();
                let rows = levels.narrow(0, (j * per) as i64, per as i64).flatten(0, -1);
                assert!(Vec::<u8>::try_from(rows).unwrap() == want, "image {}", it.id);
                images.push(it.id.as_u64().unwrap());
            }
            failed.extend(b.failed.iter().map(|(it, _)| it.id.as_u64().unwrap()));
        }
        flow.finish().unwrap();
        assert_eq!((images, failed), (vec![0, 1, 2, 4, 5, 6], vec![3]));
    }

    /// JPEGs decoded straight into the batch buffers, some too large for the room the first
    /// batches are sized for (decoded apart, then moved into a larger buffer with the others),
    /// one corrupt: every image's crops as crops computes them, whatever the worker count.
    #[test]
    fn device_crop_batches_of_jpegs_decoded_in_place_or_apart() {
        let dir = tempfile::tempdir().unwrap();
        let sizes =
            [(800, 600), (800, 600), (300, 200), (640, 480), (900, 700), (2, 3), (801, 601)];
        let mut items = Vec::new();
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let path = dir.path().join(format!("{i}.jpg"));
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 7 + y * 3 + i as u32 * 11) as u8, (x ^ y) as u8, (y * 5) as u8])
            });
            img.save(&path).unwrap();
            items.push(Item::file(i as u64, path));
        }
        std::fs::write(&items[3].path, b"\xFF\xD8\xFF\xE0 not a JPEG \xFF\xD9").unwrap();
        for workers in [1, 3] {
            let opts = Options { device_crops: true, ..options(2, workers, Inputs::Crops) };
            let pre = opts.pre.clone();
            let flow = batches(items.clone(), opts).unwrap();
            let (mut images, mut failed) = (Vec::new(), Vec::new());
            while let Some(b) = flow.recv() {
                let per = crops::INPUTS_PER_IMAGE;
                let levels = b.crops.as_ref().unwrap().levels(b.pixels.as_ref().unwrap()).unwrap();
                for (j, it) in b.items.iter().enumerate() {
                    let mut want = vec![0u8; per * pre.len()];
                    match crops::decode(&it.path) {
                        Ok(img) => pre.image_crops_into(&img, &mut want).unwrap(),
                        Err(e) => panic!("{e}"),
                    }
                    let rows = levels.narrow(0, (j * per) as i64, per as i64).flatten(0, -1);
                    assert!(Vec::<u8>::try_from(rows).unwrap() == want, "image {}", it.id);
                    images.push(it.id.as_u64().unwrap());
                }
                failed.extend(b.failed.iter().map(|(it, _)| it.id.as_u64().unwrap()));
            }
            flow.finish().unwrap();
            // The 2x3 image's crops are empty: refused as crops refuses them.
            assert_eq!((images, failed), (vec![0, 1, 2, 4, 6], vec![3, 5]), "{workers} workers");
        }
    }

    #[test]
    fn dropping_the_flow_early_stops_the_workers() {
        let (_d, items) = photos(30, &[]);
        let flow = batches(items, options(2, 2, Inputs::Whole)).unwrap();
        let first = flow.recv().unwrap();
        assert_eq!(first.items.len(), 2);
        drop(first);
        drop(flow); // joins the source and its workers; a hang here fails the test by timeout
    }
}
