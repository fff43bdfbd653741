//! CLIP's crops resized on the model's device: decoded 8-bit RGB images, packed back to back in
//! one byte buffer, are resized and centre-cropped there with libtorch's integer tensor
//! operations, in Pillow's arithmetic (crops' [`CropPlan`] tables: fixed-point weights, 32-bit
//! sums, the rounding shift, the clamp to 0..=255), so every level equals crops' (and Pillow's)
//! whatever order the device sums in. The levels are then normalised as any levels are
//! ([`ClipEncoder::encode_image_tensor`](crate::ClipEncoder::encode_image_tensor)).
//!
//! The crops of a batch are put in groups of similar height (rows read), each group computed by
//! a few batched operations per weight: the horizontal pass gathers, for each tap, one byte per
//! output value (`take` at the rows' offsets plus the output columns' first inputs) and adds it
//! times its weight; the vertical pass selects, for each tap, one row of the horizontal pass's
//! output per output row. Weight tables are sent once per distinct (input size, output size,
//! window) in a batch.

use std::collections::HashMap;

use crops::{AxisTaps, CropPlan, RESIZE_BIAS, RESIZE_SHIFT, RgbImage};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Where an image lies in a buffer of packed RGB8 images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The image's first byte.
    pub offset: usize,
    /// Width in pixels (rows are `3 * width` bytes).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Packs `images` back to back into one buffer (with the room [`DeviceCrops::bytes_needed`]
/// asks past the last one when `len` is larger), returning it and each image's place.
pub fn pack_images(images: &[&RgbImage], len: usize) -> (Vec<u8>, Vec<Placement>) {
    let total: usize = images.iter().map(|i| i.data.len()).sum();
    let mut data = Vec::with_capacity(total.max(len));
    let mut places = Vec::with_capacity(images.len());
    for img in images {
        places.push(Placement { offset: data.len(), width: img.width, height: img.height });
        data.extend_from_slice(&img.data);
    }
    data.resize(total.max(len), 0);
    (data, places)
}

/// The elements (rows x output values x taps) of one group's largest temporary; a group is
/// closed at this size so that a batch of large photos does not ask the device for gigabytes.
const GROUP_ELEMENTS: usize = 1 << 25;

/// A group closes when a crop reads fewer rows than this fraction of its first crop's rows
/// (crops sorted by rows read), bounding the rows computed for nothing by the padding.
const GROUP_SPREAD: f64 = 0.8;

/// Costs of a batch's crops on the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CropCost {
    /// Bytes of tables sent with the images (weights, first inputs, per-crop parameters).
    pub table_bytes: usize,
    /// 32-bit multiply-adds of the two passes, padding included.
    pub multiply_adds: usize,
    /// Bytes of the output levels (`crops x 3 x size x size`).
    pub output_bytes: usize,
}

/// Crops of similar height, computed together.
#[derive(Debug)]
struct Group {
    /// `(N,)` int64: each crop's row among the batch's crops.
    out_rows: Tensor,
    /// `(N, 4)` int64: the byte of the box's top-left, the image's row stride in bytes, the
    /// first box row read, the box's last row.
    params: Tensor,
    /// Rows of the horizontal pass (the largest number a crop reads).
    rows: i64,
    x: Tables,
    y: Tables,
}

/// One axis's tables of a group: distinct tables, and which one each crop uses.
#[derive(Debug)]
struct Tables {
    /// `(T, size)` int64: per output pixel its first input (horizontal: as a byte offset from
    /// the box's left; vertical: as a row of the horizontal pass's output).
    first: Tensor,
    /// `(T, size, taps)` int32 weights.
    weights: Tensor,
    /// `(N,)` int64: each crop's table.
    of: Tensor,
    taps: i64,
}

/// The crops of a batch of packed images, planned on the host: see the module's description.
#[derive(Debug)]
pub struct DeviceCrops {
    groups: Vec<Group>,
    crops: i64,
    size: i64,
    bytes_needed: usize,
    cost: CropCost,
}

