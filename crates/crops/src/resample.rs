//! Pillow's BICUBIC resize of 8-bit RGB images (`libImaging/Resample.c`), byte for byte: the
//! public face of [`crate::engine`].

use crate::engine::{self, Rgb8, Scratch, Src, Window};

/// Buffers a resize works in, kept between calls so that repeated resizes do not allocate.
#[derive(Default)]
pub struct ResizeScratch(Scratch);

/// Resizes a packed RGB8 image (`w * h * 3` bytes) to `nw x nh` as Pillow's
/// `Image.resize((nw, nh), Image.BICUBIC)` does.
pub fn resize_bicubic(src: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
    let mut out = Vec::new();
    resize_bicubic_into(src, w, h, nw, nh, &mut ResizeScratch::default(), &mut out);
    out
}

/// [`resize_bicubic`] into `out` (resized to `nw * nh * 3`), working in `scratch`.
pub fn resize_bicubic_into(
    src: &[u8],
    w: usize,
    h: usize,
    nw: usize,
    nh: usize,
    scratch: &mut ResizeScratch,
    out: &mut Vec<u8>,
) {
    let all = Window { x: 0, y: 0, w: nw, h: nh };
    resize_bicubic_window_into(src, w, h, nw, nh, all, scratch, out);
}

/// The `window` of the `nw x nh` resize of [`resize_bicubic`], computed alone (each output
/// pixel is computed as in the whole resize, so the bytes are the same as resizing then
/// cropping): `out` becomes `window.w * window.h * 3` bytes. CLIP's centre crop keeps 224 of
/// 299 columns of a 4:3 photo, so a quarter of the work is skipped.
#[allow(clippy::too_many_arguments)]
pub fn resize_bicubic_window_into(
    src: &[u8],
    w: usize,
    h: usize,
    nw: usize,
    nh: usize,
    window: Window,
    scratch: &mut ResizeScratch,
    out: &mut Vec<u8>,
) {
    assert_eq!(src.len(), w * h * 3, "RGB8 buffer of {w}x{h}");
    out.clear();
    out.resize(window.w * window.h * 3, 0);
    let src = Src { data: src, stride: w * 3, x: 0, y: 0, w, h };
    let mut sink = Rgb8 { out, width: window.w };
    engine::resize(src, nw, nh, window, &mut scratch.0, &mut sink);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coeffs::{BIAS, Coeffs, PRECISION_BITS};

    /// Pillow's two passes written plainly, in Pillow's integer arithmetic.
    fn pillow(src: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
        let clip = |v: i32| (v >> PRECISION_BITS).clamp(0, 255) as u8;
        let (horiz, vert) = (Coeffs::new(w, nw), Coeffs::new(h, nh));
        let mut mid = vec![0u8; nw * h * 3];
        for y in 0..h {
            for x in 0..nw {
                let (first, k, _) = horiz.taps(x);
                for c in 0..3 {
                    let mut sum = BIAS;
                    for (t, &kt) in k.iter().enumerate() {
                        sum += i32::from(src[(y * w + first + t) * 3 + c]) * kt;
                    }
                    mid[(y * nw + x) * 3 + c] = clip(sum);
                }
            }
        }
        let mut out = vec![0u8; nw * nh * 3];
        for y in 0..nh {
            let (first, k, _) = vert.taps(y);
            for b in 0..nw * 3 {
                let mut sum = BIAS;
                for (t, &kt) in k.iter().enumerate() {
                    sum += i32::from(mid[(first + t) * nw * 3 + b]) * kt;
                }
                out[y * nw * 3 + b] = clip(sum);
            }
        }
        out
    }

    fn noise(n: usize, seed: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 251) as u8).collect()
    }

    #[test]
    fn equals_pillows_integer_passes() {
        for (seed, (w, h, nw, nh)) in [
            (37, 23, 50, 31),
            (37, 23, 20, 12),
            (640, 480, 298, 224),
            (256, 192, 298, 224),
            (5, 3, 1, 1),
            (1, 1, 13, 9),
            (40, 30, 40, 17),
            (40, 30, 9, 30),
        ]
        .into_iter()
        .enumerate()
        {
            let src = noise(w * h * 3, seed);
            let want = pillow(&src, w, h, nw, nh);
            let got = resize_bicubic(&src, w, h, nw, nh);
            let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(diff, 0, "{w}x{h} -> {nw}x{nh}: {diff} bytes differ");
        }
    }

    /// The exact integer path alone (every f32 sum treated as too close to call) gives the
    /// same bytes as Pillow's passes: the fallback is right wherever it is taken.
    #[test]
    fn the_exact_fallback_alone_equals_pillows_passes() {
        for (seed, (w, h, nw, nh)) in
            [(37, 23, 50, 31), (64, 48, 29, 22), (9, 40, 30, 9)].into_iter().enumerate()
        {
            let src = noise(w * h * 3, seed);
            let want = pillow(&src, w, h, nw, nh);
            crate::coeffs::EXACT_ONLY.set(true);
            let got = resize_bicubic(&src, w, h, nw, nh);
            crate::coeffs::EXACT_ONLY.set(false);
            assert_eq!(got, want, "{w}x{h} -> {nw}x{nh}");
        }
    }

    #[test]
    fn a_window_equals_the_crop_of_the_whole_resize() {
        let (w, h) = (37, 23);
        let src = noise(w * h * 3, 1);
        let mut sc = ResizeScratch::default();
        for (nw, nh) in [(50, 31), (20, 12), (37, 40), (60, 23), (37, 23)] {
            let full = resize_bicubic(&src, w, h, nw, nh);
            for win in [
                Window { x: 0, y: 0, w: nw, h: nh },
                Window { x: 3, y: 2, w: nw - 5, h: nh - 4 },
                Window { x: nw - 1, y: nh - 1, w: 1, h: 1 },
            ] {
                let mut out = Vec::new();
                resize_bicubic_window_into(&src, w, h, nw, nh, win, &mut sc, &mut out);
                let want: Vec<u8> = (win.y..win.y + win.h)
                    .flat_map(|y| full[(y * nw + win.x) * 3..(y * nw + win.x + win.w) * 3].to_vec())
                    .collect();
                assert_eq!(out, want, "{w}x{h} -> {nw}x{nh}, {win:?}");
            }
        }
    }

    #[test]
    fn identity_and_constant_images() {
        let src: Vec<u8> = (0..4 * 3 * 3).map(|i| i as u8).collect();
        assert_eq!(resize_bicubic(&src, 4, 3, 4, 3), src);
        let flat = vec![200u8; 50 * 40 * 3];
        assert!(resize_bicubic(&flat, 50, 40, 17, 23).iter().all(|&v| v == 200));
    }
}
