//! Search throughput for benches/retrieval_vs_faiss.sh.
//!
//! `retrieval-bench DIR K f32|fast|ivf [DEVICE]`: reads DIR/{keys,queries}.f32 and DIR/shape.json,
//! searches, prints `{"queries_per_s", "matmul_s", "search_s", "rescored", "ids_equal_faiss"}`
//! where `matmul_s` is the bare f32 and bf16 product `queries x keys^T` on the same device and
//! `ids_equal_faiss` compares with DIR/faiss_ids.i64 when present.
use std::time::Instant;

use anyhow::{Context, Result};
use retrieval::{Index, IndexOptions, Precision};
use tch::{Kind, Tensor};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, k, precision, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: retrieval-bench DIR K f32|fast [DEVICE]");
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
    let index = Index::from_slice(&keys, d, &opts)?;
    let q =
        Tensor::from_slice(&queries).view([(queries.len() / d) as i64, d as i64]).to_device(device);
    index.search_tensor(&q.narrow(0, 0, 64), k)?; // warm-up
    let t = Instant::now();
    let hits = index.search_tensor(&q, k)?;
    let search_s = t.elapsed().as_secs_f64();

    let kt = Tensor::from_slice(&keys).view([(keys.len() / d) as i64, d as i64]).to_device(device);
    let mut bare = serde_json::Map::new();
    for (name, kind) in [("f32", Kind::Float), ("bf16", Kind::BFloat16)] {
        let (a, b) = (q.to_kind(kind), kt.to_kind(kind));
        let _ = a.narrow(0, 0, 64).mm(&b.tr()); // warm-up
        let t = Instant::now();
        // The index's default query batch (512) and key chunk (32,768): the same products.
        let (nq, nk) = (a.size()[0], b.size()[0]);
        for start in (0..nq).step_by(512) {
            for kstart in (0..nk).step_by(32_768) {
                let s = a
                    .narrow(0, start, 512.min(nq - start))
                    .mm(&b.narrow(0, kstart, 32_768.min(nk - kstart)).tr());
                let _ = s.double_value(&[0, 0]);
            }
        }
        bare.insert(name.into(), t.elapsed().as_secs_f64().into());
    }
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
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

/// The original's IVF index rebuilt on tch: build time, queries/s, recall@k against faiss's exact
/// ids (DIR/faiss_ids.i64).
fn ivf(dir: &std::path::Path, keys: &[f32], queries: &[f32], d: usize, k: usize) -> Result<()> {
    let t = Instant::now();
    let index = retrieval::IvfIndex::build(keys, d, &retrieval::IvfOptions::default())?;
    let build_s = t.elapsed().as_secs_f64();
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
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