impl DeviceCrops {
    /// Plans the crops `images` lists (each image's place in the buffer and its crops' plans,
    /// all of one size), in that order: image by image, crop by crop. The images may lie in the
    /// buffer in any order.
    pub fn new<P: AsRef<[CropPlan]>>(images: &[(Placement, P)]) -> Result<Self> {
        let crops: Vec<(&Placement, &CropPlan)> =
            images.iter().flat_map(|(p, c)| c.as_ref().iter().map(move |c| (p, c))).collect();
        let size = crops.first().map_or(0, |(_, c)| c.window.w);
        for (p, c) in &crops {
            let b = c.crop;
            if c.window.w != size
                || c.window.h != size
                || b.right > p.width
                || b.bottom > p.height
                || b.right <= b.left
                || b.bottom <= b.top
            {
                return Err(Error::Input(format!(
                    "crop {:?} (window {:?}) of a {}x{} image in a batch of {size}-pixel crops",
                    b.to_array(),
                    c.window,
                    p.width,
                    p.height
                )));
            }
        }
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(crops[i].1.y.span()));
        let mut groups = Vec::new();
        let (mut cost, mut bytes_needed) = (CropCost::default(), 0);
        let mut start = 0;
        while start < order.len() {
            let top = crops[order[start]].1.y.span();
            let mut end = start + 1;
            while end < order.len()
                && (crops[order[end]].1.y.span() as f64) >= GROUP_SPREAD * top as f64
                && (end - start + 1) * top * size * 3 <= GROUP_ELEMENTS
            {
                end += 1;
            }
            let members: Vec<(usize, &Placement, &CropPlan)> =
                order[start..end].iter().map(|&i| (i, crops[i].0, crops[i].1)).collect();
            let g = Group::new(&members, size, &mut cost, &mut bytes_needed)?;
            groups.push(g);
            start = end;
        }
        cost.output_bytes = crops.len() * 3 * size * size;
        Ok(Self { groups, crops: crops.len() as i64, size: size as i64, bytes_needed, cost })
    }

    /// The least length of the image buffer: past the last image's bytes, the horizontal pass
    /// reads (with a weight of zero) up to a few pixels more.
    pub fn bytes_needed(&self) -> usize {
        self.bytes_needed
    }

    /// Crops planned.
    pub fn len(&self) -> usize {
        self.crops as usize
    }

    /// Whether no crop is planned.
    pub fn is_empty(&self) -> bool {
        self.crops == 0
    }

    /// What the batch costs the device.
    pub fn cost(&self) -> CropCost {
        self.cost
    }

    /// The crops' levels, `(crops, 3, size, size)` uint8 on `data`'s device, from `data`, the
    /// image buffer (one-dimensional uint8, at least [`bytes_needed`](Self::bytes_needed)
    /// long, on the device that is to compute: the tables are moved there).
    pub fn levels(&self, data: &Tensor) -> Result<Tensor> {
        let n = data.size();
        if data.kind() != Kind::Uint8 || n.len() != 1 || (n[0] as usize) < self.bytes_needed {
            return Err(Error::Input(format!(
                "an image buffer of kind {:?} and shape {n:?}, expected uint8 of at least {} bytes",
                data.kind(),
                self.bytes_needed
            )));
        }
        let device = data.device();
        let run = || -> Result<Tensor, tch::TchError> {
            let s = self.size;
            let mut out = Tensor::f_empty([self.crops, 3, s, s], (Kind::Uint8, device))?;
            for g in &self.groups {
                let levels = g.run(data, s, device)?;
                let rows = g.out_rows.f_to_device(device)?;
                let _ = out.f_index_copy_(0, &rows, &levels)?;
            }
            Ok(out)
        };
        run().map_err(|e| Error::forward("crops", self.crops, device, e))
    }
}

impl Group {
    fn new(
        members: &[(usize, &Placement, &CropPlan)],
        size: usize,
        cost: &mut CropCost,
        bytes_needed: &mut usize,
    ) -> Result<Self, tch::TchError> {
        let rows = members.iter().map(|(_, _, c)| c.y.span()).max().unwrap_or(1).max(1);
        let mut params = Vec::with_capacity(members.len() * 4);
        let mut out_rows = Vec::with_capacity(members.len());
        let (mut xs, mut ys) = (TableSet::default(), TableSet::default());
        let mut end = 0;
        for &(i, p, c) in members {
            let stride = p.width as usize * 3;
            let b = c.crop;
            let corner = p.offset + b.top as usize * stride + b.left as usize * 3;
            let y0 = c.y.first[0] as usize;
            params.extend([corner, stride, y0, b.height() as usize - 1].map(|v| v as i64));
            out_rows.push(i as i64);
            let x_key = (b.width() as usize, c.resized.0, c.window.x);
            xs.add(x_key, || c.x.first.iter().map(|&f| i64::from(f) * 3).collect(), &c.x);
            let y_key = (b.height() as usize, c.resized.1, c.window.y);
            ys.add(y_key, || c.y.first.iter().map(|&f| i64::from(f) - y0 as i64).collect(), &c.y);
            // The byte after the box's last pixel.
            end = end.max(corner + (b.height() as usize - 1) * stride + b.width() as usize * 3);
        }
        let n = members.len();
        let (x, y) = (xs.finish(size, n)?, ys.finish(size, n)?);
        // Tap k reads 3k bytes past the first input's: up to 3 (taps - 1) past the box's end.
        *bytes_needed = (*bytes_needed).max(end + 3 * x.taps as usize);
        cost.table_bytes += 8 * (params.len() + out_rows.len()) + x.bytes() + y.bytes();
        cost.multiply_adds += n * size * 3 * (rows * x.taps as usize + size * y.taps as usize);
        Ok(Self {
            out_rows: Tensor::f_from_slice(&out_rows)?,
            params: Tensor::f_from_slice(&params)?.f_view([n as i64, 4])?,
            rows: rows as i64,
            x,
            y,
        })
    }

