//! CLIP preprocessing as transformers 4.17's `CLIPFeatureExtractor` does it on a Pillow image:
//! shorter side to `size` with Pillow's bicubic (skipped when already `size`), CLIP's centre
//! crop, `u8 / 255` in f32, `(x - mean) / std` in f32, CHW. HAAV's transform (OpenAI `clip`'s
//! torchvision pipeline) differs only in the centre crop's rounding ([`CenterCrop`]).

use std::cell::RefCell;

use half::f16;
use half::slice::HalfFloatSliceExt;
use wide::f32x8;

use crate::engine::{self, Rgb8, Scratch, Sink, Src};
use crate::{CropBox, Error, INPUTS_PER_IMAGE, Result, RgbImage, Window, image_boxes};

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` on this thread's buffers (reused from image to image).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// A type the preprocessed values can be written as: `f32`, `half::f16` for a half-precision
/// model (the f32 value rounded to nearest even, as `half` converts it), or `u8`: the 8-bit
/// level of each value before CLIP's normalisation, for normalising elsewhere (on the model's
/// device) with [`ClipPreprocess::levels`], which gives the f32 path's values exactly.
pub trait Element: Copy + Default + Send + Sync + 'static + sealed::Sealed {
    /// Whether this type takes the levels (`v` in 0..=255) rather than the normalised values.
    #[doc(hidden)]
    const LEVELS: bool = false;

    /// Writes the values of `row` (runs of 8) into `dst`, converted, through `staged` if the
    /// conversion needs it.
    #[doc(hidden)]
    fn write(dst: &mut [Self], row: impl Iterator<Item = f32x8>, staged: &mut Vec<f32>);
}

impl Element for u8 {
    const LEVELS: bool = true;

    fn write(dst: &mut [Self], row: impl Iterator<Item = f32x8>, staged: &mut Vec<f32>) {
        // Each value is an integer in 0..=255 (the resize's clipped output). Staged as i32 bit
        // patterns and narrowed as one slice, which compiles to packed shuffles (eight lanes at
        // a time, or a saturating float cast, compiled to a value at a time).
        staged.clear();
        for v in row {
            let ints: f32x8 = wide::bytemuck::cast(v.fast_trunc_int());
            staged.extend_from_slice(ints.as_array());
        }
        for (d, &v) in dst.iter_mut().zip(&staged[..]) {
            *d = v.to_bits() as u8;
        }
    }
}

impl Element for f32 {
    fn write(dst: &mut [Self], row: impl Iterator<Item = f32x8>, _: &mut Vec<f32>) {
        let mut chunks = dst.chunks_exact_mut(8);
        let mut row = row;
        for (d, v) in (&mut chunks).zip(&mut row) {
            d.copy_from_slice(v.as_array());
        }
        let tail = chunks.into_remainder();
        if let Some(v) = row.next() {
            tail.copy_from_slice(&v.as_array()[..tail.len()]);
        }
    }
}

impl Element for f16 {
    fn write(dst: &mut [Self], row: impl Iterator<Item = f32x8>, staged: &mut Vec<f32>) {
        staged.clear();
        for v in row {
            staged.extend_from_slice(v.as_array());
        }
        dst.convert_from_f32_slice(&staged[..dst.len()]);
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for u8 {}
}

/// CLIP's `(v / 255 - mean) / std` in f32 of 8-bit values `v`, eight at a time, with the bits of
/// those two divisions. Where fused multiply-adds are available, each division is a
/// reciprocal multiply corrected by its exact residual (no divide instruction); that form is
/// used only when it was checked at construction to give the dividing form's bits for all 256
/// values of every channel.
#[derive(Clone, Copy, Debug)]
struct Normalise {
    mean: [f32; 3],
    std: [f32; 3],
    inv_std: [f32; 3],
    fast: bool,
}

impl Normalise {
    fn new(mean: [f32; 3], std: [f32; 3]) -> Self {
        let mut n = Self { mean, std, inv_std: std.map(|s| 1.0 / s), fast: true };
        n.fast = (0..3).all(|c| {
            (0..32).all(|i| {
                let v = f32x8::from(std::array::from_fn::<f32, 8, _>(|j| (i * 8 + j) as f32));
                let want = v.to_array().map(|v| (v / 255.0 - mean[c]) / std[c]);
                n.apply(c, v).to_array().map(f32::to_bits) == want.map(f32::to_bits)
            })
        });
        n
    }

    #[inline(always)]
    fn apply(&self, c: usize, v: f32x8) -> f32x8 {
        let (mean, std) = (f32x8::splat(self.mean[c]), f32x8::splat(self.std[c]));
        if !self.fast {
            return (v / f32x8::splat(255.0) - mean) / std;
        }
        // q + (a - q * b) / b, the residual exact in one fused multiply-add.
        let div = |a: f32x8, b: f32x8, inv_b: f32x8| {
            let q = a * inv_b;
            let r = (-q).mul_add(b, a);
            r.mul_add(inv_b, q)
        };
        let x = div(v, f32x8::splat(255.0), f32x8::splat(1.0 / 255.0)) - mean;
        div(x, std, f32x8::splat(self.inv_std[c]))
    }
}

/// Writes each output byte's normalised value into CHW planes of `size x size`.
struct Planes<'a, T> {
    out: &'a mut [T],
    size: usize,
    norm: Normalise,
    /// One row's values before conversion to `T`.
    staged: Vec<f32>,
}

impl<T: Element> Sink for Planes<'_, T> {
    fn row(&mut self, c: usize, y: usize, row: &[f32x8]) {
        let at = (c * self.size + y) * self.size;
        let dst = &mut self.out[at..at + self.size];
        if T::LEVELS {
            T::write(dst, row.iter().copied(), &mut self.staged);
        } else {
            let norm = self.norm;
            T::write(dst, row.iter().map(|v| norm.apply(c, *v)), &mut self.staged);
        }
    }
}

/// CLIP's preprocessing parameters (`preprocessor_config.json` of a checkpoint).
#[derive(Clone, Debug, PartialEq)]
pub struct ClipPreprocess {
    /// Output side (224 for ViT-B/32).
    pub size: u32,
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
    /// How the centre crop's offsets round.
    pub crop: CenterCrop,
}

/// The rounding of the centre crop's offsets after the resize, where the resized side exceeds
/// `size` by an odd number of pixels `d`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CenterCrop {
    /// transformers 4.17's `CLIPFeatureExtractor` (the original pipeline): `(d + 1) // 2`.
    #[default]
    Clip,
    /// torchvision's `CenterCrop` (OpenAI `clip.load`'s transform, HAAV's):
    /// `int(round(d / 2.0))`, Python's round half to even: `d = 73` gives 36 where
    /// [`CenterCrop::Clip`] gives 37.
    Torchvision,
}

