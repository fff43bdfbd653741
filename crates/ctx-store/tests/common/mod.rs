//! Entries for the tests that write txt_ctx files: random values, the same for the same seed.

use ctx_store::ViewEntry;
use test_support::Rng;

/// A view of `crops` crops with `k` texts each and `d`-sized features: random features, scores
/// sorted best first per crop, texts `phrase {i} {n}`.
pub(crate) fn random_view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let text = |rng: &mut Rng, i| format!("phrase {i} {}", rng.below(1000));
    ctx_store::testing::random_view(rng, crops, k, d, Rng::f32, text)
}

/// HAAV's vis_ctx rows of the images `ids`: random `(tokens, grid)` grid features and
/// L2-normalised `pooled` embeddings (as CLIP's are: `check` holds them to it), the same for the
/// same ids.
#[allow(dead_code)] // not every test that includes this module writes HAAV's vis_ctx
pub(crate) fn haav_vis_rows(
    ids: &[u64],
    tokens: usize,
    grid: usize,
    pooled: usize,
) -> (Vec<f32>, Vec<f32>) {
    let g = ids.iter().flat_map(|&i| Rng::new(i + 1).vec_f32(tokens * grid)).collect();
    let p = ids
        .iter()
        .flat_map(|&i| {
            let v = Rng::new(i + 7).vec_f32(pooled);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(move |x| x / norm)
        })
        .collect();
    (g, p)
}
