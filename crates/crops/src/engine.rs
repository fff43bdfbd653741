//! The vectorised bicubic resize: Pillow's two passes (horizontal, rounded and clipped to
//! 8 bits, then vertical) over a window of the output, on eight lanes at a time, with every
//! output byte equal to Pillow's.
//!
//! Each output value is a sum of weights times 8-bit values. It is computed in f32 (the weights
//! `k / 2^22` are exact in f32, so only the products and sums round) and then rounded to the
//! nearest integer; [`Coeffs::margin`] bounds how far the f32 sum can be from the exact one, so
//! wherever the sum is within that bound of a rounding boundary (about 1 value in 1,500) the
//! eight lanes are recomputed in Pillow's integer arithmetic. Everywhere else the f32 rounding
//! and Pillow's `(sum + 2^21) >> 22` give the same integer, so the bytes are Pillow's.
//!
//! Layout: the horizontal pass runs over strips of 8 input rows (lanes = rows), reading the
//! strip transposed (8x8 blocks of the source, converted to f32); its results are transposed
//! back in 8x8 blocks into three row-major f32 planes, one per channel. The vertical pass runs
//! over those planes (lanes = 8 output columns) and hands each run of 8 output values of one
//! channel to a [`Sink`].

use wide::{f32x4, f32x8, i32x8};

use crate::coeffs::{BIAS, Coeffs, PRECISION_BITS, cached};

/// `1.5 * 2^23`: adding it rounds an f32 of magnitude below 2^22 to the nearest integer.
const MAGIC: f32 = 12_582_912.0;

/// An 8-bit RGB source: `data` holds rows of `stride` bytes; the image to resize is the
/// `w x h` rectangle at `(x, y)`.
#[derive(Clone, Copy)]
pub(crate) struct Src<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) stride: usize,
    pub(crate) x: usize,
    pub(crate) y: usize,
    pub(crate) w: usize,
    pub(crate) h: usize,
}

impl Src<'_> {
    /// Bytes `b..b + 8` of row `y` (0 past the end of the data).
    #[inline(always)]
    fn eight(&self, y: usize, b: usize) -> [u8; 8] {
        let at = (self.y + y) * self.stride + self.x * 3 + b;
        let mut v = [0u8; 8];
        match self.data.get(at..at + 8) {
            Some(s) => v.copy_from_slice(s),
            None => {
                let s = self.data.get(at..).unwrap_or(&[]);
                let n = s.len().min(8);
                v[..n].copy_from_slice(&s[..n]);
            }
        }
        v
    }
}

/// A rectangle of the output: left, top, width, height.
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

/// Where the output goes: one channel of one output row at a time.
pub(crate) trait Sink {
    /// Channel `c` of window row `y`: the window's columns in runs of 8 (values past the
    /// window's width are to be ignored), each an integer in 0..=255 held in an f32.
    fn row(&mut self, c: usize, y: usize, row: &[f32x8]);
}

/// Buffers of the passes, reused from resize to resize.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The current strip: per byte of the needed input columns, its 8 rows.
    strip: Vec<f32x8>,
    /// The horizontal pass's output: 3 planes of `rows x padded width` f32.
    mid: Vec<f32x8>,
    /// One output row of one channel.
    row: Vec<f32x8>,
}

/// The 8x8 transpose of `m` (rows become columns), as four 4x4 transposes of 128-bit halves:
/// no cross-lane permutes, which cost several times a shuffle on CPUs that split 256-bit
/// operations in two.
#[inline(always)]
fn transpose(m: [f32x8; 8]) -> [f32x8; 8] {
    let halves: [[f32x4; 2]; 8] = m.map(wide::bytemuck::cast);
    let block = |r0: usize, h: usize| {
        f32x4::transpose([halves[r0][h], halves[r0 + 1][h], halves[r0 + 2][h], halves[r0 + 3][h]])
    };
    // Row i of the result: column i of the input, whose rows 0..4 are in block (0, i / 4) and
    // rows 4..8 in block (4, i / 4).
    let (top_l, top_r, bot_l, bot_r) = (block(0, 0), block(0, 1), block(4, 0), block(4, 1));
    std::array::from_fn(|i| {
        let (top, bot) = if i < 4 { (top_l[i], bot_l[i]) } else { (top_r[i - 4], bot_r[i - 4]) };
        wide::bytemuck::cast([top, bot])
    })
}

/// Rounds `sum` (one f32 sum per lane) as Pillow's `clip8((exact + 2^21) >> 22)`, or `None`
/// when a lane is too close to a rounding boundary for f32 to decide.
#[inline(always)]
fn round_clip(sum: f32x8, margin: f32x8) -> Option<f32x8> {
    let m = f32x8::splat(MAGIC);
    let r = (sum + m) - m;
    if (sum - r).abs().simd_gt(margin).any() {
        return None;
    }
    Some(r.fast_max(f32x8::ZERO).fast_min(f32x8::splat(255.0)))
}