impl CenterCrop {
    /// The offset of a `size` window in a side of `size + d`.
    pub const fn offset(self, d: usize) -> usize {
        match self {
            CenterCrop::Clip => d.div_ceil(2),
            // d / 2 = m + 0.5 for odd d: to the even one of m and m + 1.
            CenterCrop::Torchvision => {
                let m = d / 2;
                if d % 2 == 1 && m % 2 == 1 { m + 1 } else { m }
            }
        }
    }
}

/// CLIP's per-channel mean, as openai/clip-vit-base-patch32's `preprocessor_config.json` writes it.
#[allow(clippy::excessive_precision)] // the checkpoint's values, verbatim
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel standard deviation, as the checkpoint writes it.
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

impl Default for ClipPreprocess {
    /// openai/clip-vit-base-patch32's `preprocessor_config.json`.
    fn default() -> Self {
        Self { size: 224, mean: CLIP_MEAN, std: CLIP_STD, crop: CenterCrop::Clip }
    }
}

impl ClipPreprocess {
    /// Values per preprocessed crop: `3 * size * size`.
    pub fn len(&self) -> usize {
        3 * self.size as usize * self.size as usize
    }

    /// The normalised value of each 8-bit level of each channel: `levels()[c][v]` has the bits
    /// that the f32 output holds wherever channel `c`'s resized pixel is `v`. So the `u8`
    /// output looked up in this table equals the f32 output, and in the table converted to f16
    /// (`half`'s rounding) the f16 output: the lookup can run on the model's device, after a
    /// copy of a quarter (or half) of the bytes.
    pub fn levels(&self) -> [[f32; 256]; 3] {
        let norm = Normalise::new(self.mean, self.std);
        std::array::from_fn(|c| {
            let mut t = [0f32; 256];
            for (i, run) in t.chunks_exact_mut(8).enumerate() {
                let v = f32x8::from(std::array::from_fn::<f32, 8, _>(|j| (i * 8 + j) as f32));
                run.copy_from_slice(norm.apply(c, v).as_array());
            }
            t
        })
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// CLIP's resize (shorter side to `size`) and centre crop of the `b` box of `img`, as the
    /// engine's source, resized size and window.
    fn geometry<'a>(
        &self,
        img: &'a RgbImage,
        b: CropBox,
    ) -> Result<(Src<'a>, usize, usize, Window)> {
        let (rw, rh, window) = self.sizes(img.width, img.height, b)?;
        let (w, h) = (b.width() as usize, b.height() as usize);
        let (data, stride) = (&img.data[..], img.width as usize * 3);
        let src = Src { data, stride, x: b.left as usize, y: b.top as usize, w, h };
        Ok((src, rw, rh, window))
    }