    /// The group's levels, `(N, 3, size, size)` uint8 on `device`.
    fn run(&self, data: &Tensor, s: i64, device: Device) -> Result<Tensor, tch::TchError> {
        let n = self.params.size()[0];
        let r = self.rows;
        let p = self.params.f_to_device(device)?;
        let col = |i: i64| p.f_select(1, i).and_then(|t| t.f_view([n, 1]));
        let (corner, stride, y0, last) = (col(0)?, col(1)?, col(2)?, col(3)?);
        // Byte offset of each row the pass reads (rows past a box's end repeat its last row).
        let ys = Tensor::f_arange(r, (Kind::Int64, device))?.f_view([1, r])?;
        let row_at = corner.f_add(&y0.f_add(&ys)?.f_minimum(&last)?.f_mul(&stride)?)?;
        let (x_first, x_w) = self.x.on(device)?;
        let chans = Tensor::f_arange(3, (Kind::Int64, device))?.f_view([1, 1, 1, 3])?;
        let index =
            row_at.f_view([n, r, 1, 1])?.f_add(&x_first.f_view([n, 1, s, 1])?)?.f_add(&chans)?;
        let len = data.size()[0];
        let mut acc = Tensor::f_full([n, r, s, 3], i64::from(RESIZE_BIAS), (Kind::Int, device))?;
        for k in 0..self.x.taps {
            let bytes = data.f_narrow(0, 3 * k, len - 3 * k)?.f_take(&index)?;
            let w = x_w.f_select(2, k)?.f_view([n, 1, s, 1])?;
            acc = acc.f_add(&bytes.f_to_kind(Kind::Int)?.f_mul(&w)?)?;
        }
        let mid = clip8(acc)?.f_view([n * r, s * 3])?;
        // Vertical: per tap, one row of `mid` per output row.
        let (y_first, y_w) = self.y.on(device)?;
        let base = Tensor::f_arange(n, (Kind::Int64, device))?.f_mul_scalar(r)?.f_view([n, 1])?;
        let mut acc = Tensor::f_full([n, s, s * 3], i64::from(RESIZE_BIAS), (Kind::Int, device))?;
        for j in 0..self.y.taps {
            let at = y_first.f_add_scalar(j)?.f_clamp_max(r - 1)?.f_add(&base)?.f_flatten(0, -1)?;
            let rows = mid.f_index_select(0, &at)?.f_view([n, s, s * 3])?;
            let w = y_w.f_select(2, j)?.f_view([n, s, 1])?;
            acc = acc.f_add(&rows.f_mul(&w)?)?;
        }
        clip8(acc)?.f_to_kind(Kind::Uint8)?.f_view([n, s, s, 3])?.f_permute([0, 3, 1, 2])
    }
}

/// Pillow's `clip8(sum >> 22)` on int32 sums (the bias is in the sums already).
fn clip8(sum: Tensor) -> Result<Tensor, tch::TchError> {
    sum.f_bitwise_right_shift_tensor_scalar(i64::from(RESIZE_SHIFT))?.f_clamp(0, 255)
}

/// Distinct tables of one axis while a group is planned.
#[derive(Default)]
struct TableSet {
    index: HashMap<(usize, usize, usize), i64>,
    tables: Vec<(Vec<i64>, usize, Vec<i32>)>,
    of: Vec<i64>,
    taps: usize,
}

impl TableSet {
    /// The table of `axis` under `key` (its first inputs from `first`, made only when the key
    /// is new: the crops of a batch share a few tables).
    fn add(
        &mut self,
        key: (usize, usize, usize),
        first: impl FnOnce() -> Vec<i64>,
        axis: &AxisTaps,
    ) {
        let next = self.tables.len() as i64;
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.tables.push((first(), axis.taps, axis.weights.clone()));
            self.taps = self.taps.max(axis.taps);
        }
        self.of.push(i);
    }

    fn finish(self, size: usize, n: usize) -> Result<Tables, tch::TchError> {
        let t = self.tables.len() as i64;
        let taps = self.taps.max(1);
        let mut first = Vec::with_capacity(self.tables.len() * size);
        let mut weights = vec![0i32; self.tables.len() * size * taps];
        for (ti, (f, k, w)) in self.tables.iter().enumerate() {
            first.extend_from_slice(f);
            for (px, row) in w.chunks_exact(*k).enumerate() {
                let at = (ti * size + px) * taps;
                weights[at..at + k].copy_from_slice(row);
            }
        }
        debug_assert_eq!(self.of.len(), n);
        let s = size as i64;
        Ok(Tables {
            first: Tensor::f_from_slice(&first)?.f_view([t, s])?,
            weights: Tensor::f_from_slice(&weights)?.f_view([t, s, taps as i64])?,
            of: Tensor::f_from_slice(&self.of)?,
            taps: taps as i64,
        })
    }
}

impl Tables {
    /// Each crop's first inputs `(N, size)` and weights `(N, size, taps)`, on `device`.
    fn on(&self, device: Device) -> Result<(Tensor, Tensor), tch::TchError> {
        let of = self.of.f_to_device(device)?;
        let first = self.first.f_to_device(device)?.f_index_select(0, &of)?;
        let weights = self.weights.f_to_device(device)?.f_index_select(0, &of)?;
        Ok((first, weights))
    }

    fn bytes(&self) -> usize {
        8 * (self.first.numel() + self.of.numel()) + 4 * self.weights.numel()
    }
}
