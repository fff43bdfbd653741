//! The decoding stage's part for crops resized on the device (`--resize device`): each image is
//! decoded straight into its batch's byte buffer (reused from batch to batch, pinned for a CUDA
//! device) at the next free offset, so that the host's work per image is its decoding and
//! little else: no image buffer of its own to fill and then copy, no fresh memory to fault in.
//! The plans of the crops are kept per image size by each worker. An image that finds no room
//! left in its batch's buffer (sized from the images seen so far) is decoded apart and moved,
//! with the others, into a larger buffer when the batch is packed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use clip_encoder::{DeviceCrops, Placement, Tensor};
use crops::{ClipPreprocess, CropPlan};

use super::decode::{Buffers, Inputs};
use super::host_rows;
use super::step_times::{Step, StepTimes, timed};

/// Bytes per image the first batches' buffers are sized for: a 640x480 photo, COCO's usual
/// size; later batches are sized from the largest mean of a batch seen.
pub(super) const FIRST_IMAGE_BYTES: usize = 640 * 480 * 3;

/// Image sizes whose plans a worker keeps (photo collections have a few common sizes).
const PLAN_SIZES: usize = 16;

/// Bytes of a buffer kept past its last image: the horizontal pass reads up to a few pixels
/// past a box's end (three bytes per tap; a thousand taps for a 65,535-pixel-wide image).
const TAIL_BYTES: usize = 16 << 10;

/// Where a decoded image's pixels are.
enum Place {
    /// In the batch's buffer, from this byte.
    Buffer(usize),
    /// In a buffer of its own (the batch's buffer had no room left).
    Apart(Vec<u8>),
}

/// An image of a batch, decoded, with the plans of its crops.
pub(super) struct Decoded {
    width: u32,
    height: u32,
    place: Place,
    plans: Arc<[CropPlan]>,
}

/// A batch's byte buffer and the bytes of it handed out so far.
pub(super) struct Room {
    buffer: Tensor,
    used: usize,
}

impl Room {
    /// A buffer for `images` images of `per_image` bytes (the pool's, when one large enough
    /// has come back).
    pub(super) fn new(buffers: &Buffers, images: usize, per_image: usize) -> Result<Room> {
        Ok(Room { buffer: buffers.take_bytes(images * per_image + TAIL_BYTES)?, used: 0 })
    }

    /// The buffer, given back.
    pub(super) fn into_buffer(self) -> Tensor {
        self.buffer
    }

    /// The next `len` bytes, as their offset and a view of them, or `None` when they do not fit.
    pub(super) fn reserve(&mut self, len: usize) -> Result<Option<(usize, Tensor)>> {
        let offset = self.used;
        if offset + len + TAIL_BYTES > self.buffer.numel() {
            return Ok(None);
        }
        self.used += len;
        Ok(Some((offset, self.buffer.f_narrow(0, offset as i64, len as i64)?)))
    }
}

/// What a decoding worker keeps from image to image: the file's bytes' buffer and the plans
/// of the sizes seen last.
#[derive(Default)]
pub(super) struct WorkerMemory {
    pub(super) bytes: Vec<u8>,
    plans: HashMap<(u32, u32), Arc<[CropPlan]>>,
}

impl WorkerMemory {
    /// The plans of the crops of a `width x height` image.
    fn plans(
        &mut self,
        pre: &ClipPreprocess,
        inputs: Inputs,
        width: u32,
        height: u32,
    ) -> crops::Result<Arc<[CropPlan]>> {
        if let Some(p) = self.plans.get(&(width, height)) {
            return Ok(Arc::clone(p));
        }
        let p: Arc<[CropPlan]> = inputs.plans(pre, width, height)?.into();
        if self.plans.len() >= PLAN_SIZES {
            self.plans.clear();
        }
        self.plans.insert((width, height), Arc::clone(&p));
        Ok(p)
    }
}

