//! The original's IVF index rebuilt on tch: its lists and probes are the original's
//! (`round(8 sqrt n)` lists, a tenth of them probed), probing every list is exact, and its
//! recall@16 against the exact search is faiss's own with the same lists and probes
//! (`faiss_ivf.py`, run here with the project's Python).

mod common;

use common::{assert_matches, clustered, normalized, reference};
use retrieval::{IvfIndex, IvfOptions};
use test_support::{Rng, run_python_json, workspace_root, write_f32_file};

/// `n` unit rows of `d` around random `centres` (uniform in [-1, 1] per value) with
/// Gaussian-like noise of standard deviation `0.58 noise` per value.
fn mixture(rng: &mut Rng, centres: &[f32], noise: f32, n: usize, d: usize) -> Vec<f32> {
    let gauss = |rng: &mut Rng| (0..4).map(|_| rng.f32()).sum::<f32>() - 2.0;
    let mut v = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.below(centres.len() / d);
        let row: Vec<f32> = (0..d).map(|j| centres[c * d + j] + noise * gauss(rng)).collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.extend(row.iter().map(|x| x / norm));
    }
    v
}

/// Recall@k of `got` against `exact` (row-major, k per row).
fn recall(got: &[i64], exact: &[i64], k: usize) -> f64 {
    let found: usize = got
        .chunks(k)
        .zip(exact.chunks(k))
        .map(|(g, w)| g.iter().filter(|i| w.contains(i)).count())
        .sum();
    found as f64 / exact.len() as f64
}

#[test]
fn lists_and_probes_are_the_originals() {
    let mut rng = Rng::new(2);
    for n in [100usize, 2000, 6000] {
        let keys = normalized(&mut rng, n, 8);
        let index = IvfIndex::build(&keys, 8, &IvfOptions::default()).unwrap();
        let lists = (8.0 * (n as f64).sqrt()).round() as usize;
        assert_eq!(index.nlist(), lists, "n {n}");
        assert_eq!(index.nprobe(), (lists / 10).max(1), "n {n}");
        // The lists probed do not depend on k: each query's best key is the same for any k.
        let queries = normalized(&mut rng, 50, 8);
        let one = index.search(&queries, 1).unwrap();
        let many = index.search(&queries, 100).unwrap();
        let firsts: Vec<i64> = many.ids.chunks(100).map(|r| r[0]).collect();
        assert_eq!(firsts, one.ids, "n {n}");
    }
}

#[test]
fn probing_every_list_is_exact() {
    let mut rng = Rng::new(21);
    let d = 32;
    let keys = clustered(&mut rng, 4000, d);
    let queries = clustered(&mut rng, 100, d);
    let want = reference(&keys, &queries, d, 16);
    let all = IvfIndex::build(&keys, d, &IvfOptions { nprobe: Some(506), ..IvfOptions::default() })
        .unwrap();
    assert_eq!(all.nlist(), 506);
    assert_matches("ivf nprobe = nlist", &all.search(&queries, 16).unwrap(), &want);
    // A list shorter than k pads with -1 / -FLT_MAX, as faiss does.
    let tiny = IvfIndex::build(
        &keys[..40 * d],
        d,
        &IvfOptions { nlist: Some(8), nprobe: Some(1), ..IvfOptions::default() },
    )
    .unwrap();
    let hits = tiny.search(&queries[..d], 30).unwrap();
    assert_eq!(hits.k, 30);
    let pad = hits.ids.iter().filter(|&&i| i == -1).count();
    assert!(pad > 0 && hits.scores.iter().filter(|&&s| s == f32::MIN).count() == pad);
}

/// Recall@16 against the exact search, ours and faiss's built as the original builds it (its
/// `L` and `nprobe` computed by the Python script) on the same data: the same lists and probes,
/// and recalls within 0.05 of each other (different random samples and k-means orders).
#[test]
fn recall_matches_faiss_with_the_same_lists_and_probes() {
    let mut rng = Rng::new(8);
    let (n, q, d, k) = (20_000usize, 400usize, 32usize, 16usize);
    let centres: Vec<f32> = (0..500 * d).map(|_| rng.f32() * 2.0 - 1.0).collect();
    // Noisy enough that a tenth of the lists finds about 0.87 of the best 16 (faiss), and one
    // list about 0.1.
    let keys = mixture(&mut rng, &centres, 1.5, n, d);
    let queries = mixture(&mut rng, &centres, 1.5, q, d);
    let ours = IvfIndex::build(&keys, d, &IvfOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_f32_file(&dir.path().join("keys.f32"), &keys);
    write_f32_file(&dir.path().join("queries.f32"), &queries);
    let shape = serde_json::json!({"n": n, "q": q, "d": d});
    std::fs::write(dir.path().join("shape.json"), shape.to_string()).unwrap();
    let script = workspace_root().join("crates/retrieval/tests/faiss_ivf.py");
    let faiss = run_python_json(&script, &[&dir.path(), &k.to_string()]);
    let (nlist, nprobe) = (ours.nlist(), ours.nprobe());
    assert_eq!(
        (nlist as u64, nprobe as u64),
        (faiss["nlist"].as_u64().unwrap(), faiss["nprobe"].as_u64().unwrap())
    );
    let exact: Vec<i64> = std::fs::read(dir.path().join("exact_ids.i64"))
        .unwrap()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(exact.len(), q * k);
    let theirs = faiss["recall"].as_f64().unwrap();
    let got = recall(&ours.search(&queries, k).unwrap().ids, &exact, k);
    eprintln!("recall@{k}: ours {got:.3}, faiss {theirs:.3} ({nlist} lists, {nprobe} probed)");
    assert!((got - theirs).abs() <= 0.05, "recall@{k}: ours {got}, faiss {theirs}");
    assert!(got < 1.0, "recall@{k} {got}: the index should be approximate here");
}
