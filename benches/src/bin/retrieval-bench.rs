//! Search throughput for benches/retrieval_vs_faiss.sh.
//!
//! `retrieval-bench DIR K f32|fast|ivf [DEVICE]`: reads DIR/{keys,queries}.f32 and DIR/shape.json,
//! searches, prints `{"queries_per_s", "matmul_s", "search_s", "rescored", "ids_equal_faiss",
//! "screening"}` where `matmul_s` is the bare f32 and bf16 product `queries x keys^T` on the same
//! device, `screening` the type `Precision::Fast` screened in (`XCTX_SCREENING=bf16|f32` forces
//! one) and `ids_equal_faiss` compares with DIR/faiss_ids.i64 when present. `ivf` builds the
//! original's IVF index (`round(8 sqrt n)` lists, a tenth probed) and prints its build seconds
//! (k-means training and filling the lists), queries/s and recall@K against faiss's exact ids.
//!
//! `retrieval-bench synth N Q K [DEVICE]`: full scale on a device (benches/gpu_check.sh): N
//! clustered keys and Q queries of 512 dims made on the device, the fast (exact) search timed
//! end to end (results on the host), the bare low-precision products of the same chunks, the
//! card's own dense matrix-product rate, and the first 4,096 queries checked against the f32
//! search.
use std::time::Instant;