/// Decodes the image whose bytes are in `memory` (`path` names it) into the room `reserve`
/// gives (`reserve(len)`: an offset and a view of `len` bytes of the batch's buffer, or `None`),
/// else apart. The outer error is the stage's (fatal), the inner one the image's.
pub(super) fn decode_image(
    path: &Path,
    memory: &mut WorkerMemory,
    pre: &ClipPreprocess,
    inputs: Inputs,
    times: Option<&Arc<StepTimes>>,
    reserve: impl FnOnce(usize) -> Result<Option<(usize, Tensor)>>,
) -> Result<crops::Result<Decoded>> {
    let decoded = timed(times, Step::Decode, || -> Result<crops::Result<_>> {
        let opened = match crops::open_bytes(path, &memory.bytes) {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        let (width, height) = (opened.width(), opened.height());
        let place = match reserve(opened.len())? {
            Some((offset, mut view)) => {
                match host_rows::with_elements_mut::<u8, _>(&mut view, |out| {
                    opened.decode_into(out)
                })? {
                    Ok(()) => Place::Buffer(offset),
                    Err(e) => return Ok(Err(e)),
                }
            }
            None => match opened.into_image() {
                Ok(img) => Place::Apart(img.data),
                Err(e) => return Ok(Err(e)),
            },
        };
        Ok(Ok((width, height, place)))
    })?;
    let (width, height, place) = match decoded {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let plans = timed(times, Step::Plans, || memory.plans(pre, inputs, width, height));
    Ok(plans.map(|plans| Decoded { width, height, place, plans }))
}

/// A packed batch: the buffer, the bytes of it the device reads, and the crops' tables.
pub(super) struct Packed {
    pub(super) buffer: Tensor,
    pub(super) pixels: Tensor,
    pub(super) crops: DeviceCrops,
}

/// Packs a batch's decoded images (in the batch's order): their places and the crops' tables,
/// and, when some were decoded apart or the tables ask for more bytes than the buffer holds,
/// everything moved into a larger buffer (the smaller one goes back to the pool). Raises
/// `per_image`, the bytes per image later batches are sized for, to this batch's mean.
pub(super) fn packed(
    decoded: &[Decoded],
    room: Room,
    buffers: &Buffers,
    per_image: &mut usize,
    times: Option<&Arc<StepTimes>>,
) -> Result<Packed> {
    let mut end = room.used;
    let mut plans = Vec::with_capacity(decoded.len());
    let mut bytes = 0;
    for d in decoded {
        let offset = match &d.place {
            Place::Buffer(o) => *o,
            Place::Apart(data) => {
                end += data.len();
                end - data.len()
            }
        };
        bytes += d.width as usize * d.height as usize * 3;
        plans.push((Placement { offset, width: d.width, height: d.height }, &*d.plans));
    }
    *per_image = (*per_image).max(bytes.div_ceil(decoded.len().max(1)));
    let crops = timed(times, Step::Tables, || DeviceCrops::new(&plans))?;
    let len = crops.bytes_needed();
    let buffer = if end == room.used && len <= room.buffer.numel() {
        room.buffer
    } else {
        timed(times, Step::Packing, || moved(decoded, room, len.max(end), buffers))?
    };
    let pixels = buffer.f_narrow(0, 0, len as i64)?;
    Ok(Packed { buffer, pixels, crops })
}

/// The batch's bytes in a buffer of at least `len` bytes: those already in `room`'s buffer at
/// the same offsets, those decoded apart after them.
fn moved(decoded: &[Decoded], room: Room, len: usize, buffers: &Buffers) -> Result<Tensor> {
    let mut larger = buffers.take_bytes(len)?;
    let mut old = room.buffer;
    host_rows::with_elements_mut::<u8, _>(&mut larger, |out| {
        host_rows::with_elements_mut::<u8, _>(&mut old, |kept| {
            out[..room.used].copy_from_slice(&kept[..room.used]);
        })?;
        let mut at = room.used;
        for d in decoded {
            if let Place::Apart(data) = &d.place {
                out[at..at + data.len()].copy_from_slice(data);
                at += data.len();
            }
        }
        anyhow::Ok(())
    })??;
    buffers.give_back(old);
    Ok(larger)
}
