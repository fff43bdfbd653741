//! Exact search against a brute-force reference (NumPy float64, run here) on random and
//! clustered data; chunked and unchunked runs; both screening types; edge cases; failed
//! allocations.
#![allow(clippy::print_stderr)] // the CUDA tests print the errors they measure, for the GPU record

mod common;

use common::{assert_matches, clustered, normalized, reference};
use retrieval::{Hits, Index, IndexOptions, Precision, Screening};
use test_support::Rng;

fn opts(
    precision: Precision,
    key_chunk: Option<usize>,
    query_batch: Option<usize>,
) -> IndexOptions {
    IndexOptions { precision, key_chunk, query_batch, ..IndexOptions::default() }
}

#[test]
fn random_and_clustered_data_equal_brute_force() {
    let mut rng = Rng::new(11);
    let d = 64;
    for (kind, keys) in
        [("random", normalized(&mut rng, 6000, d)), ("clustered", clustered(&mut rng, 6000, d))]
    {
        let queries = if kind == "random" {
            normalized(&mut rng, 300, d)
        } else {
            clustered(&mut rng, 300, d)
        };
        for k in [1, 16] {
            let want = reference(&keys, &queries, d, k);
            for precision in [Precision::F32, Precision::Fast] {
                for (kc, qb, block) in
                    [(None, None, None), (Some(777), Some(64), None), (None, Some(100), Some(8))]
                {
                    let o = IndexOptions { block, ..opts(precision, kc, qb) };
                    let got = Index::from_slice(&keys, d, &o).unwrap().search(&queries, k).unwrap();
                    assert_matches(
                        &format!("{kind} k={k} {precision:?} chunk={kc:?} block={block:?}"),
                        &got,
                        &want,
                    );
                }
            }
        }
    }
}

/// Queries with many keys of exactly their own score: too many for the first screening (the
/// widened one suffices), and too many for the widened one as well (the f32 search answers),
/// each time the k lowest ids of the tied keys.
#[test]
fn ties_beyond_the_screened_candidates_are_searched_wider_then_in_f32() {
    let mut rng = Rng::new(21);
    let d = 32;
    for (n, copies, widened_suffices) in [(6000, 200, true), (3000, 1200, false)] {
        let mut keys = normalized(&mut rng, n, d);
        let target = keys[..d].to_vec();
        for i in (0..n).step_by(n / copies).take(copies) {
            keys[i * d..(i + 1) * d].copy_from_slice(&target);
        }
        let queries = [target.clone(), normalized(&mut rng, 3, d)].concat();
        let want = reference(&keys, &queries, d, 16);
        for kc in [None, Some(500)] {
            let o = opts(Precision::Fast, kc, None);
            let got = Index::from_slice(&keys, d, &o).unwrap().search(&queries, 16).unwrap();
            let name = format!("{copies} copies in {n}, chunk {kc:?}");
            assert_matches(&name, &got, &want);
            let tied: Vec<i64> = (0..16).map(|j| (j * (n / copies)) as i64).collect();
            assert_eq!(got.ids[..16], tied, "{name}: the lowest tied ids");
            assert_eq!(got.rescored, usize::from(!widened_suffices), "{name}: f32 searches");
            // Only the tied query takes a later pass: one widening when it is small enough.
            assert_eq!(got.widened, usize::from(widened_suffices), "{name}: second passes");
        }
    }
}

/// Every key chunk, query batch and block-max setting gives the unchunked results bit for bit.
fn check_chunked_equals_unchunked(device: tch::Device) {
    let mut rng = Rng::new(5);
    let d = 32;
    let keys = clustered(&mut rng, 3000, d);
    let queries = normalized(&mut rng, 200, d);
    let on = |o: IndexOptions| IndexOptions { device, ..o };
    for precision in [Precision::F32, Precision::Fast] {
        let whole = on(opts(precision, Some(1 << 20), Some(1 << 20)));
        let want = Index::from_slice(&keys, d, &whole).unwrap().search(&queries, 16).unwrap();
        // Block-maximum pre-selection off, and on with blocks of 4 and 7 keys (a tail past the
        // last whole block).
        for block in [0, 4, 7] {
            for (kc, qb) in [(1 << 20, 1 << 20), (1000, 7), (999, 200), (1, 50), (64, 1)] {
                let o =
                    IndexOptions { block: Some(block), ..on(opts(precision, Some(kc), Some(qb))) };
                let got = Index::from_slice(&keys, d, &o).unwrap().search(&queries, 16).unwrap();
                let diff = (0..got.ids.len())
                    .find(|&j| got.ids[j] != want.ids[j] || got.scores[j] != want.scores[j]);
                assert_eq!(
                    diff, None,
                    "{device:?} {precision:?} chunk {kc}/{qb} block {block}: first difference (row-major index)"
                );
            }
        }
    }
}

