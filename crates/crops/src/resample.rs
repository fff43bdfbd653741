//! Pillow's BICUBIC resize of 8-bit images, reproduced operation for operation
//! (`libImaging/Resample.c`): filter weights in f64, converted to fixed point with 22 fractional
//! bits, horizontal pass first (rounded and clipped to u8), then the vertical pass; a pass whose
//! size does not change is skipped.

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output pixel: first input index, number of inputs, and `ksize` fixed-point weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

/// `precompute_coeffs` + `normalize_coeffs_8bpc` for a resize of `in_size` to `out_size`.
fn coeffs(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates toward zero; for negative values that is not floor.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = bicubic((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..(xx + 1) * ksize];
        for x in 0..xmax {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            row[x] = if w < 0.0 { (-0.5 + fixed) as i32 } else { (0.5 + fixed) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs { ksize, bounds, weights }
}

/// Pillow's `clip8`: `v >> 22` clamped to 0..=255. Pillow branches (`>= 255 << 22` -> 255,
/// `<= 0` -> 0, else the shift); the arithmetic shift then clamp gives the same byte for every
/// `v` (negative values shift to at most -1) without branches.
#[inline(always)]
fn clip8(v: i32) -> u8 {
    // Pillow accumulates in 32-bit ints: 255 * 2^22 * (sum of |weights| < 2) fits.
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `acc[i] += sum over taps t of k[t] * line(t)[i]`, two taps per sweep over `acc` (half the
/// accumulator traffic). Pillow adds the taps one by one; with no partial sum able to overflow
/// (see [`clip8`]) integer addition gives the same result in any order.
#[inline(always)]
fn accumulate<'a>(acc: &mut [i32], k: &[i32], line: impl Fn(usize) -> &'a [u8]) {
    let mut t = 0;
    while t + 1 < k.len() {
        let (k0, k1) = (k[t], k[t + 1]);
        for ((a, &v0), &v1) in acc.iter_mut().zip(line(t)).zip(line(t + 1)) {
            *a += i32::from(v0) * k0 + i32::from(v1) * k1;
        }
        t += 2;
    }
    if t < k.len() {
        let k0 = k[t];
        for (a, &v) in acc.iter_mut().zip(line(t)) {
            *a += i32::from(v) * k0;
        }
    }
}

/// Buffers a resize works in, kept between calls so that repeated resizes do not allocate
/// (fresh large allocations cost more in page faults than the arithmetic).
#[derive(Default)]
pub struct ResizeScratch {
    t: Vec<u8>,
    mid: Vec<u8>,
    acc: Vec<i32>,
    clipped: Vec<u8>,
}

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

/// A rectangle of an image: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First column.
    pub x: usize,
    /// First row.
    pub y: usize,
    /// Columns.
    pub w: usize,
    /// Rows.
    pub h: usize,
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
    assert!(
        window.x + window.w <= nw && window.y + window.h <= nh,
        "window {window:?} outside {nw}x{nh}"
    );
    let Window { x: x0, y: y0, w: ww, h: wh } = window;
    let ResizeScratch { t, mid, acc, clipped } = scratch;
    let need_h = nw != w;
    let need_v = nh != h;
    let vert = coeffs(h, nh);
    // Input rows the window's output rows read; the horizontal pass only computes those.
    let (y_first, y_last) = if !need_v {
        (y0, y0 + wh)
    } else if wh == 0 {
        (0, 0)
    } else {
        let (last, n) = vert.bounds[y0 + wh - 1];
        (vert.bounds[y0].0, last + n)
    };
    let rows = y_last - y_first;
    // `cur`: rows `y_first..y_last`, the window's columns, `ww` pixels wide.
    let cur: &[u8] = if need_h {
        let horiz = coeffs(w, nw);
        // Horizontal pass on the transposed rows: column x of the input becomes a contiguous
        // run of `rows * 3` bytes, so each output column accumulates whole columns times one
        // weight (vectorisable), with Pillow's integer arithmetic in Pillow's order.
        let col = rows * 3;
        // Only the input columns the window's output columns read.
        let (x_first, x_last) = if ww == 0 {
            (0, 0)
        } else {
            let (last, n) = horiz.bounds[x0 + ww - 1];
            (horiz.bounds[x0].0, last + n)
        };
        t.clear();
        t.resize((x_last - x_first) * col, 0);
        for y in 0..rows {
            let row0 = (y + y_first) * w;
            let in_row = &src[(row0 + x_first) * 3..(row0 + x_last) * 3];
            for (x, p) in in_row.chunks_exact(3).enumerate() {
                t[x * col + y * 3..x * col + y * 3 + 3].copy_from_slice(p);
            }
        }
        mid.clear();
        mid.resize(ww * rows * 3, 0);
        acc.clear();
        acc.resize(col, 0);
        clipped.clear();
        clipped.resize(col, 0);
        for xx in 0..ww {
            let (xmin, xmax) = horiz.bounds[x0 + xx];
            let k = &horiz.weights[(x0 + xx) * horiz.ksize..(x0 + xx) * horiz.ksize + xmax];
            acc.fill(1i32 << (PRECISION_BITS - 1));
            let xmin = xmin - x_first;
            accumulate(acc, k, |x| &t[(x + xmin) * col..(x + xmin + 1) * col]);
            // Clipped in one vectorised run, then scattered a pixel at a time into the rows.
            for (c, &a) in clipped.iter_mut().zip(acc.iter()) {
                *c = clip8(a);
            }
            for (y, px) in clipped.chunks_exact(3).enumerate() {
                let o = (y * ww + xx) * 3;
                mid[o..o + 3].copy_from_slice(px);
            }
        }
        mid
    } else if x0 == 0 && ww == w {
        &src[y_first * w * 3..y_last * w * 3]
    } else {
        mid.clear();
        for y in y_first..y_last {
            mid.extend_from_slice(&src[(y * w + x0) * 3..(y * w + x0 + ww) * 3]);
        }
        mid
    };
    out.clear();
    if !need_v {
        out.extend_from_slice(cur);
        return;
    }
    // Vertical pass, row by row: each output row accumulates whole input rows times one weight,
    // a loop the compiler vectorises. Same integer arithmetic as Pillow's, in the same order.
    let stride = ww * 3;
    out.resize(stride * wh, 0);
    acc.clear();
    acc.resize(stride, 0);
    for (yy, out_row) in out.chunks_exact_mut(stride.max(1)).enumerate().take(wh) {
        let (ymin, ymax) = vert.bounds[y0 + yy];
        let ymin = ymin - y_first;
        let k = &vert.weights[(y0 + yy) * vert.ksize..(y0 + yy) * vert.ksize + ymax];
        acc.fill(1i32 << (PRECISION_BITS - 1));
        accumulate(acc, k, |y| &cur[(y + ymin) * stride..(y + ymin + 1) * stride]);
        for (o, &a) in out_row.iter_mut().zip(acc.iter()) {
            *o = clip8(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branchless_clip8_equals_pillows_branches() {
        let pillow = |v: i32| -> u8 {
            if v >= (1i32 << PRECISION_BITS << 8) {
                255
            } else if v <= 0 {
                0
            } else {
                (v >> PRECISION_BITS) as u8
            }
        };
        let edges = [i32::MIN, -(1 << 22) - 1, -(1 << 22), -1, 0, 1, (1 << 22) - 1, 1 << 22];
        let more = [(255 << 22) - 1, 255 << 22, (255 << 22) + 1, 256 << 22, i32::MAX];
        for v in edges.into_iter().chain(more).chain((-300..300).map(|i| i * 7_000_001)) {
            assert_eq!(clip8(v), pillow(v), "{v}");
        }
    }

    #[test]
    fn a_window_equals_the_crop_of_the_whole_resize() {
        let (w, h) = (37, 23);
        let src: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
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
