//! Running top-k over key chunks: descending score, ties broken by the lower id.

use tch::{Kind, Tensor};

/// Orders each row of `(scores, ids)` by descending score, then ascending id, and keeps `k`.
pub(crate) fn order(scores: &Tensor, ids: &Tensor, k: i64) -> (Tensor, Tensor) {
    let (ids, by_id) = ids.sort(1, false);
    let scores = scores.gather(1, &by_id, false);
    let (scores, by_score) = scores.sort_stable(true, 1, true);
    let ids = ids.gather(1, &by_score, false);
    let k = k.min(scores.size()[1]);
    (scores.narrow(1, 0, k), ids.narrow(1, 0, k))
}

/// The best `k` of one score chunk whose first key has id `start`.
pub(crate) fn chunk_top(scores: &Tensor, start: i64, k: i64) -> (Tensor, Tensor) {
    let k = k.min(scores.size()[1]);
    let (s, i) = scores.topk(k, 1, true, false);
    (s.to_kind(Kind::Float), i + start)
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
) -> (Tensor, Tensor) {
    let (b, c) = scores.size2().expect("(B, C) scores");
    let blocks = c / block;
    if blocks <= k || block < 2 {
        return chunk_top(scores, start, k);
    }
    let whole = scores.narrow(1, 0, blocks * block).view([b, blocks, block]);
    let (_, best) = whole.amax([2i64].as_slice(), false).topk(k, 1, true, false);
    let mut cand = whole
        .gather(1, &best.unsqueeze(2).expand([b, k, block], false), false)
        .view([b, k * block]);
    let offsets = Tensor::arange(block, (Kind::Int64, scores.device()));
    let mut ids = (best.unsqueeze(2) * block + offsets).view([b, k * block]);
    if c > blocks * block {
        let rest = c - blocks * block;
        cand = Tensor::cat(&[cand, scores.narrow(1, blocks * block, rest)], 1);
        let tail = Tensor::arange_start(blocks * block, c, (Kind::Int64, scores.device()));
        ids = Tensor::cat(&[ids, tail.unsqueeze(0).expand([b, rest], false)], 1);
    }
    let (s, at) = cand.topk(k, 1, true, false);
    (s.to_kind(Kind::Float), ids.gather(1, &at, false) + start)
}
