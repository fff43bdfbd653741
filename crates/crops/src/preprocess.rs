//! CLIP preprocessing as transformers 4.17's `CLIPFeatureExtractor` does it on a Pillow image:
//! shorter side to `size` with Pillow's bicubic (skipped when already `size`), CLIP's centre
//! crop, `u8 / 255` in f32, `(x - mean) / std` in f32, CHW.

use std::cell::RefCell;

use crate::{
    INPUTS_PER_IMAGE, ResizeScratch, Result, RgbImage, VIEWS, View, Window,
    resize_bicubic_window_into,
};

/// Per-thread buffers of the preprocessing, reused from crop to crop and image to image.
#[derive(Default)]
struct Scratch {
    resize: ResizeScratch,
    centre: Vec<u8>,
    crop: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
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
        Self { size: 224, mean: CLIP_MEAN, std: CLIP_STD }
    }
}

impl ClipPreprocess {
    /// Values per preprocessed crop: `3 * size * size`.
    pub fn len(&self) -> usize {
        3 * self.size as usize * self.size as usize
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The resized, centre-cropped u8 image (before normalisation), `size x size` RGB.
    pub fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let mut data = Vec::new();
        with_scratch(|sc| {
            self.resize_and_crop_into(&img.data, img.width, img.height, sc, &mut data)
        });
        RgbImage { width: self.size, height: self.size, data }
    }

    /// [`resize_and_crop`](Self::resize_and_crop) of a packed RGB8 buffer into `data`.
    fn resize_and_crop_into(
        &self,
        src: &[u8],
        w: u32,
        h: u32,
        sc: &mut Scratch,
        data: &mut Vec<u8>,
    ) {
        let s = self.size as usize;
        let (w, h) = (w as usize, h as usize);
        let (short, long) = if w <= h { (w, h) } else { (h, w) };
        let (rw, rh) = if short == s {
            (w, h)
        } else {
            let new_long = s * long / short;
            if w <= h { (s, new_long) } else { (new_long, s) }
        };
        // CLIP's rule, not torchvision's rounding: (h - size + 1) // 2.
        let (top, left) = ((rh - s).div_ceil(2), (rw - s).div_ceil(2));
        if short == s {
            data.clear();
            for y in top..top + s {
                let start = (y * rw + left) * 3;
                data.extend_from_slice(&src[start..start + s * 3]);
            }
        } else {
            // Only the centre crop of the resize is computed (the same bytes).
            let window = Window { x: left, y: top, w: s, h: s };
            resize_bicubic_window_into(src, w, h, rw, rh, window, &mut sc.resize, data);
        }
    }

    /// Preprocesses `img` into `out` (`len()` values, CHW).
    pub fn pixels_into(&self, img: &RgbImage, out: &mut [f32]) {
        with_scratch(|sc| self.normalize_into(&img.data, img.width, img.height, sc, out));
    }

    fn normalize_into(&self, src: &[u8], w: u32, h: u32, sc: &mut Scratch, out: &mut [f32]) {
        let mut c = std::mem::take(&mut sc.centre);
        self.resize_and_crop_into(src, w, h, sc, &mut c);
        let plane = self.size as usize * self.size as usize;
        assert_eq!(out.len(), 3 * plane, "output of 3 x {0} x {0}", self.size);
        // (u8 / 255 - mean) / std in f32 has 256 possible values per channel: a table gives
        // the same bits without a division per value.
        let lut: [[f32; 256]; 3] = std::array::from_fn(|ch| {
            std::array::from_fn(|v| (v as f32 / 255.0 - self.mean[ch]) / self.std[ch])
        });
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for (((px, r), g), b) in c.chunks_exact(3).zip(r).zip(g).zip(b) {
            *r = lut[0][usize::from(px[0])];
            *g = lut[1][usize::from(px[1])];
            *b = lut[2][usize::from(px[2])];
        }
        sc.centre = c;
    }

    /// The [`INPUTS_PER_IMAGE`] inputs of one image (the [`View`]s in [`VIEWS`] order: whole,
    /// five crops, nine crops), back to back in one NCHW buffer of `INPUTS_PER_IMAGE * len()`
    /// values.
    pub fn image_crops(&self, img: &RgbImage) -> Result<Vec<f32>> {
        let mut out = vec![0f32; INPUTS_PER_IMAGE * self.len()];
        self.image_crops_into(img, &mut out)?;
        Ok(out)
    }

    /// [`image_crops`](Self::image_crops) into `out` (`INPUTS_PER_IMAGE * len()` values, each
    /// view's inputs at its [`View::rows`]); crops and resizes work in per-thread buffers reused
    /// from image to image.
    pub fn image_crops_into(&self, img: &RgbImage, out: &mut [f32]) -> Result<()> {
        let (w, h) = (img.width, img.height);
        let n = self.len();
        assert_eq!(out.len(), INPUTS_PER_IMAGE * n, "output of {INPUTS_PER_IMAGE} x {n}");
        with_scratch(|sc| {
            for view in VIEWS {
                let rows = &mut out[view.rows().start * n..view.rows().end * n];
                for (b, chunk) in view.boxes(w, h).iter().zip(rows.chunks_exact_mut(n)) {
                    if view == View::Whole {
                        self.normalize_into(&img.data, w, h, sc, chunk);
                    } else {
                        let mut crop = std::mem::take(&mut sc.crop);
                        img.crop_into(*b, &mut crop)?;
                        self.normalize_into(&crop, b.width(), b.height(), sc, chunk);
                        sc.crop = crop;
                    }
                }
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
