//! Running top-k over key chunks: descending score, ties broken by the lower id.

use tch::{Kind, Tensor};

use crate::Result;

/// What re-scoring may skip: candidates ordered by descending screened score `approx` (`(B, m)`,
/// f32), each within `bound` (`(B,)`) of its exact score. Once a candidate's `approx + bound`
/// is below the k-th best exact score so far ([`Cut::reaches`]), neither it nor any after it
/// can be among the best k, and they are left at minus infinity (those scored with it in a
/// group keep their scores). The CPU applies the rule per group of 4 candidates, CUDA per
/// block of columns; it is the same rule, and what it skips never changes a result: a row cut
/// short is a row whose proof holds (its left-out screened score is below the cut one).
pub(crate) struct Cut<'a> {
    pub approx: &'a Tensor,
    pub bound: &'a Tensor,
    pub k: usize,
}

impl Cut<'_> {
    /// Whether a candidate of screened score `approx` (and those after it) may still reach a
    /// row's best k, whose k-th exact score so far is `kth`.
    #[inline]
    pub(crate) fn reaches(approx: f32, bound: f32, kth: f32) -> bool {
        approx + bound >= kth
    }

    /// [`Cut::reaches`] over rows: `approx`, `bound` and `kth` of shape `(r,)`, a bool `(r,)`.
    pub(crate) fn reaches_rows(approx: &Tensor, bound: &Tensor, kth: &Tensor) -> Result<Tensor> {
        Ok(approx.f_add(bound)?.f_ge_tensor(kth)?)
    }
}

/// Orders each row of `(scores, ids)` by descending score, then ascending id, and keeps `k`.
pub(crate) fn order(scores: &Tensor, ids: &Tensor, k: i64) -> Result<(Tensor, Tensor)> {
    let (ids, by_id) = ids.f_sort(1, false)?;
    let scores = scores.f_gather(1, &by_id, false)?;
    let (scores, by_score) = scores.f_sort_stable(true, 1, true)?;
    let ids = ids.f_gather(1, &by_score, false)?;
    let k = k.min(scores.size()[1]);
    Ok((scores.f_narrow(1, 0, k)?, ids.f_narrow(1, 0, k)?))
}

/// The best `k` of one score chunk whose first key has id `start`.
pub(crate) fn chunk_top(scores: &Tensor, start: i64, k: i64) -> Result<(Tensor, Tensor)> {
    let k = k.min(scores.size()[1]);
    let (s, i) = scores.f_topk(k, 1, true, false)?;
    Ok((s.f_to_kind(Kind::Float)?, i.f_add_scalar(start)?))
}

/// Like [`chunk_top`], through the maxima of blocks of `block` consecutive keys: the best `k`
/// keys lie in the `k` blocks of largest maxima (each of those holds a score at least the
/// smallest of those maxima, which bounds every key outside them), so only `k * block` scores
/// per query go through `topk`. One reduction over the chunk replaces most of the selection
/// work, which is what a GPU does fast; the keys past the last whole block are kept as they are.
pub(crate) fn chunk_top_blocked(
    scores: &Tensor,
    start: i64,
    k: i64,
    block: i64,
) -> Result<(Tensor, Tensor)> {
    let (b, c) = scores.size2()?;
    let blocks = c / block;
    if blocks <= k || block < 2 {
        return chunk_top(scores, start, k);
    }
    let dev = scores.device();
    let whole = scores.f_narrow(1, 0, blocks * block)?.f_view([b, blocks, block])?;
    let (_, best) = whole.f_amax([2i64].as_slice(), false)?.f_topk(k, 1, true, false)?;
    let mut cand = whole
        .f_gather(1, &best.f_unsqueeze(2)?.f_expand([b, k, block], false)?, false)?
        .f_view([b, k * block])?;
    let offsets = Tensor::f_arange(block, (Kind::Int64, dev))?;
    let mut ids =
        best.f_unsqueeze(2)?.f_mul_scalar(block)?.f_add(&offsets)?.f_view([b, k * block])?;
    if c > blocks * block {
        let rest = c - blocks * block;
        cand = Tensor::f_cat(&[cand, scores.f_narrow(1, blocks * block, rest)?], 1)?;
        let tail = Tensor::f_arange_start(blocks * block, c, (Kind::Int64, dev))?;
        ids = Tensor::f_cat(&[ids, tail.f_unsqueeze(0)?.f_expand([b, rest], false)?], 1)?;
    }
    let (s, at) = cand.f_topk(k, 1, true, false)?;
    Ok((s.f_to_kind(Kind::Float)?, ids.f_gather(1, &at, false)?.f_add_scalar(start)?))
}