#[test]
fn chunked_and_unchunked_give_identical_results() {
    check_chunked_equals_unchunked(tch::Device::Cpu);
}

/// On the CPU both precisions re-score with the same code (`Precision::F32` from rows gathered
/// out of its key tensor, `Precision::Fast` from its host copy): the same ids and score bits.
#[test]
fn both_precisions_give_the_same_bits_on_the_cpu() {
    let mut rng = Rng::new(9);
    let d = 48;
    let keys = clustered(&mut rng, 5000, d);
    let queries = clustered(&mut rng, 250, d);
    for k in [1, 16] {
        let run = |p| {
            let o = opts(p, Some(1000), Some(64));
            Index::from_slice(&keys, d, &o).unwrap().search(&queries, k).unwrap()
        };
        let (f32, fast) = (run(Precision::F32), run(Precision::Fast));
        assert_eq!(f32.ids, fast.ids, "k {k}");
        let bits = |h: &Hits| h.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&f32), bits(&fast), "k {k}");
    }
}

/// k > n, k = 1, empty queries, a single key, and what is refused, on `device`.
fn check_edge_cases(device: tch::Device) {
    let mut rng = Rng::new(3);
    let d = 16;
    let keys = normalized(&mut rng, 10, d);
    let queries = normalized(&mut rng, 5, d);
    for precision in [Precision::F32, Precision::Fast] {
        let o = IndexOptions { device, ..opts(precision, Some(3), None) };
        let index = Index::from_slice(&keys, d, &o).unwrap();
        // k larger than the database: every key, in order.
        let want = reference(&keys, &queries, d, 50);
        let got = index.search(&queries, 50).unwrap();
        assert_eq!(got.k, 10);
        assert_matches("k > n", &got, &want);
        // k = 1
        assert_matches(
            "k = 1",
            &index.search(&queries, 1).unwrap(),
            &reference(&keys, &queries, d, 1),
        );
        // empty queries: an empty answer
        let empty = index.search(&[], 4).unwrap();
        assert_eq!((empty.k, empty.ids.len()), (4, 0));
        // rejected clearly
        assert!(index.search(&queries, 0).unwrap_err().to_string().contains("k must be"));
        assert!(index.search(&queries[..d + 1], 4).unwrap_err().to_string().contains("rows of 16"));
        let mut bad = queries.clone();
        bad[2 * d + 5] = f32::INFINITY;
        let e = index.search(&bad, 4).unwrap_err().to_string();
        assert_eq!(e, "queries: query 2 holds a non-finite value");
        // a single key
        let o = IndexOptions { device, ..opts(precision, None, None) };
        let one = Index::from_slice(&keys[..d], d, &o).unwrap();
        let got = one.search(&queries, 16).unwrap();
        assert_eq!((got.k, got.ids.clone()), (1, vec![0; 5]));
    }
    let on = IndexOptions { device, ..IndexOptions::default() };
    assert!(Index::from_slice(&[], d, &on).is_err());
    assert!(
        Index::from_slice(&[1.0, f32::NAN], 2, &on)
            .err()
            .expect("refused")
            .to_string()
            .contains("non-finite")
    );
}

#[test]
fn edge_cases() {
    check_edge_cases(tch::Device::Cpu);
}

/// An index made from a tensor (of another float kind) answers as one made from the same keys
/// as a slice.
#[test]
fn index_from_a_tensor_equals_index_from_a_slice() {
    let mut rng = Rng::new(9);
    let (n, d) = (700, 24);
    let keys = normalized(&mut rng, n, d);
    let queries = normalized(&mut rng, 20, d);
    let from_slice =
        Index::from_slice(&keys, d, &IndexOptions::default()).unwrap().search(&queries, 5).unwrap();
    assert_matches("from_slice", &from_slice, &reference(&keys, &queries, d, 5));
    let t = tch::Tensor::from_slice(&keys).view([n as i64, d as i64]).to_kind(tch::Kind::Double);
    let from_tensor =
        Index::from_tensor(t, &IndexOptions::default()).unwrap().search(&queries, 5).unwrap();
    assert_eq!(from_tensor, from_slice);
}