/// Resizes `src` to `nw x nh` as Pillow's `Image.resize((nw, nh), Image.BICUBIC)` and hands the
/// `window` of the result to `sink` (each output value computed as in the whole resize).
pub(crate) fn resize(
    src: Src<'_>,
    nw: usize,
    nh: usize,
    window: Window,
    scratch: &mut Scratch,
    sink: &mut impl Sink,
) {
    assert!(
        window.x + window.w <= nw && window.y + window.h <= nh,
        "window {window:?} outside {nw}x{nh}"
    );
    assert!(
        src.y + src.h <= src.data.len().checked_div(src.stride).unwrap_or(0)
            && (src.x + src.w) * 3 <= src.stride,
        "source rectangle outside its buffer"
    );
    if window.w == 0 || window.h == 0 {
        return;
    }
    let horiz = cached(src.w, nw);
    let vert = cached(src.h, nh);
    // Input rows the window's output rows read: the horizontal pass computes only those.
    let y_first = vert.bounds[window.y].0;
    let y_last = {
        let (first, n) = vert.bounds[window.y + window.h - 1];
        first + n
    };
    let rows = y_last - y_first;
    let groups = window.w.div_ceil(8);
    let Scratch { strip, mid, row } = scratch;
    // Every value of the planes is written by the horizontal pass: no need to clear them.
    let planes = 3 * rows * groups;
    if mid.len() < planes {
        mid.resize(planes, f32x8::ZERO);
    }
    let mid = &mut mid[..planes];
    horizontal(src, &horiz, window, y_first, rows, strip, mid);
    vertical(&vert, window, y_first, rows, mid, row, sink);
}

/// The horizontal pass into `mid`: planes `c * rows * groups`, row `r`, group `g` of 8 columns.
fn horizontal(
    src: Src<'_>,
    horiz: &Coeffs,
    window: Window,
    y_first: usize,
    rows: usize,
    strip: &mut Vec<f32x8>,
    mid: &mut [f32x8],
) {
    let groups = window.w.div_ceil(8);
    // Input bytes the window's columns read (the first output column reads the leftmost).
    let b_first = horiz.bounds[window.x].0 * 3;
    let b_last = (window.x..window.x + window.w)
        .map(|x| {
            let (first, n) = horiz.bounds[x];
            (first + n) * 3
        })
        .max()
        .unwrap_or(b_first);
    let blocks = (b_last - b_first).div_ceil(8);
    if strip.len() < blocks * 8 {
        strip.resize(blocks * 8, f32x8::ZERO);
    }
    let strip = &mut strip[..blocks * 8];
    let margin = f32x8::splat(horiz.margin());
    let plane = rows * groups;
    for y0 in (0..rows).step_by(8) {
        // Rows past the end repeat the last row (computed, never stored).
        let row = |r: usize| y_first + (y0 + r).min(rows - 1);
        for (blk, out) in strip.chunks_exact_mut(8).enumerate() {
            let b = b_first + blk * 8;
            let block: [f32x8; 8] = std::array::from_fn(|r| {
                f32x8::from_i32x8(i32x8::from(src.eight(row(r), b).map(i32::from)))
            });
            out.copy_from_slice(&transpose(block));
        }
        for g in 0..groups {
            let mut stage = [[f32x8::ZERO; 8]; 3];
            for i in 0..8 {
                let xx = g * 8 + i;
                if xx >= window.w {
                    break;
                }
                let (first, k, w) = horiz.taps(window.x + xx);
                let base = first * 3 - b_first;
                let mut acc = [f32x8::ZERO; 3];
                for (px, &wt) in strip[base..base + 3 * w.len()].chunks_exact(3).zip(w) {
                    let wt = f32x8::splat(wt);
                    acc[0] = px[0].mul_add(wt, acc[0]);
                    acc[1] = px[1].mul_add(wt, acc[1]);
                    acc[2] = px[2].mul_add(wt, acc[2]);
                }
                let m = f32x8::splat(MAGIC);
                let r = acc.map(|a| (a + m) - m);
                let far = |c: usize| (acc[c] - r[c]).abs();
                if far(0).fast_max(far(1)).fast_max(far(2)).simd_gt(margin).any() {
                    for (c, st) in stage.iter_mut().enumerate() {
                        st[i] = exact((0..k.len()).map(|t| strip[base + 3 * t + c]), k);
                    }
                } else {
                    for (st, r) in stage.iter_mut().zip(r) {
                        st[i] = r.fast_max(f32x8::ZERO).fast_min(f32x8::splat(255.0));
                    }
                }
            }
            for (c, stage) in stage.iter().enumerate() {
                let cols = transpose(*stage);
                for (r, v) in cols.iter().enumerate().take(rows - y0) {
                    mid[c * plane + (y0 + r) * groups + g] = *v;
                }
            }
        }
    }
}