use anyhow::{Context, Result};
use retrieval::{Index, IndexOptions, Precision};
use tch::{Kind, Tensor};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, synth, n, q, k, rest @ ..] = args.as_slice()
        && synth == "synth"
    {
        let device = clip_encoder::parse_device(rest.first().map_or("cpu", String::as_str))?;
        return synthetic(n.parse()?, q.parse()?, k.parse()?, device);
    }
    let [_, dir, k, precision, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: retrieval-bench DIR K f32|fast|ivf [DEVICE]");
    };
    let dir = std::path::Path::new(dir);
    let k: usize = k.parse()?;
    let shape: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("shape.json"))?)?;
    let d = shape["d"].as_u64().context("d")? as usize;
    let keys = test_support::read_f32_file(&dir.join("keys.f32"));
    let queries = test_support::read_f32_file(&dir.join("queries.f32"));
    let device = clip_encoder::parse_device(rest.first().map_or("cpu", String::as_str))?;
    if precision == "ivf" {
        return ivf(dir, &keys, &queries, d, k);
    }
    let precision = if precision == "f32" { Precision::F32 } else { Precision::Fast };
    let mut opts = IndexOptions { device, precision, ..IndexOptions::default() };
    if let Some(c) = std::env::var("XCTX_CANDIDATES").ok().and_then(|c| c.parse().ok()) {
        opts.candidates = c;
    }
    if let Some(b) = std::env::var("XCTX_BLOCK").ok().and_then(|b| b.parse().ok()) {
        opts.block = Some(b);
    }
    if let Some(c) = std::env::var("XCTX_KEY_CHUNK").ok().and_then(|c| c.parse().ok()) {
        opts.key_chunk = Some(c);
    }
    if let Some(q) = std::env::var("XCTX_QUERY_BATCH").ok().and_then(|q| q.parse().ok()) {
        opts.query_batch = Some(q);
    }
    let index = Index::from_slice(&keys, d, &opts)?;
    let q =
        Tensor::from_slice(&queries).view([(queries.len() / d) as i64, d as i64]).to_device(device);
    index.search_tensor(&q.narrow(0, 0, 64), k)?; // warm-up
    let kt = Tensor::from_slice(&keys).view([(keys.len() / d) as i64, d as i64]).to_device(device);
    let low = [("f32", Kind::Float), ("bf16", Kind::BFloat16)]
        .map(|(name, kind)| (name, q.to_kind(kind), kt.to_kind(kind)));
    // Runs alternate (search, then the bare products) XCTX_REPEAT times (default 3); each figure
    // is the median of its runs, so a slow moment of this shared machine does not pick a side.
    let repeat: usize = std::env::var("XCTX_REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let (mut searches, mut bare) = (Vec::new(), vec![Vec::new(); 2]);
    let mut hits = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        hits = Some(index.search_tensor(&q, k)?);
        searches.push(t.elapsed().as_secs_f64());
        for ((_, a, b), runs) in low.iter().zip(&mut bare) {
            runs.push(retrieval::bare_products(a, b, index.query_batch(), index.key_chunk())?);
        }
    }
    let hits = hits.expect("one run");
    let search_s = median(&mut searches);
    let bare: serde_json::Map<String, serde_json::Value> = low
        .iter()
        .zip(&mut bare)
        .map(|((name, ..), runs)| (name.to_string(), median(runs).into()))
        .collect();
    let ours: Vec<u8> = hits.ids.iter().flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(dir.join("ours_ids.i64"), ours)?;
    let faiss = std::fs::read(dir.join("faiss_ids.i64")).ok().map(|b| {
        let ids: Vec<i64> =
            b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        ids.chunks(k).zip(hits.ids.chunks(k)).filter(|(a, b)| a == b).count()
    });
    let line = serde_json::json!({
        "queries_per_s": (queries.len() / d) as f64 / search_s, "search_s": search_s,
        "matmul_s": bare, "rescored": hits.rescored, "rows_equal_faiss": faiss,
        "threads": tch::get_num_threads(), "precision": format!("{precision:?}"),
        "screening": index.screening().map(|s| format!("{s:?}").to_lowercase()),
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

fn median(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// The original's IVF index rebuilt on tch: build time, queries/s, recall@k against faiss's exact
/// ids (DIR/faiss_ids.i64).
fn ivf(dir: &std::path::Path, keys: &[f32], queries: &[f32], d: usize, k: usize) -> Result<()> {
    let t = Instant::now();
    let index = retrieval::IvfIndex::build(keys, d, &retrieval::IvfOptions::default())?;
    let build_s = t.elapsed().as_secs_f64();
    let _ = index.search(&queries[..d.min(queries.len())], k)?; // warm-up
    let t = Instant::now();
    let hits = index.search(queries, k)?;
    let search_s = t.elapsed().as_secs_f64();
    let exact: Vec<i64> = std::fs::read(dir.join("faiss_ids.i64"))?
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let found: usize = hits
        .ids
        .chunks(k)
        .zip(exact.chunks(k))
        .map(|(g, w)| g.iter().filter(|i| w.contains(i)).count())
        .sum();
    let line = serde_json::json!({
        "ivf_queries_per_s": (queries.len() / d) as f64 / search_s, "ivf_build_s": build_s,
        "recall": found as f64 / exact.len() as f64, "nlist": index.nlist(),
        "nprobe": index.nprobe(), "threads": tch::get_num_threads(),
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

/// `n` unit rows of 512 around 4,096 random centres (so that near-ties abound), on `device`.
fn clustered(n: i64, device: tch::Device, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let opts = (Kind::Float, device);
    let centres = Tensor::randn([4096, 512], opts);
    let pick = Tensor::randint(4096, [n], (Kind::Int64, device));
    let x = centres.index_select(0, &pick) + Tensor::randn([n, 512], opts) * 0.5;
    let norm = x.norm_scalaropt_dim(2, [1], true);
    x / norm
}

fn sync(device: tch::Device) {
    if let tch::Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn synthetic(n: i64, q: i64, k: usize, device: tch::Device) -> Result<()> {
    let _g = tch::no_grad_guard();
    let keys = clustered(n, device, 1);
    let queries = clustered(q, device, 2);
    let t = Instant::now();
    let index = Index::from_tensor(
        keys.shallow_clone(),
        &IndexOptions { device, ..IndexOptions::default() },
    )?;
    sync(device);
    let index_s = t.elapsed().as_secs_f64();
    index.search_tensor(&queries.narrow(0, 0, 1024.min(q)), k)?; // warm-up
    sync(device);
    let t = Instant::now();
    let hits = index.search_tensor(&queries, k)?;
    let search_s = t.elapsed().as_secs_f64();

    // The same search without the block-maximum pre-selection, on an eighth of the queries.
    let part = (q / 8).max(1);
    let plain = Index::from_tensor(
        keys.shallow_clone(),
        &IndexOptions { device, block: Some(0), ..IndexOptions::default() },
    )?;
    sync(device);
    let t = Instant::now();
    let plain_hits = plain.search_tensor(&queries.narrow(0, 0, part), k)?;
    let plain_qps = part as f64 / t.elapsed().as_secs_f64();
    let plain_same = plain_hits.ids == hits.ids[..plain_hits.ids.len()];
    drop(plain);

    // The bare products of the same batches and chunks (the index's defaults on this device).
    let low = match index.screening() {
        Some(retrieval::Screening::F16) => Kind::Half,
        Some(retrieval::Screening::Bf16) => Kind::BFloat16,
        _ => Kind::Float,
    };
    let (a, b) = (queries.to_kind(low), keys.to_kind(low));
    sync(device);
    let bare_s = retrieval::bare_products(&a, &b, index.query_batch(), index.key_chunk())?;
    let flops = 2.0 * (q as f64) * (n as f64) * 512.0;

    // The card's dense rate in the same precision: 8192^3 products.
    let m = Tensor::randn([8192, 8192], (low, device));
    let _ = m.mm(&m);
    sync(device);
    let t = Instant::now();
    for _ in 0..10 {
        let _ = m.mm(&m);
    }
    sync(device);
    let peak = 10.0 * 2.0 * 8192f64.powi(3) / t.elapsed().as_secs_f64();

    // Exactness: the first 4,096 queries against the all-f32 search.
    let check = 4096.min(q);
    let f32_index = Index::from_tensor(
        keys,
        &IndexOptions { device, precision: Precision::F32, ..IndexOptions::default() },
    )?;
    let want = f32_index.search_tensor(&queries.narrow(0, 0, check), k)?;
    let kk = want.k;
    let got_ids = &hits.ids[..check as usize * kk];
    let got_scores = &hits.scores[..check as usize * kk];
    let rows_equal = got_ids.chunks(kk).zip(want.ids.chunks(kk)).filter(|(a, b)| a == b).count();
    let max_score_diff =
        got_scores.iter().zip(&want.scores).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);

    let line = serde_json::json!({
        "device": clip_encoder::device_name(device), "keys": n, "queries": q, "k": k,
        "index_s": index_s, "search_s": search_s, "queries_per_s": q as f64 / search_s,
        "bare_low_precision_products_s": bare_s,
        "search_over_bare": search_s / bare_s,
        "bare_tflops": flops / bare_s / 1e12, "search_tflops": flops / search_s / 1e12,
        "card_dense_tflops": peak / 1e12, "search_fraction_of_card": flops / search_s / peak,
        "searched_again_in_f32": hits.rescored,
        "without_block_max_queries_per_s": plain_qps, "without_block_max_same_ids": plain_same,
        "checked_queries": check, "rows_equal_f32_search": rows_equal,
        "max_score_diff_vs_f32": max_score_diff,
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
