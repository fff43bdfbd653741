//! Helpers shared by the retrieval tests: unit vectors, clustered data and the brute-force
//! reference (`brute_force.py`, NumPy float64).
#![allow(dead_code)] // each test binary uses its own part

use retrieval::Hits;
use test_support::{Rng, run_python_json, workspace_root, write_f32_file};

/// `n` random unit rows of `d`.
pub(crate) fn normalized(rng: &mut Rng, n: usize, d: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n * d).map(|_| rng.f32() * 2.0 - 1.0).collect();
    for row in v.chunks_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Keys around a few centres (many near-ties), plus exact duplicates (true ties).
pub(crate) fn clustered(rng: &mut Rng, n: usize, d: usize) -> Vec<f32> {
    let centres = normalized(rng, 12, d);
    let mut v = Vec::with_capacity(n * d);
    for i in 0..n {
        if i % 10 == 9 {
            let j = rng.below(i);
            let dup = v[j * d..(j + 1) * d].to_vec();
            v.extend(dup);
            continue;
        }
        let c = &centres[(i % 12) * d..(i % 12 + 1) * d];
        let row: Vec<f32> = c.iter().map(|x| x + 0.03 * (rng.f32() - 0.5)).collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.extend(row.iter().map(|x| x / norm));
    }
    v
}

/// The exact top-k in float64, and every score.
pub(crate) struct Reference {
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) scores: Vec<f64>,
    pub(crate) ids: Vec<i64>,
    pub(crate) all: Vec<f64>,
}

/// The brute-force reference of `queries` against `keys`.
pub(crate) fn reference(keys: &[f32], queries: &[f32], d: usize, k: usize) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let (n, q) = (keys.len() / d, queries.len() / d);
    write_f32_file(&dir.path().join("keys.f32"), keys);
    write_f32_file(&dir.path().join("queries.f32"), queries);
    let shape = serde_json::json!({"n": n, "q": q, "d": d});
    std::fs::write(dir.path().join("shape.json"), shape.to_string()).unwrap();
    let script = workspace_root().join("crates/retrieval/tests/brute_force.py");
    run_python_json(&script, &[&dir.path(), &k.to_string()]);
    let read = |name: &str| -> Vec<[u8; 8]> {
        std::fs::read(dir.path().join(name))
            .unwrap()
            .chunks_exact(8)
            .map(|c| c.try_into().unwrap())
            .collect()
    };
    Reference {
        k: k.min(n),
        n,
        scores: read("ref_scores.f64").into_iter().map(f64::from_le_bytes).collect(),
        ids: read("ref_ids.i64").into_iter().map(i64::from_le_bytes).collect(),
        all: read("all_scores.f64").into_iter().map(f64::from_le_bytes).collect(),
    }
}

/// Identical ids except among scores equal within 1e-6; scores within 1e-5.
pub(crate) fn assert_matches(name: &str, got: &Hits, want: &Reference) {
    assert_eq!(got.k, want.k, "{name}: k");
    assert_eq!(got.ids.len(), want.ids.len(), "{name}: rows");
    for (j, (&g, &w)) in got.ids.iter().zip(&want.ids).enumerate() {
        let (row, col) = (j / want.k, j % want.k);
        let s = got.scores[j] as f64;
        assert!(
            (s - want.scores[j]).abs() <= 1e-5,
            "{name}: row {row} rank {col}: score {s} vs {}",
            want.scores[j]
        );
        if g != w {
            let exact_g = want.all[row * want.n + g as usize];
            assert!(
                (exact_g - want.scores[j]).abs() <= 1e-6,
                "{name}: row {row} rank {col}: id {g} (score {exact_g}) where the reference has {w} ({})",
                want.scores[j]
            );
        }
    }
    for row in got.ids.chunks(want.k) {
        let mut seen = row.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), row.len(), "{name}: an id repeats in a row");
    }
}
