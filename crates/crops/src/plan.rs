//! The integers of one crop's CLIP preprocessing, for running Pillow's two resize passes
//! elsewhere (on the model's device, with tensor operations): the crop's resized size and
//! centre-crop window, and per axis the first input and the fixed-point weights of each output
//! pixel of the window. A pass is then, per output value, `clip8((2^21 + sum of weight times
//! input) >> 22)` in 32-bit integers, which gives the same level in any order of the sum.

use crate::coeffs::{BIAS, PRECISION_BITS, cached};
use crate::{ClipPreprocess, CropBox, Result, Window};

/// Fractional bits of the resize's fixed-point weights (Pillow's `PRECISION_BITS`).
pub const RESIZE_SHIFT: u32 = PRECISION_BITS;

/// The rounding bias added to every sum before the shift: `1 << (RESIZE_SHIFT - 1)`.
pub const RESIZE_BIAS: i32 = BIAS;

/// One axis of a resize restricted to a window of its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisTaps {
    /// Per output pixel of the window, the first input pixel it reads.
    pub first: Vec<u32>,
    /// Weights stored per output pixel: the largest number of inputs one reads.
    pub taps: usize,
    /// `taps` weights per output pixel (Pillow's integers), zero past the pixel's inputs.
    pub weights: Vec<i32>,
}

impl AxisTaps {
    /// Pillow's weights of the resize of an axis of `in_size` pixels to `out_size`, for the
    /// output pixels `start..start + len`. An axis whose size does not change reads each
    /// input with a weight of `1 << RESIZE_SHIFT` (Pillow skips that pass; the levels are the
    /// same).
    pub fn new(in_size: usize, out_size: usize, start: usize, len: usize) -> Self {
        assert!(start + len <= out_size, "window {start}+{len} outside {out_size} pixels");
        let c = cached(in_size, out_size);
        let taps = (start..start + len).map(|i| c.bounds[i].1).max().unwrap_or(0).max(1);
        let mut first = Vec::with_capacity(len);
        let mut weights = vec![0i32; len * taps];
        for (i, row) in (start..start + len).zip(weights.chunks_exact_mut(taps)) {
            let (f, k, _) = c.taps(i);
            first.push(f as u32);
            row[..k.len()].copy_from_slice(k);
        }
        Self { first, taps, weights }
    }

    /// Input pixels the window reads, from the first output pixel's first input: the last
    /// one read is at most this many past it.
    pub fn span(&self) -> usize {
        match (self.first.first(), self.first.last()) {
            (Some(&a), Some(&b)) => (b - a) as usize + self.taps,
            _ => 0,
        }
    }
}

/// One crop's CLIP preprocessing as integers: the resize of the crop's box to `resized`, then
/// the `size x size` window of the centre crop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CropPlan {
    /// The box of the image that is resized.
    pub crop: CropBox,
    /// The resized size, width and height.
    pub resized: (usize, usize),
    /// The centre crop in the resized image.
    pub window: Window,
    /// The horizontal pass over the window's columns (inputs counted from the box's left).
    pub x: AxisTaps,
    /// The vertical pass over the window's rows (inputs counted from the box's top).
    pub y: AxisTaps,
}

impl ClipPreprocess {
    /// The integers of the preprocessing of the `b` box of a `width x height` image (what
    /// [`crop_pixels_into`](Self::crop_pixels_into) computes, as tables); an empty box or one
    /// outside the image is [`Error::EmptyCrop`](crate::Error::EmptyCrop).
    pub fn crop_plan(&self, width: u32, height: u32, b: CropBox) -> Result<CropPlan> {
        let (rw, rh, window) = self.sizes(width, height, b)?;
        let x = AxisTaps::new(b.width() as usize, rw, window.x, window.w);
        let y = AxisTaps::new(b.height() as usize, rh, window.y, window.h);
        Ok(CropPlan { crop: b, resized: (rw, rh), window, x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CenterCrop, RgbImage};

    /// The two passes from the tables, written plainly: the same bytes as the engine.
    fn run(plan: &CropPlan, img: &RgbImage) -> Vec<u8> {
        let clip = |v: i32| (v >> RESIZE_SHIFT).clamp(0, 255);
        let (b, s) = (plan.crop, plan.window.w);
        let at = |y: usize, x: usize, c: usize| {
            let (y, x) = (b.top as usize + y, b.left as usize + x);
            i32::from(img.data[(y * img.width as usize + x) * 3 + c])
        };
        let mut out = vec![0u8; s * s * 3];
        for yy in 0..s {
            for xx in 0..s {
                for c in 0..3 {
                    let mut sum = RESIZE_BIAS;
                    for j in 0..plan.y.taps {
                        let wy = plan.y.weights[yy * plan.y.taps + j];
                        if wy == 0 {
                            continue;
                        }
                        let row = plan.y.first[yy] as usize + j;
                        let mut mid = RESIZE_BIAS;
                        for k in 0..plan.x.taps {
                            let wx = plan.x.weights[xx * plan.x.taps + k];
                            if wx != 0 {
                                mid += at(row, plan.x.first[xx] as usize + k, c) * wx;
                            }
                        }
                        sum += clip(mid) * wy;
                    }
                    out[(yy * s + xx) * 3 + c] = clip(sum) as u8;
                }
            }
        }
        out
    }

    #[test]
    fn the_tables_give_the_engines_levels() {
        let (w, h) = (61u32, 43u32);
        let data = (0..w * h * 3).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let img = RgbImage { width: w, height: h, data };
        for crop in [CenterCrop::Clip, CenterCrop::Torchvision] {
            for (size, b) in [
                (16, crate::whole(w, h)),
                (24, CropBox { left: 3, top: 5, right: 40, bottom: 30 }),
                (50, CropBox { left: 10, top: 0, right: 20, bottom: 43 }),
                (9, CropBox { left: 0, top: 7, right: 61, bottom: 16 }),
            ] {
                let pre = ClipPreprocess { size, crop, ..ClipPreprocess::default() };
                let plan = pre.crop_plan(w, h, b).unwrap();
                let want = pre.crop_resize_and_crop(&img, b).unwrap().data;
                assert_eq!(run(&plan, &img), want, "{crop:?}, size {size}, {b:?}");
                assert!(plan.x.span() <= b.width() as usize + plan.x.taps);
            }
        }
        let pre = ClipPreprocess::default();
        assert!(pre.crop_plan(w, h, CropBox { left: 5, top: 0, right: 5, bottom: 3 }).is_err());
    }
}
