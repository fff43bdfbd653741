//! 8-bit levels (crops' `u8` output: each value of a preprocessed image before CLIP's
//! normalisation) normalised on the model's device by a table lookup. The table holds crops' own
//! normalised values ([`ClipPreprocess::levels`]), rounded to f16 as crops rounds them for a
//! half-precision model, so the result equals the host's preprocessed pixels bit for bit, and
//! the host copies a quarter (f32) or half (f16) of the bytes to the device.

use crops::{ClipPreprocess, f16};
use tch::{Device, Kind, Tensor};

/// The lookup table on the device, and each channel's offset into it.
#[derive(Debug)]
pub(crate) struct Levels {
    /// `(3 * 256,)` of the model's kind: channel `c`, level `v` at `c * 256 + v`.
    table: Tensor,
    /// `(1, 3, 1, 1)` int32: `0, 256, 512`.
    offsets: Tensor,
}

impl Levels {
    /// The table of `pre`'s mean and std, in `kind` (`Float` or `Half`), on `device`.
    pub(crate) fn new(
        pre: &ClipPreprocess,
        device: Device,
        kind: Kind,
    ) -> Result<Self, tch::TchError> {
        let values: Vec<f32> = pre.levels().iter().flatten().copied().collect();
        let table = match kind {
            Kind::Half => {
                let halves: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
                Tensor::f_from_slice(&halves)?
            }
            _ => Tensor::f_from_slice(&values)?.f_to_kind(kind)?,
        };
        let offsets = Tensor::f_from_slice(&[0i32, 256, 512])?.f_view([1, 3, 1, 1])?;
        Ok(Self { table: table.f_to_device(device)?, offsets: offsets.f_to_device(device)? })
    }

    /// The normalised values of `levels`, a `(B, 3, H, W)` uint8 tensor (any device; moved to
    /// the table's), in the table's kind, on its device.
    pub(crate) fn apply(&self, levels: &Tensor) -> Result<Tensor, tch::TchError> {
        let index =
            levels.f_to_device(self.table.device())?.f_to_kind(Kind::Int)?.f_add(&self.offsets)?;
        let shape = index.size();
        self.table.f_index_select(0, &index.f_flatten(0, -1)?)?.f_view(shape.as_slice())
    }
}
