//! Driver of `benches/ctx_store_vs_h5py.sh`: times ctx-store writing and preloading txt_ctx, and
//! prints one JSON line per measurement. Data come from `xctx_benches::txt_pool`, generated
//! before the clock starts.
//!
//! ```text
//! io-bench write   OUT N K D [BATCH]   # TxtCtxWriter, N images in batches of BATCH (256)
//! io-bench preload FILE                # TxtCtxReader::preload of every image
//! ```

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use ctx_store::{Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry};

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i)
        .with_context(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {name}: {:?}", args[i]))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut out = std::io::stdout().lock();
    match args.get(1).map(String::as_str) {
        Some("write") => {
            let path = &args[2];
            let (n, k, d): (usize, usize, usize) =
                (arg(&args, 3, "N")?, arg(&args, 4, "K")?, arg(&args, 5, "D")?);
            let batch: usize = args.get(6).map_or(Ok(256), |_| arg(&args, 6, "BATCH"))?;
            // One batch of distinct random images, renumbered for every batch (no copies timed).
            let mut entries: Vec<TxtEntry> = xctx_benches::txt_pool(batch, k, d);
            let start = Instant::now();
            let mut w = TxtCtxWriter::create(path, &Provenance::new("io-bench", "{}"), true)?;
            let mut first = 0;
            while first < n {
                let len = batch.min(n - first);
                for (i, e) in entries[..len].iter_mut().enumerate() {
                    e.id = (first + i) as u64;
                }
                w.write_batch(&entries[..len])?;
                first += len;
            }
            w.finish()?;
            let secs = start.elapsed().as_secs_f64();
            writeln!(out, "{}", serde_json::json!({"op": "write", "images": n, "seconds": secs}))?;
        }
        Some("preload") => {
            let path = &args[2];
            let start = Instant::now();
            let r = TxtCtxReader::open(path)?;
            let all = r.preload()?;
            let secs = start.elapsed().as_secs_f64();
            let bytes: usize = all.iter().map(xctx_benches::payload_bytes).sum();
            writeln!(
                out,
                "{}",
                serde_json::json!({"op": "preload", "images": all.len(), "seconds": secs,
                                   "payload_bytes": bytes, "peak_rss_bytes": peak_rss_bytes()})
            )?;
        }
        _ => bail!("usage: io-bench write OUT N K D [BATCH] | io-bench preload FILE"),
    }
    Ok(())
}
