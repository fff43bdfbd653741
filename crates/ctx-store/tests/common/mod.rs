//! Entries for the tests that write txt_ctx files: random values, the same for the same seed.

use ctx_store::ViewEntry;
use test_support::Rng;

/// A view of `crops` crops with `k` texts each and `d`-sized features: random features, scores
/// sorted best first per crop, texts `phrase {i} {n}`.
pub(crate) fn random_view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * k);
    scores.chunks_mut(k.max(1)).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    ViewEntry {
        crops,
        k,
        d,
        features: rng.vec_f32(crops * k * d),
        scores,
        texts: (0..crops * k).map(|i| format!("phrase {i} {}", rng.below(1000))).collect(),
    }
}
