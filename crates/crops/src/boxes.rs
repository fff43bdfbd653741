//! Crop boxes exactly as the original computes them (`docs/reference.md`,
//! "Crops"): float sizes, Python's `round` (half to even) where Pillow rounds a float box, and
//! f64 truncation with the original's own expressions for the nine crops.

/// A crop box `(left, top, right, bottom)` in pixels of the RGB image, as Pillow's `crop` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CropBox {
    /// Left edge (inclusive).
    pub left: u32,
    /// Top edge (inclusive).
    pub top: u32,
    /// Right edge (exclusive).
    pub right: u32,
    /// Bottom edge (exclusive).
    pub bottom: u32,
}

impl CropBox {
    /// Width of the box (Pillow pads a box reaching outside the image; ours never do).
    pub fn width(&self) -> u32 {
        self.right - self.left
    }

    /// Height of the box.
    pub fn height(&self) -> u32 {
        self.bottom - self.top
    }

    /// `[left, top, right, bottom]`.
    pub fn to_array(self) -> [u32; 4] {
        [self.left, self.top, self.right, self.bottom]
    }

    /// Pillow's `Image.crop` on a float box: each coordinate through Python's `round`.
    fn from_float(l: f64, t: f64, r: f64, b: f64) -> Self {
        Self { left: py_round(l), top: py_round(t), right: py_round(r), bottom: py_round(b) }
    }
}

/// Python 3's `round(x)` for non-negative x: to nearest, ties to even.
fn py_round(x: f64) -> u32 {
    x.round_ties_even() as u32
}

/// Python's `int(x)` for non-negative x: truncation.
fn py_int(x: f64) -> u32 {
    x.trunc() as u32
}

/// The whole image.
pub fn whole(width: u32, height: u32) -> CropBox {
    CropBox { left: 0, top: 0, right: width, bottom: height }
}

/// torchvision 0.11's `five_crop(img, (0.6 h, 0.6 w))` with float sizes, through Pillow's
/// rounding: top-left, top-right, bottom-left, bottom-right, centre.
pub fn five(width: u32, height: u32) -> [CropBox; 5] {
    let (w, h) = (f64::from(width), f64::from(height));
    let (ch, cw) = (h * 0.6, w * 0.6);
    // center_crop: int(round((image - crop) / 2.0)), Python's round.
    let top = f64::from(py_round((h - ch) / 2.0));
    let left = f64::from(py_round((w - cw) / 2.0));
    [
        CropBox::from_float(0.0, 0.0, cw, ch),
        CropBox::from_float(w - cw, 0.0, w, ch),
        CropBox::from_float(0.0, h - ch, cw, h),
        CropBox::from_float(w - cw, h - ch, w, h),
        CropBox::from_float(left, top, left + cw, top + ch),
    ]
}

/// The original's nine crops (ratio 0.4): rows `t = (0, int(0.3h), int(0.6h))`,
/// `b = (int(0.4h), int(0.7h), h)`, columns alike, rows outer. The expressions are the
/// original's, evaluated in f64: for h = 90, `int((0.5 + 0.4 / 2) * 90)` is 62, not 63.
pub fn nine(width: u32, height: u32) -> [CropBox; 9] {
    const RATIO: f64 = 0.4;
    let starts = |n: u32| {
        let x = f64::from(n);
        [0, py_int((0.5 - RATIO / 2.0) * x), py_int((1.0 - RATIO) * x)]
    };
    let ends = |n: u32| {
        let x = f64::from(n);
        [py_int(RATIO * x), py_int((0.5 + RATIO / 2.0) * x), n]
    };
    let (t, b, l, r) = (starts(height), ends(height), starts(width), ends(width));
    std::array::from_fn(|i| {
        let (row, col) = (i / 3, i % 3);
        CropBox { left: l[col], top: t[row], right: r[col], bottom: b[row] }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrays<const N: usize>(boxes: [CropBox; N]) -> Vec<[u32; 4]> {
        boxes.into_iter().map(CropBox::to_array).collect()
    }

    #[test]
    fn reference_examples() {
        // docs/reference.md: 333x501.
        assert_eq!(
            arrays(five(333, 501)),
            vec![
                [0, 0, 200, 301],
                [133, 0, 333, 301],
                [0, 200, 200, 501],
                [133, 200, 333, 501],
                [67, 100, 267, 401]
            ]
        );
        assert_eq!(
            arrays(nine(333, 501))[..3],
            [[0, 0, 133, 200], [99, 0, 233, 200], [199, 0, 333, 200]]
        );
        // f64 truncation: int(0.7 * 90) == 62.
        assert_eq!(nine(100, 90)[3].top, 27);
        assert_eq!(nine(100, 90)[0].bottom, 36);
        assert_eq!(nine(100, 90)[3].bottom, 62);
        assert_eq!(whole(640, 480), CropBox { left: 0, top: 0, right: 640, bottom: 480 });
    }

    #[test]
    fn python_round_is_half_to_even() {
        assert_eq!(py_round(0.5), 0);
        assert_eq!(py_round(1.5), 2);
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(2.6), 3);
    }
}
