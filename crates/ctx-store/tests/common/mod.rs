//! Entries for the tests that write txt_ctx files: random values, the same for the same seed.

use ctx_store::ViewEntry;
use test_support::Rng;

/// A view of `crops` crops with `k` texts each and `d`-sized features: random features, scores
/// sorted best first per crop, texts `phrase {i} {n}`.
pub(crate) fn random_view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let text = |rng: &mut Rng, i| format!("phrase {i} {}", rng.below(1000));
    ctx_store::testing::random_view(rng, crops, k, d, Rng::f32, text)
}
