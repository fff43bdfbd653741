//! Batching preloaded entries into tensors the way the M2/HAAV training code consumes them
//! (feature `tch`).

use tch::{Device, Kind, Tensor};

use crate::entry::{TxtEntry, ViewEntry, VisCtx};
use crate::error::{Error, Result};

/// A batch of textual context, `B` images, `k` texts per crop.
#[derive(Debug)]
pub struct TxtBatch {
    /// `(B, k, d)`: texts retrieved for the whole image.
    pub whole: Tensor,
    /// `(B, 5k, d)`: the five crops' texts, crop after crop.
    pub five: Tensor,
    /// `(B, 5k)` int64: the crop (0..5) each row of `five` came from.
    pub five_crop_ids: Tensor,
    /// `(B, 9k, d)`: the nine crops' texts, crop after crop.
    pub nine: Tensor,
    /// `(B, 9k)` int64: the crop (0..9) each row of `nine` came from.
    pub nine_crop_ids: Tensor,
}

fn stack_view(
    entries: &[&TxtEntry],
    pick: impl Fn(&TxtEntry) -> &ViewEntry,
    top_k: usize,
    device: Device,
) -> Result<(Tensor, Tensor)> {
    let first = pick(entries[0]);
    let (crops, d) = (first.crops, first.d);
    let k = top_k.min(first.k);
    let mut data = Vec::with_capacity(entries.len() * crops * k * d);
    for e in entries {
        let v = pick(e);
        if (v.crops, v.d) != (crops, d) || v.k < k {
            return Err(Error::Input {
                path: Default::default(),
                object: e.id.to_string(),
                message: format!(
                    "view of {} crops, k = {}, d = {} does not batch with crops = {crops}, k >= {k}, d = {d}",
                    v.crops, v.k, v.d
                ),
            });
        }
        let sel = v.select(None, Some(k)).expect("no crop selected");
        data.extend_from_slice(&sel.features);
    }
    let b = entries.len() as i64;
    let rows = (crops * k) as i64;
    let features = Tensor::from_slice(&data).view([b, rows, d as i64]).to_device(device);
    let crop_ids = Tensor::arange(crops as i64, (Kind::Int64, device))
        .repeat_interleave_self_int(k as i64, None, None)
        .unsqueeze(0)
        .expand([b, rows], false)
        .contiguous();
    Ok((features, crop_ids))
}

/// Stacks the first `top_k` texts of every crop of `entries` into tensors on `device`.
pub fn txt_batch(entries: &[&TxtEntry], top_k: usize, device: Device) -> Result<TxtBatch> {
    if entries.is_empty() {
        return Err(Error::Input {
            path: Default::default(),
            object: "batch".into(),
            message: "no entries".into(),
        });
    }
    let (whole, _) = stack_view(entries, |e| &e.whole, top_k, device)?;
    let (five, five_crop_ids) = stack_view(entries, |e| &e.five, top_k, device)?;
    let (nine, nine_crop_ids) = stack_view(entries, |e| &e.nine, top_k, device)?;
    Ok(TxtBatch { whole, five, five_crop_ids, nine, nine_crop_ids })
}

/// `(B, fdim)` visual context of the rows `indices` of a preloaded [`VisCtx`].
pub fn vis_batch(ctx: &VisCtx, indices: &[usize], device: Device) -> Tensor {
    let mut data = Vec::with_capacity(indices.len() * ctx.fdim);
    for &i in indices {
        data.extend_from_slice(ctx.row(i));
    }
    Tensor::from_slice(&data).view([indices.len() as i64, ctx.fdim as i64]).to_device(device)
}
