//! Throughput of clip-encoder for benches/clip_vs_transformers.sh.
//!
//! `clip-bench CKPT MODE N BATCH [DEVICE] [half]` prints
//! `{"items_per_s": .., "items": N, "batch": B, "device": ..}` after one warm-up batch. Modes, each
//! copying to the host what its pipeline step writes:
//! - `images` (image embeds) and `images-grid` (HAAV: image embeds and every token's grid
//!   features), from host memory in f32, as a caller's slice;
//! - `images-resident` and `images-grid-resident`: the same with the batch already on the device;
//! - `texts` (the original's tokenisation; keys) and `texts-clip` (HAAV's clip.tokenize; keys and
//!   values);
//! - `tokens` and `tokens-clip`: the two tokenisations alone.
//!
//! `clip-bench CKPT half-error N BATCH [DEVICE]` prints the per-row relative error of fp16 against
//! fp32 for the original's four outputs and HAAV's grid (per token) and values (max and mean over
//! N images and N phrases).
use std::time::Instant;

use anyhow::{Context, Result};
use clip_encoder::{
    ClipEncoder, ImageOutputs, LoadOptions, Tokenization, parse_device, to_vec_f32,
};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, ckpt, mode, n, batch, rest @ ..] = args.as_slice() else {
        anyhow::bail!(
            "usage: clip-bench CKPT images|images-grid|images-resident|images-grid-resident|\
             texts|texts-clip|tokens|tokens-clip|half-error N BATCH [DEVICE] [half]"
        );
    };
    let (n, batch): (usize, usize) = (n.parse()?, batch.parse()?);
    let device = parse_device(rest.first().map_or("cpu", String::as_str))?;
    if mode == "half-error" {
        return half_error(ckpt, n, batch, device);
    }
    let half = rest.get(1).is_some_and(|s| s == "half");
    let enc = ClipEncoder::load(ckpt.as_ref(), &LoadOptions { device, half }).context("load")?;
    let grid =
        |m: &str| if m.contains("grid") { ImageOutputs::WithGrid } else { ImageOutputs::Pooled };
    // What the step copies to the host: the embeds, and the grid where asked for.
    let fetch = |out: &clip_encoder::ImageOutput| -> Result<()> {
        to_vec_f32(&out.embeds)?;
        if let Some(g) = &out.grid {
            to_vec_f32(g)?;
        }
        Ok(())
    };
    let run: Box<dyn Fn(usize) -> Result<()>> = match mode.as_str() {
        "images" | "images-grid" => {
            let s = enc.preprocess().size as usize;
            let mut rng = test_support::Rng::new(1);
            let pixels = rng.vec_f32(batch * 3 * s * s);
            let outputs = grid(mode);
            Box::new(move |b| {
                fetch(&enc.encode_images_with(&pixels[..b * 3 * s * s], b, outputs)?)
            })
        }
        // The model alone: the batch already on the device, in the model's kind.
        "images-resident" | "images-grid-resident" => {
            let s = i64::from(enc.preprocess().size);
            let pixels = tch::Tensor::randn([batch as i64, 3, s, s], (enc.kind(), device));
            let outputs = grid(mode);
            Box::new(move |b| {
                fetch(&enc.encode_image_tensor_with(&pixels.narrow(0, 0, b as i64), outputs)?)
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
        "texts-clip" => {
            let phrases = xctx_benches::phrases(batch);
            Box::new(move |b| {
                let out = enc.encode_texts_with(&phrases[..b], Tokenization::Clip)?;
                to_vec_f32(&out.keys)?;
                to_vec_f32(&out.values)?;
                Ok(())
            })
        }
        "tokens" | "tokens-clip" => {
            let phrases = xctx_benches::phrases(batch);
            let how = if mode == "tokens" { Tokenization::Original } else { Tokenization::Clip };
            Box::new(move |b| {
                enc.tokenizer().batch_with(&phrases[..b], how)?;
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

fn half_error(ckpt: &str, n: usize, batch: usize, device: clip_encoder::Device) -> Result<()> {
    let full = ClipEncoder::load(ckpt.as_ref(), &LoadOptions { device, half: false })?;
    let half = ClipEncoder::load(ckpt.as_ref(), &LoadOptions { device, half: true })?;
    let s = full.preprocess().size as usize;
    let mut rng = test_support::Rng::new(2);
    let phrases = xctx_benches::phrases(n);
    let mut errs: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    let mut rows = |name: &'static str, a: &tch::Tensor, b: &tch::Tensor| -> Result<()> {
        let w = a.size().last().copied().unwrap_or(1) as usize;
        let (a, b) = (to_vec_f32(a)?, to_vec_f32(b)?);
        for (x, y) in a.chunks(w).zip(b.chunks(w)) {
            let num: f64 = x.iter().zip(y).map(|(p, q)| f64::from(p - q).powi(2)).sum();
            let den: f64 = x.iter().map(|p| f64::from(*p).powi(2)).sum();
            errs.entry(name).or_default().push((num / den).sqrt());
        }
        Ok(())
    };
    for start in (0..n).step_by(batch) {
        let b = batch.min(n - start);
        // Pixels of CLIP's normalised range (about -1.8 .. 2.1).
        let pixels: Vec<f32> = rng.vec_f32(b * 3 * s * s).iter().map(|v| v * 3.8 - 1.8).collect();
        let grid = ImageOutputs::WithGrid;
        let (x, y) = (
            full.encode_images_with(&pixels, b, grid)?,
            half.encode_images_with(&pixels, b, grid)?,
        );
        rows("pooled", &x.pooled, &y.pooled)?;
        rows("image_embeds", &x.embeds, &y.embeds)?;
        if let (Some(gx), Some(gy)) = (&x.grid, &y.grid) {
            rows("grid", gx, gy)?;
        }
        let (x, y) = (
            full.encode_texts(&phrases[start..start + b])?,
            half.encode_texts(&phrases[start..start + b])?,
        );
        rows("features", &x.features, &y.features)?;
        rows("keys", &x.keys, &y.keys)?;
        let texts = &phrases[start..start + b];
        let (x, y) = (
            full.encode_texts_with(texts, Tokenization::Clip)?,
            half.encode_texts_with(texts, Tokenization::Clip)?,
        );
        rows("values", &x.values, &y.values)?;
    }
    let out: serde_json::Map<String, serde_json::Value> = errs
        .into_iter()
        .map(|(k, v)| {
            let max = v.iter().cloned().fold(0.0, f64::max);
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (k.to_string(), serde_json::json!({"max": max, "mean": mean}))
        })
        .collect();
    let line = serde_json::json!({"device": clip_encoder::device_name(device), "rows": n, "fp16_vs_fp32_row_relative_error": out});
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
