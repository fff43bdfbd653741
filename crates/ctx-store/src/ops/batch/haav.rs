//! Batching HAAV's preloaded context into tensors exactly as HAAV's training code builds them
//! (feature `tch`): `TxtCtxField` and `VisCtxField` of `haav/data/field.py`, `preprocess` per
//! image then `process` (`torch.stack`) per batch.

use tch::{Device, Tensor};

use crate::entry::{HaavVisCtx, TxtEntry};
use crate::error::{Error, Result};
use crate::schema::View;

/// One view of a batch of HAAV's textual context: `{"embed", "pos", "rank"}` of
/// `TxtCtxField.process`.
#[derive(Debug)]
pub struct HaavTxtView {
    /// `(B, crops * n, d)` float32: the first `n` texts' features of every crop, crop after crop
    /// (`n` = 8k, 2k, k for whole, five, nine).
    pub embed: Tensor,
    /// `(B, crops * n)` int64: the crop each row came from (0 for whole).
    pub pos: Tensor,
    /// `(B, crops * n)` int64: the row's rank within its crop, `0..n`.
    pub rank: Tensor,
}

/// A batch of HAAV's textual context: `TxtCtxField.process`'s dictionary.
#[derive(Debug)]
pub struct HaavTxtBatch {
    /// `whole`: `(B, 8k, d)`.
    pub whole: HaavTxtView,
    /// `five`: `(B, 5 * 2k, d)`.
    pub five: HaavTxtView,
    /// `nine`: `(B, 9 * k, d)`.
    pub nine: HaavTxtView,
}

/// A batch of HAAV's visual context: `VisCtxField.process`'s `{"grid", "pooled"}`.
#[derive(Debug)]
pub struct HaavVisBatch {
    /// `(B, tokens, fdim_grid)` float32.
    pub grid: Tensor,
    /// `(B, fdim_pooled)` float32.
    pub pooled: Tensor,
}

fn input(object: impl Into<String>, message: String) -> Error {
    Error::Input { path: Default::default(), object: object.into(), message }
}

/// A tensor of `shape` from host values, on `device`.
fn tensor<T: tch::kind::Element>(values: &[T], shape: &[i64], device: Device) -> Result<Tensor> {
    Tensor::f_from_slice(values)
        .and_then(|t| t.f_view(shape))
        .and_then(|t| t.f_to_device(device))
        .map_err(Error::Tch)
}

fn to_i64(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| input("batch", format!("size {n} does not fit in int64")))
}

/// `TxtCtxField(k=k).__load` of one view for every entry, stacked.
fn stack_view(entries: &[&TxtEntry], view: View, k: usize, device: Device) -> Result<HaavTxtView> {
    let n = view.haav_factor() * k;
    let crops = view.crops();
    let d = entries[0].view(view).d;
    let mut embed = Vec::with_capacity(entries.len() * crops * n * d);
    for e in entries {
        let v = e.view(view);
        if v.crops != crops || v.d != d || v.k < n {
            let slice = if view == View::Whole { format!("[:{n}]") } else { format!("[:, :{n}]") };
            return Err(input(
                format!("{}/{view}/features", e.id),
                format!(
                    "{} crops of {} texts of width {}: HAAV's TxtCtxField with k = {k} reads \
                     {slice} of {crops} crops, width {d} (of the batch's first image)",
                    v.crops, v.k, v.d
                ),
            ));
        }
        let top = v.select(None, Some(n)).expect("no crop selected");
        embed.extend_from_slice(&top.features);
    }
    // np.tile(np.arange(crops)[:, None], (1, n)) and np.tile(np.arange(n)[None, :], (crops, 1)),
    // flattened; whole's positions are zeros.
    let pos: Vec<i64> = (0..crops * n).map(|r| (r / n) as i64).collect();
    let rank: Vec<i64> = (0..crops * n).map(|r| (r % n) as i64).collect();
    let (b, rows) = (to_i64(entries.len())?, to_i64(crops * n)?);
    let repeat = |one: &[i64]| -> Vec<i64> { one.repeat(entries.len()) };
    Ok(HaavTxtView {
        embed: tensor(&embed, &[b, rows, to_i64(d)?], device)?,
        pos: tensor(&repeat(&pos), &[b, rows], device)?,
        rank: tensor(&repeat(&rank), &[b, rows], device)?,
    })
}

/// Stacks HAAV's textual context of `entries` (images of HAAV's `txt_ctx.hdf5`, e.g. from
/// [`HaavTxtCtxReader::preload`](crate::HaavTxtCtxReader::preload)) for HAAV's training `k`
/// (8 in its `TxtCtxField`): each view's first 8k / 2k / k texts per crop with their crop
/// positions and ranks. An image holding fewer texts is an error (HAAV's code would pair
/// `arange(8k)` ranks with fewer rows).
pub fn haav_txt_batch(entries: &[&TxtEntry], k: usize, device: Device) -> Result<HaavTxtBatch> {
    if entries.is_empty() || k == 0 {
        return Err(input("batch", format!("{} entries, k = {k}: need both", entries.len())));
    }
    Ok(HaavTxtBatch {
        whole: stack_view(entries, View::Whole, k, device)?,
        five: stack_view(entries, View::Five, k, device)?,
        nine: stack_view(entries, View::Nine, k, device)?,
    })
}

/// `VisCtxField.process` of the images at `indices` of a preloaded [`HaavVisCtx`]: their grids
/// `(B, tokens, fdim_grid)` and pooled embeddings `(B, fdim_pooled)` on `device`.
pub fn haav_vis_batch(ctx: &HaavVisCtx, indices: &[usize], device: Device) -> Result<HaavVisBatch> {
    let mut grid = Vec::with_capacity(indices.len() * ctx.tokens * ctx.fdim_grid);
    let mut pooled = Vec::with_capacity(indices.len() * ctx.fdim_pooled);
    for &i in indices {
        if i >= ctx.ids.len() {
            let message = format!("index {i}, but {} images are loaded", ctx.ids.len());
            return Err(input("batch", message));
        }
        grid.extend_from_slice(ctx.grid_row(i));
        pooled.extend_from_slice(ctx.pooled_row(i));
    }
    let b = to_i64(indices.len())?;
    let (t, g, p) = (to_i64(ctx.tokens)?, to_i64(ctx.fdim_grid)?, to_i64(ctx.fdim_pooled)?);
    Ok(HaavVisBatch {
        grid: tensor(&grid, &[b, t, g], device)?,
        pooled: tensor(&pooled, &[b, p], device)?,
    })
}