/// The screening type: both CPU choices are exact and give the same ids and score bits, the
/// index reports the type it uses, and `Auto` follows the CPU's bf16 instructions.
#[test]
fn bf16_and_f32_screening_give_the_same_results() {
    let mut rng = Rng::new(31);
    let d = 48;
    for (kind, keys, queries) in [
        ("random", normalized(&mut rng, 5000, d), normalized(&mut rng, 200, d)),
        ("clustered", clustered(&mut rng, 5000, d), clustered(&mut rng, 200, d)),
    ] {
        for k in [1, 16] {
            let want = reference(&keys, &queries, d, k);
            let run = |screening| {
                let o = IndexOptions { screening, ..opts(Precision::Fast, Some(700), Some(64)) };
                let index = Index::from_slice(&keys, d, &o).unwrap();
                assert_eq!(index.screening(), Some(screening), "{kind}");
                index.search(&queries, k).unwrap()
            };
            let (bf16, f32) = (run(Screening::Bf16), run(Screening::F32));
            assert_matches(&format!("{kind} k={k} bf16 screening"), &bf16, &want);
            assert_matches(&format!("{kind} k={k} f32 screening"), &f32, &want);
            assert_eq!(bf16.ids, f32.ids, "{kind} k {k}");
            let bits = |h: &Hits| h.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&bf16), bits(&f32), "{kind} k {k}");
        }
    }
    if std::env::var_os(retrieval::SCREENING_ENV).is_none() {
        let auto = Index::from_slice(&normalized(&mut rng, 10, d), d, &IndexOptions::default())
            .unwrap()
            .screening();
        let expected = if retrieval::cpu_has_bf16() { Screening::Bf16 } else { Screening::F32 };
        assert_eq!(auto, Some(expected));
    }
}

/// Allocations libtorch cannot make (a key set or a query batch of 2^45 rows, views of one
/// row) are errors that name the cause and the setting to change, not panics.
#[test]
fn absurd_allocations_are_errors_not_panics() {
    use tch::{Device, Kind, Tensor};
    let d = 8i64;
    let huge = || Tensor::ones([1, d], (Kind::Float, Device::Cpu)).expand([1 << 45, d], false);
    let e = Index::from_tensor(huge(), &IndexOptions::default()).err().expect("refused");
    let msg = e.to_string();
    assert!(matches!(e, retrieval::Error::OutOfMemory { .. }), "{msg}");
    assert!(msg.contains(&format!("out of cpu memory while holding {} keys", 1u64 << 45)), "{msg}");
    assert!(msg.contains("--device"), "{msg}");

    let mut rng = Rng::new(4);
    let keys = normalized(&mut rng, 300, d as usize);
    for precision in [Precision::F32, Precision::Fast] {
        let index = Index::from_slice(&keys, d as usize, &opts(precision, None, None)).unwrap();
        let e = index.search_tensor(&huge(), 16).expect_err("refused");
        let msg = e.to_string();
        assert!(matches!(e, retrieval::Error::OutOfMemory { .. }), "{precision:?}: {msg}");
        assert!(msg.contains(&format!("searching {} queries among 300 keys", 1u64 << 45)), "{msg}");
        assert!(msg.contains("--key-chunk") && msg.contains("--batch-size"), "{msg}");
    }
}

// CUDA: the same references on the GPU (f16 screening there). Ignored where no GPU is: run with
// `cargo test -p retrieval --test search -- --ignored` on a GPU machine (benches/gpu_check.sh).

fn cuda() -> tch::Device {
    assert!(tch::Cuda::is_available(), "this test needs a CUDA device (libtorch sees none)");
    tch::Device::Cuda(0)
}

