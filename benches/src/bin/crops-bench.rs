//! Driver of `benches/crops_vs_python.sh`: decode + 15 crops + CLIP preprocessing of every JPEG
//! in a directory with `crops`, on a rayon pool of THREADS, into f32 (as a full-precision model
//! takes them), f16 (a half-precision one) or u8 (levels a CUDA model normalises on its device),
//! and the decode-only floor.
//!
//! ```text
//! crops-bench DIR THREADS [decode-only | f16 | u8]
//! ```

use std::io::Write;
use std::time::Instant;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).context("missing DIR")?;
    let threads: usize = args.get(2).context("missing THREADS")?.parse()?;
    let decode_only = args.get(3).is_some_and(|a| a == "decode-only");
    let half = args.get(3).is_some_and(|a| a == "f16");
    let levels = args.get(3).is_some_and(|a| a == "u8");
    let paths = xctx_benches::jpegs(std::path::Path::new(dir))?;
    let p = crops::ClipPreprocess::default();
    let start = Instant::now();
    let ok = if decode_only {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        pool.install(|| {
            use rayon::prelude::*;
            paths.par_iter().filter(|f| crops::decode(f).is_ok()).count()
        })
    } else if half {
        xctx_benches::crops_loop::<crops::f16>(&paths, threads, &p)?
    } else if levels {
        xctx_benches::crops_loop::<u8>(&paths, threads, &p)?
    } else {
        xctx_benches::crops_loop::<f32>(&paths, threads, &p)?
    };
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(ok == paths.len(), "{} of {} images failed", paths.len() - ok, paths.len());
    let op = match (decode_only, half, levels) {
        (true, ..) => "decode",
        (_, true, _) => "decode+15 crops+preprocess (f16)",
        (.., true) => "decode+15 crops+preprocess (u8 levels)",
        _ => "decode+15 crops+preprocess",
    };
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"op": op, "threads": threads, "images": paths.len(), "seconds": secs,
                           "images_per_s": paths.len() as f64 / secs})
    )?;
    Ok(())
}
