//! Driver of `benches/crops_vs_python.sh`: decode + 15 crops + CLIP preprocessing of every JPEG
//! in a directory with `crops`, on a rayon pool of THREADS, into f32 (as a full-precision model
//! takes them) or f16 (a half-precision one), and the decode-only floor.
//!
//! ```text
//! crops-bench DIR THREADS [decode-only | f16]
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
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let p = crops::ClipPreprocess::default();
    let start = Instant::now();
    let ok = pool.install(|| {
        use rayon::prelude::*;
        if decode_only {
            paths.par_iter().filter(|f| crops::decode(f).is_ok()).count()
        } else if half {
            paths
                .par_iter()
                .map_init(
                    || vec![crops::f16::ZERO; crops::INPUTS_PER_IMAGE * p.len()],
                    |buf, f| crops::decode(f).and_then(|img| p.image_crops_into(&img, buf)),
                )
                .filter(Result::is_ok)
                .count()
        } else {
            // Each worker preprocesses into one reused buffer, as the pipeline does (and as the
            // Python reference drops each image's array before the next).
            paths
                .par_iter()
                .map_init(
                    || vec![0f32; crops::INPUTS_PER_IMAGE * p.len()],
                    |buf, f| crops::decode(f).and_then(|img| p.image_crops_into(&img, buf)),
                )
                .filter(Result::is_ok)
                .count()
        }
    });
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(ok == paths.len(), "{} of {} images failed", paths.len() - ok, paths.len());
    let op = match (decode_only, half) {
        (true, _) => "decode",
        (_, true) => "decode+15 crops+preprocess (f16)",
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
