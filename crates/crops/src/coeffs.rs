//! Pillow's bicubic filter weights for one resize of an axis (`libImaging/Resample.c`:
//! `precompute_coeffs` + `normalize_coeffs_8bpc`), computed once per (input size, output size)
//! and kept in a small per-thread cache: most photos of a data set share a few sizes, and the
//! crops of one image share theirs.

use std::cell::RefCell;
use std::rc::Rc;

/// Fractional bits of Pillow's fixed-point weights.
pub(crate) const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Half of the last unit kept: Pillow's rounding bias.
pub(crate) const BIAS: i32 = 1 << (PRECISION_BITS - 1);

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

/// The weights of one axis: per output pixel its first input, its number of inputs and
/// `ksize` fixed-point weights (the same integers as Pillow's), plus the same weights as f32
/// (`k / 2^22`, exact) for the vectorised passes and the bound on their rounding error.
#[derive(Debug)]
pub(crate) struct Coeffs {
    /// Weights stored per output pixel (the largest tap count).
    pub(crate) ksize: usize,
    /// `(first input, inputs)` per output pixel.
    pub(crate) bounds: Vec<(usize, usize)>,
    /// Pillow's fixed-point weights, `ksize` per output pixel.
    pub(crate) k: Vec<i32>,
    /// `k / 2^22` as f32: exact (every `|k| < 2^24`).
    pub(crate) w: Vec<f32>,
    /// How far from a rounding boundary (in output levels) an f32 sum of these weights times
    /// 8-bit values must be for its rounded value to equal Pillow's integer result; a sum any
    /// closer is recomputed exactly. Negative: every sum is recomputed exactly.
    pub(crate) margin: f32,
}

impl Coeffs {
    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for a resize of `in_size` to `out_size`.
    /// An axis whose size does not change is Pillow's skipped pass: one weight of 1.0 per
    /// pixel, which gives back every input byte.
    pub(crate) fn new(in_size: usize, out_size: usize) -> Self {
        if in_size == out_size {
            let one = 1i32 << PRECISION_BITS;
            return Self::finish(1, (0..out_size).map(|x| (x, 1)).collect(), vec![one; out_size]);
        }
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
        Self::finish(ksize, bounds, weights)
    }

    fn finish(ksize: usize, bounds: Vec<(usize, usize)>, k: Vec<i32>) -> Self {
        let unit = f64::from(1u32 << PRECISION_BITS);
        let exact = k.iter().all(|&k| k.unsigned_abs() < 1 << 24);
        let w: Vec<f32> = k.iter().map(|&k| (f64::from(k) / unit) as f32).collect();
        // Largest possible |partial sum| of weights times values in 0..=255, in output levels.
        let reach = k
            .chunks_exact(ksize.max(1))
            .map(|row| row.iter().map(|&k| f64::from(k).abs() / unit).sum::<f64>() * 255.0)
            .fold(0.0, f64::max)
            + 1.0;
        // Each of the `ksize` steps rounds at most twice (product, sum; once with FMA), each
        // by at most 2^-24 of a value below `reach`: the sum is off by less than `err`.
        let err = 2.0 * ksize as f64 * reach * f64::from(f32::EPSILON) / 2.0;
        // Doubled for safety; the f32 magic-number rounding needs |sum| < 2^22.
        let margin = if exact && reach < f64::from(1u32 << 20) { 0.5 - 2.0 * err } else { -1.0 };
        Self { ksize, bounds, k, w, margin: margin as f32 }
    }

    /// [`margin`](Self::margin), or -1 (every sum recomputed exactly) in tests that ask for it.
    pub(crate) fn margin(&self) -> f32 {
        #[cfg(test)]
        if EXACT_ONLY.get() {
            return -1.0;
        }
        self.margin
    }

    /// Pillow's weights of output pixel `i`, as integers and as f32.
    pub(crate) fn taps(&self, i: usize) -> (usize, &[i32], &[f32]) {
        let (first, n) = self.bounds[i];
        let at = i * self.ksize;
        (first, &self.k[at..at + n], &self.w[at..at + n])
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: every sum through the exact integer path.
    pub(crate) static EXACT_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Sizes cached per thread (a few photo sizes times a few crop sizes).
const CACHED: usize = 64;

/// Weights by (input size, output size), oldest first.
type Cache = Vec<((usize, usize), Rc<Coeffs>)>;

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Vec::new()) };
}

/// The weights of a resize of `in_size` to `out_size`, from this thread's cache when it was
/// computed before.
pub(crate) fn cached(in_size: usize, out_size: usize) -> Rc<Coeffs> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(i) = c.iter().position(|(key, _)| *key == (in_size, out_size)) {
            return Rc::clone(&c[i].1);
        }
        if c.len() >= CACHED {
            c.remove(0);
        }
        let new = Rc::new(Coeffs::new(in_size, out_size));
        c.push(((in_size, out_size), Rc::clone(&new)));
        new
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_weights_are_the_weights_of_that_size() {
        let a = cached(640, 298);
        let b = cached(384, 298);
        assert!(Rc::ptr_eq(&a, &cached(640, 298)), "a second call reuses the first");
        for (c, (w, n)) in [(a, (640, 298)), (b, (384, 298))] {
            let fresh = Coeffs::new(w, n);
            assert_eq!((c.bounds.clone(), c.k.clone()), (fresh.bounds, fresh.k));
        }
    }

    #[test]
    fn weights_sum_to_one_and_f32_weights_are_exact() {
        for (i, o) in [(640, 298), (256, 298), (37, 814), (5, 1), (224, 224)] {
            let c = Coeffs::new(i, o);
            for x in 0..o {
                let (_, k, w) = c.taps(x);
                let sum: i32 = k.iter().sum();
                assert!((sum - (1 << 22)).abs() < 64, "{i}->{o} pixel {x}: {sum}");
                for (&k, &w) in k.iter().zip(w) {
                    assert_eq!(f64::from(w) * f64::from(1u32 << 22), f64::from(k));
                }
            }
            assert!(c.margin > 0.49 && c.margin < 0.5, "{i}->{o}: margin {}", c.margin);
        }
    }
}