    /// The resized size of the `b` box of a `width x height` image and the centre crop's
    /// window in it.
    pub(crate) fn sizes(
        &self,
        width: u32,
        height: u32,
        b: CropBox,
    ) -> Result<(usize, usize, Window)> {
        if b.width() == 0 || b.height() == 0 || b.right > width || b.bottom > height {
            return Err(Error::EmptyCrop { crop: b.to_array(), width, height });
        }
        let s = self.size as usize;
        let (w, h) = (b.width() as usize, b.height() as usize);
        let (short, long) = if w <= h { (w, h) } else { (h, w) };
        let (rw, rh) = if short == s {
            (w, h)
        } else {
            let new_long = s * long / short;
            if w <= h { (s, new_long) } else { (new_long, s) }
        };
        let (top, left) = (self.crop.offset(rh - s), self.crop.offset(rw - s));
        Ok((rw, rh, Window { x: left, y: top, w: s, h: s }))
    }

    /// The resized, centre-cropped u8 image (before normalisation), `size x size` RGB (zeros
    /// for an empty image).
    pub fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let s = self.size as usize;
        self.crop_resize_and_crop(img, crate::whole(img.width, img.height)).unwrap_or_else(|_| {
            RgbImage { width: self.size, height: self.size, data: vec![0; s * s * 3] }
        })
    }

    /// [`resize_and_crop`](Self::resize_and_crop) of the `b` box of `img` (Pillow's
    /// `img.crop(b)` first), read in place.
    pub fn crop_resize_and_crop(&self, img: &RgbImage, b: CropBox) -> Result<RgbImage> {
        let s = self.size as usize;
        let mut data = vec![0u8; s * s * 3];
        let (src, rw, rh, window) = self.geometry(img, b)?;
        let mut sink = Rgb8 { out: &mut data, width: s };
        with_scratch(|sc| engine::resize(src, rw, rh, window, sc, &mut sink));
        Ok(RgbImage { width: self.size, height: self.size, data })
    }

    /// Preprocesses the whole of `img` into `out` (`len()` values, CHW; left as it is for an
    /// empty image).
    pub fn pixels_into<T: Element>(&self, img: &RgbImage, out: &mut [T]) {
        let _ = self.crop_pixels_into(img, crate::whole(img.width, img.height), out);
    }

    /// Preprocesses the `b` box of `img` (read in place) into `out` (`len()` values, CHW).
    pub fn crop_pixels_into<T: Element>(
        &self,
        img: &RgbImage,
        b: CropBox,
        out: &mut [T],
    ) -> Result<()> {
        assert_eq!(out.len(), self.len(), "output of 3 x {0} x {0}", self.size);
        let g = self.geometry(img, b)?;
        let mut sink = self.planes(out);
        with_scratch(|sc| Self::crop_into(g, sc, &mut sink));
        Ok(())
    }

    fn planes<'a, T: Element>(&self, out: &'a mut [T]) -> Planes<'a, T> {
        let size = self.size as usize;
        let norm = Normalise::new(self.mean, self.std);
        Planes { out, size, norm, staged: Vec::with_capacity(size.next_multiple_of(8)) }
    }

    fn crop_into<T: Element>(
        (src, rw, rh, window): (Src<'_>, usize, usize, Window),
        sc: &mut Scratch,
        sink: &mut Planes<'_, T>,
    ) {
        engine::resize(src, rw, rh, window, sc, sink);
    }

    /// The [`INPUTS_PER_IMAGE`] inputs of one image (the [`View`](crate::View)s in
    /// [`VIEWS`](crate::VIEWS) order: whole, five crops, nine crops), back to back in one NCHW
    /// buffer of `INPUTS_PER_IMAGE * len()` values.
    pub fn image_crops(&self, img: &RgbImage) -> Result<Vec<f32>> {
        let mut out = vec![0f32; INPUTS_PER_IMAGE * self.len()];
        self.image_crops_into(img, &mut out)?;
        Ok(out)
    }

    /// [`image_crops`](Self::image_crops) into `out` (`INPUTS_PER_IMAGE * len()` values, each
    /// view's inputs at its [`View::rows`](crate::View::rows)), as f32, f16 or levels (`u8`, see
    /// [`levels`](Self::levels)): each crop is resized straight from the decoded image into its
    /// rows, in per-thread buffers reused from image to image. An image too small for its crops
    /// (under 3 pixels a side) is an error, with `out` partly written.
    pub fn image_crops_into<T: Element>(&self, img: &RgbImage, out: &mut [T]) -> Result<()> {
        let n = self.len();
        assert_eq!(out.len(), INPUTS_PER_IMAGE * n, "output of {INPUTS_PER_IMAGE} x {n}");
        let boxes = image_boxes(img.width, img.height);
        let norm = Normalise::new(self.mean, self.std);
        let mut staged = Vec::with_capacity(n);
        with_scratch(|sc| {
            for (b, out) in boxes.iter().zip(out.chunks_exact_mut(n.max(1))) {
                let g = self.geometry(img, *b)?;
                let size = self.size as usize;
                let mut sink = Planes { out, size, norm, staged: std::mem::take(&mut staged) };
                Self::crop_into(g, sc, &mut sink);
                staged = sink.staged;
            }
            Ok(())
        })
    }

    /// Decodes and preprocesses files in parallel on the current rayon pool: for each, the
    /// inputs of [`image_crops`](Self::image_crops), or the error naming the file.
    pub fn files(&self, paths: &[std::path::PathBuf]) -> Vec<Result<Vec<f32>>> {
        use rayon::prelude::*;
        paths.par_iter().map(|p| self.image_crops(&crate::decode(p)?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image whose levels cover 0..=255 in every channel, with edges the resize rounds.
    fn photo(w: u32, h: u32) -> RgbImage {
        let data = (0..w * h * 3).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        RgbImage { width: w, height: h, data }
    }

    #[test]
    fn levels_looked_up_in_the_table_give_the_f32_and_f16_outputs() {
        for (pre, img) in [
            (ClipPreprocess::default(), photo(64, 48)),
            (ClipPreprocess { size: 17, ..ClipPreprocess::default() }, photo(31, 77)),
            (
                ClipPreprocess {
                    size: 9,
                    mean: [0.5, 0.25, 0.1],
                    std: [0.3, 0.7, 0.11],
                    crop: CenterCrop::Torchvision,
                },
                photo(40, 30),
            ),
        ] {
            let n = INPUTS_PER_IMAGE * pre.len();
            let (mut levels, mut f32s, mut f16s) =
                (vec![0u8; n], vec![0f32; n], vec![f16::ZERO; n]);
            pre.image_crops_into(&img, &mut levels).unwrap();
            pre.image_crops_into(&img, &mut f32s).unwrap();
            pre.image_crops_into(&img, &mut f16s).unwrap();
            let table = pre.levels();
            let plane = (pre.size * pre.size) as usize;
            let looked_up: Vec<f32> = levels
                .iter()
                .enumerate()
                .map(|(i, &v)| table[i / plane % 3][usize::from(v)])
                .collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&looked_up), bits(&f32s), "size {}", pre.size);
            let halves: Vec<f16> = looked_up.iter().map(|&v| f16::from_f32(v)).collect();
            assert!(halves == f16s, "size {}: f16 differs", pre.size);
            // The levels used span the range (the test would pass trivially on a flat image).
            let distinct = levels.iter().collect::<std::collections::HashSet<_>>().len();
            assert!(distinct > 200, "only {distinct} levels");
        }
    }

    #[test]
    fn the_table_holds_the_dividing_forms_bits() {
        let pre = ClipPreprocess::default();
        for (c, row) in pre.levels().iter().enumerate() {
            for (v, &got) in row.iter().enumerate() {
                let want = (v as f32 / 255.0 - pre.mean[c]) / pre.std[c];
                assert_eq!(got.to_bits(), want.to_bits(), "channel {c}, level {v}");
            }
        }
    }
}