fn cuda_opts(
    precision: Precision,
    key_chunk: Option<usize>,
    query_batch: Option<usize>,
) -> IndexOptions {
    IndexOptions { device: cuda(), ..opts(precision, key_chunk, query_batch) }
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_random_and_clustered_data_equal_brute_force() {
    let mut rng = Rng::new(11);
    for (d, n) in [(64, 6000), (512, 40_000)] {
        for kind in ["random", "clustered"] {
            let (keys, queries) = if kind == "random" {
                (normalized(&mut rng, n, d), normalized(&mut rng, 300, d))
            } else {
                (clustered(&mut rng, n, d), clustered(&mut rng, 300, d))
            };
            for k in [1, 16] {
                let want = reference(&keys, &queries, d, k);
                for precision in [Precision::F32, Precision::Fast] {
                    for (kc, qb) in [(None, None), (Some(7777), Some(64))] {
                        let index =
                            Index::from_slice(&keys, d, &cuda_opts(precision, kc, qb)).unwrap();
                        let got = index.search(&queries, k).unwrap();
                        let name = format!("cuda {kind} d={d} k={k} {precision:?} chunk={kc:?}");
                        assert_matches(&name, &got, &want);
                        eprintln!("{name}: ok ({} queries searched again in f32)", got.rescored);
                    }
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_chunked_and_unchunked_give_identical_results() {
    check_chunked_equals_unchunked(cuda());
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_edge_cases_and_ivf() {
    use retrieval::{IvfIndex, IvfOptions};
    check_edge_cases(cuda());
    let mut rng = Rng::new(21);
    let keys = clustered(&mut rng, 4000, 32);
    let queries = clustered(&mut rng, 100, 32);
    let all = IvfIndex::build(
        &keys,
        32,
        &IvfOptions { nprobe: Some(506), device: cuda(), ..IvfOptions::default() },
    )
    .unwrap();
    assert_matches(
        "cuda ivf nprobe = nlist",
        &all.search(&queries, 16).unwrap(),
        &reference(&keys, &queries, 32, 16),
    );
}

/// Keys that stress the screening product against 3 queries: random unit keys; keys equal to a
/// query with half its values negated (a score near 0 from partial sums near +-0.5); keys near
/// a query (scores near 1); keys with one large value and the rest tiny (f16 subnormals).
fn adversarial(rng: &mut Rng, n: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
    let queries = normalized(rng, 3, d);
    let mut keys = normalized(rng, n, d);
    for (i, key) in keys.chunks_mut(d).enumerate() {
        let q = &queries[(i % 3) * d..(i % 3 + 1) * d];
        match i % 4 {
            1 => key.iter_mut().zip(q).enumerate().for_each(|(j, (k, &v))| {
                *k = if j < d / 2 { v } else { -v } * (1.0 + 1e-3 * (rng.f32() - 0.5));
            }),
            2 => key.iter_mut().zip(q).for_each(|(k, &v)| *k = v + 0.01 * (rng.f32() - 0.5)),
            3 => key.iter_mut().enumerate().for_each(|(j, k)| {
                *k = if j == i % d { 1.0 } else { 3e-5 * (rng.f32() - 0.5) };
            }),
            _ => {}
        }
        let norm = key.iter().map(|x| x * x).sum::<f32>().sqrt();
        key.iter_mut().for_each(|x| *x /= norm);
    }
    (keys, queries)
}

/// Every screened score is within the index's bound of the pair's exact (f64) score, on
/// adversarial keys in score chunks of 100 (the last of 37), and the search's answers are the
/// exact ones.
fn check_screened_scores_within_the_bound(device: tch::Device, screening: Screening, n: usize) {
    use tch::{Kind, Tensor};
    let d = 768;
    let (keys, queries) = adversarial(&mut Rng::new(29), n, d);
    let o = IndexOptions { device, screening, key_chunk: Some(100), ..IndexOptions::default() };
    let index = Index::from_slice(&keys, d, &o).unwrap();
    let q = Tensor::from_slice(&queries).view([3, d as i64]);
    let m = 512;
    let (screened, ids) = index.screen_tensor(&q, m).unwrap();
    let k64 = Tensor::from_slice(&keys).view([n as i64, d as i64]).to_kind(Kind::Double);
    let ids = ids.to_device(tch::Device::Cpu);
    let rows = k64.index_select(0, &ids.flatten(0, -1)).view([3, m as i64, d as i64]);
    let exact = (rows * q.to_kind(Kind::Double).unsqueeze(1)).sum_dim_intlist(
        [-1i64].as_slice(),
        false,
        Kind::Double,
    );
    let err = (screened.to_device(tch::Device::Cpu).to_kind(Kind::Double) - exact).abs();
    let worst = err.max().double_value(&[]);
    let bound = index.screening_bound();
    eprintln!("{device:?} {screening:?}: worst screening error {worst:.3e}, bound {bound:.3e}");
    assert!(worst <= bound, "{device:?} {screening:?}: error {worst} above the bound {bound}");
    let got = index.search(&queries, 16).unwrap();
    assert_matches(&format!("{screening:?}"), &got, &reference(&keys, &queries, d, 16));
}

#[test]
fn screened_scores_stay_within_the_bound() {
    for screening in [Screening::F32, Screening::Bf16] {
        check_screened_scores_within_the_bound(tch::Device::Cpu, screening, 4096 + 37);
    }
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_screened_scores_stay_within_the_bound() {
    for screening in [Screening::F16, Screening::F32] {
        check_screened_scores_within_the_bound(cuda(), screening, 262_144 + 37);
    }
}
