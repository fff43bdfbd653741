//! A `txt_ctx.hdf5` preloaded into contiguous arrays, one per dataset and view, the image along
//! the first axis: what `TxtCtxReader::preload_arrays` fills without an allocation per image or
//! per text.

/// Strings one after the other: their UTF-8 bytes, and where each starts and ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedTexts {
    /// The strings' bytes, one after the other.
    pub bytes: Vec<u8>,
    /// `n + 1` offsets into `bytes`, from 0: string `i` is `bytes[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<u64>,
}

impl PackedTexts {
    /// String `i`'s bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The number of strings.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there is no string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One view of `n` images: `crops` rows of the first `k` texts of each image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewArrays {
    /// Crops per image (1, 5, 9).
    pub crops: usize,
    /// Texts kept per crop (0: the view was left out).
    pub k: usize,
    /// Feature size.
    pub d: usize,
    /// `n * crops * k * d` values, row-major.
    pub features: Vec<f32>,
    /// `n * crops * k` scores.
    pub scores: Vec<f32>,
    /// `n * crops * k` texts, when asked for.
    pub texts: Option<PackedTexts>,
}

/// The three views (`whole`, `five`, `nine`, in `View::ALL`'s order) of
/// the images preloaded, in the order asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TxtArrays {
    /// `whole`, `five`, `nine`.
    pub views: [ViewArrays; 3],
}
