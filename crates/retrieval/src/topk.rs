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