/// The vertical pass from `mid` into `sink`, a row of one channel at a time through `out`.
fn vertical(
    vert: &Coeffs,
    window: Window,
    y_first: usize,
    rows: usize,
    mid: &[f32x8],
    out: &mut Vec<f32x8>,
    sink: &mut impl Sink,
) {
    const BLOCK: usize = 4;
    let groups = window.w.div_ceil(8);
    let plane = rows * groups;
    let margin = f32x8::splat(vert.margin());
    out.clear();
    out.resize(groups, f32x8::ZERO);
    let full = groups / BLOCK * BLOCK;
    for c in 0..3 {
        let mid = &mid[c * plane..(c + 1) * plane];
        for yy in 0..window.h {
            let taps = vert.taps(window.y + yy);
            let base = taps.0 - y_first;
            for g in (0..full).step_by(BLOCK) {
                let dst: &mut [f32x8; BLOCK] = (&mut out[g..g + BLOCK]).try_into().expect("BLOCK");
                column_block(mid, groups, base, g, taps, margin, dst);
            }
            for g in full..groups {
                let dst: &mut [f32x8; 1] = (&mut out[g..g + 1]).try_into().expect("1");
                column_block(mid, groups, base, g, taps, margin, dst);
            }
            sink.row(c, yy, out);
        }
    }
}

/// `B` groups of 8 output columns from group `g` of one output row: the weighted sums of the
/// plane's rows `base..`, rounded, into `dst`.
#[inline(always)]
fn column_block<const B: usize>(
    mid: &[f32x8],
    groups: usize,
    base: usize,
    g: usize,
    (_, k, w): (usize, &[i32], &[f32]),
    margin: f32x8,
    dst: &mut [f32x8; B],
) {
    let mut acc = [f32x8::ZERO; B];
    for (t, &wt) in w.iter().enumerate() {
        let wt = f32x8::splat(wt);
        let row: &[f32x8; B] = mid[(base + t) * groups + g..][..B].try_into().expect("B groups");
        for j in 0..B {
            acc[j] = row[j].mul_add(wt, acc[j]);
        }
    }
    for (j, (a, d)) in acc.into_iter().zip(dst).enumerate() {
        *d = match round_clip(a, margin) {
            Some(v) => v,
            None => exact((0..k.len()).map(|t| mid[(base + t) * groups + g + j]), k),
        };
    }
}

/// Pillow's `clip8((BIAS + sum of k[t] * values[t]) >> 22)` on 8 lanes of exact integers held
/// in f32: the integer arithmetic for the sums that f32 cannot decide (ties between two levels
/// are common: an upscale's output centred between two inputs with symmetric weights lands on
/// one whenever the two inputs differ by an odd number). Out of line, so that the hot loops
/// keep nothing for it.
#[cold]
#[inline(never)]
fn exact(values: impl Iterator<Item = f32x8>, k: &[i32]) -> f32x8 {
    let mut sum = i32x8::splat(BIAS);
    for (v, &kt) in values.zip(k) {
        sum += v.fast_trunc_int() * i32x8::splat(kt);
    }
    let level = (sum >> PRECISION_BITS as i32).max(i32x8::ZERO).min(i32x8::splat(255));
    f32x8::from_i32x8(level)
}

/// Collects the window as packed RGB8 (the layout of [`crate::resize_bicubic`]).
pub(crate) struct Rgb8<'a> {
    pub(crate) out: &'a mut [u8],
    pub(crate) width: usize,
}

impl Sink for Rgb8<'_> {
    fn row(&mut self, c: usize, y: usize, row: &[f32x8]) {
        let out = &mut self.out[y * self.width * 3..(y + 1) * self.width * 3];
        let values = row.iter().flat_map(|v| v.fast_trunc_int().to_array());
        for (o, v) in out.iter_mut().skip(c).step_by(3).zip(values) {
            *o = v as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let m: [f32x8; 8] = std::array::from_fn(|r| {
            f32x8::from(std::array::from_fn::<f32, 8, _>(|c| (r * 8 + c) as f32))
        });
        let t = transpose(m);
        for (r, row) in t.iter().enumerate() {
            for (c, v) in row.as_array().iter().enumerate() {
                assert_eq!(*v, m[c].as_array()[r], "({r}, {c})");
            }
        }
    }
}
