//! Throughput of clip-encoder for benches/clip_vs_transformers.sh.
//!
//! `clip-bench CKPT images|texts N BATCH [DEVICE] [half]` prints
//! `{"items_per_s": .., "items": N, "batch": B, "device": ..}` after one warm-up batch.
use std::time::Instant;

use anyhow::{Context, Result};
use clip_encoder::{ClipEncoder, LoadOptions, parse_device, to_vec_f32};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, ckpt, mode, n, batch, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: clip-bench CKPT images|texts N BATCH [DEVICE] [half]");
    };
    let (n, batch): (usize, usize) = (n.parse()?, batch.parse()?);
    let device = parse_device(rest.first().map_or("cpu", String::as_str))?;
    let half = rest.get(1).is_some_and(|s| s == "half");
    let enc = ClipEncoder::load(ckpt.as_ref(), &LoadOptions { device, half }).context("load")?;
    let run: Box<dyn Fn(usize) -> Result<()>> = match mode.as_str() {
        "images" => {
            let s = enc.image_config().size as usize;
            let mut rng = test_support::Rng::new(1);
            let pixels = rng.vec_f32(batch * 3 * s * s);
            Box::new(move |b| {
                let out = enc.encode_images(&pixels[..b * 3 * s * s], b)?;
                to_vec_f32(&out.embeds)?;
                Ok(())
            })
        }
        "texts" => {
            let phrases = xctx_benches::phrases(batch);
            Box::new(move |b| {
                let out = enc.encode_texts(&phrases[..b])?;
                to_vec_f32(&out.keys)?;
                Ok(())
            })
        }
        m => anyhow::bail!("unknown mode {m}"),
    };
    run(batch)?;
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let b = batch.min(n - done);
        run(b)?;
        done += b;
    }
    let secs = t.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "items_per_s": n as f64 / secs, "items": n, "batch": batch,
        "device": clip_encoder::device_name(device), "half": half,
        "threads": tch::get_num_threads(),
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
