//! Driver of `benches/crops_vs_python.sh`: decode + 15 crops + CLIP preprocessing of every JPEG
//! in a directory with `crops`, on a rayon pool of THREADS, into f32 (as a full-precision model
//! takes them), f16 (a half-precision one) or u8 (levels a CUDA model normalises on its device),
//! and the decode-only floor (`decode-only`: Pillow's exact JPEG decoder; `decode-fast`: the
//! SIMD zune-jpeg one, whose levels differ from Pillow's by a few); or, with `device`, the crops
//! resized by libtorch's integer tensor operations (`DeviceCrops`, on the CPU here): the host's
//! part (retrieve-captions' decoding stage with `--resize device`, THREADS workers, its default
//! batches of 32: the images decoded into the batch's buffer, the crops' plans and the batch's tables) and
//! the device's part timed apart, with the bytes and multiply-adds per image, and the host's
//! part split by step (`device-host`: the host's part only).
//!
//! ```text
//! crops-bench DIR THREADS [decode-only | decode-fast | f16 | u8 | device | device-host]
//! ```

use std::io::Write;
use std::time::Instant;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).context("missing DIR")?;
    let threads: usize = args.get(2).context("missing THREADS")?.parse()?;
    let fast = args.get(3).is_some_and(|a| a == "decode-fast");
    let decode_only = fast || args.get(3).is_some_and(|a| a == "decode-only");
    let jpeg = if fast { crops::JpegDecoder::Fast } else { crops::JpegDecoder::Exact };
    let half = args.get(3).is_some_and(|a| a == "f16");
    let levels = args.get(3).is_some_and(|a| a == "u8");
    if let Some(mode @ ("device" | "device-host")) = args.get(3).map(String::as_str) {
        let paths = xctx_benches::jpegs(std::path::Path::new(dir))?;
        return device(&paths, threads, mode == "device");
    }
    let paths = xctx_benches::jpegs(std::path::Path::new(dir))?;
    let p = crops::ClipPreprocess::default();
    let (start, cpu) = (Instant::now(), xctx_benches::cpu_seconds());
    let ok = if decode_only {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        pool.install(|| {
            use rayon::prelude::*;
            let decode = |f: &std::path::PathBuf| {
                let bytes = std::fs::read(f).ok()?;
                crops::decode_bytes_with(f, &bytes, jpeg).ok()
            };
            paths.par_iter().filter(|f| decode(f).is_some()).count()
        })
    } else if half {
        xctx_benches::crops_loop::<crops::f16>(&paths, threads, &p)?
    } else if levels {
        xctx_benches::crops_loop::<u8>(&paths, threads, &p)?
    } else {
        xctx_benches::crops_loop::<f32>(&paths, threads, &p)?
    };
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu.zip(xctx_benches::cpu_seconds()).map(|(a, b)| b - a);
    anyhow::ensure!(ok == paths.len(), "{} of {} images failed", paths.len() - ok, paths.len());
    let op = match (decode_only, half, levels) {
        (true, ..) if fast => "decode (zune-jpeg)",
        (true, ..) => "decode",
        (_, true, _) => "decode+15 crops+preprocess (f16)",
        (.., true) => "decode+15 crops+preprocess (u8 levels)",
        _ => "decode+15 crops+preprocess",
    };
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"op": op, "threads": threads, "images": paths.len(), "seconds": secs,
                           "cpu_seconds": cpu, "images_per_s": paths.len() as f64 / secs})
    )?;
    Ok(())
}

/// The `device` mode (`device-host`: the host's part only): see the file's description.
fn device(paths: &[std::path::PathBuf], threads: usize, run_device: bool) -> anyhow::Result<()> {
    use std::sync::Arc;
    use xctx_bins::pipeline::decode::{self, Inputs, Item, Options};
    use xctx_bins::pipeline::step_times::StepTimes;
    // retrieve-captions' default batch.
    const BATCH: usize = xctx_bins::pipeline::retrieve::BATCH_SIZE;
    let times = Arc::new(StepTimes::default());
    let items: Vec<Item> =
        paths.iter().enumerate().map(|(i, p)| Item::file(i as u64, p.clone())).collect();
    // retrieve-captions' decoding stage with `--resize device`, as it runs on the CPU.
    let opts = Options {
        batch: BATCH,
        workers: threads,
        ahead: 2,
        pre: crops::ClipPreprocess::default(),
        inputs: Inputs::Crops,
        kind: tch::Kind::Uint8,
        pin: None,
        device_crops: true,
        times: Some(Arc::clone(&times)),
    };
    let (start, cpu) = (Instant::now(), xctx_benches::cpu_seconds());
    let flow = decode::batches(items, opts)?;
    // The device's part runs after the host's, on the batches kept (`device` only: keeping them
    // makes the stage take a new buffer per batch).
    let mut kept = Vec::new();
    let (mut images, mut image_bytes, mut cost) = (0, 0, clip_encoder::CropCost::default());
    while let Some(b) = flow.recv() {
        anyhow::ensure!(b.failed.is_empty(), "{} images failed", b.failed.len());
        let (Some(px), Some(dc)) = (&b.pixels, &b.crops) else { continue };
        images += b.items.len();
        image_bytes += px.numel();
        let c = dc.cost();
        cost.table_bytes += c.table_bytes;
        cost.multiply_adds += c.multiply_adds;
        cost.output_bytes += c.output_bytes;
        if run_device {
            kept.push(b);
        }
    }
    flow.finish()?;
    let host_s = start.elapsed().as_secs_f64();
    let host_cpu = cpu.zip(xctx_benches::cpu_seconds()).map(|(a, b)| b - a);
    anyhow::ensure!(images == paths.len(), "{images} of {} images handed on", paths.len());
    tch::set_num_threads(threads as i32);
    let start = Instant::now();
    for b in &kept {
        let (px, dc) = (b.pixels.as_ref().expect("kept"), b.crops.as_ref().expect("kept"));
        let levels = dc.levels(px)?;
        anyhow::ensure!(levels.size()[0] as usize == dc.len(), "crops of a batch");
    }
    let device_s = start.elapsed().as_secs_f64();
    let n = paths.len() as f64;
    let steps: serde_json::Map<String, serde_json::Value> =
        times.seconds().into_iter().map(|(k, s)| (k.to_owned(), (1000.0 * s / n).into())).collect();
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"op": "device crops (libtorch on the CPU)", "threads": threads,
            "images": paths.len(), "batch": BATCH,
            "host_seconds": host_s, "host_cpu_seconds": host_cpu,
            "host_images_per_s": n / host_s,
            "device_seconds": run_device.then_some(device_s),
            "device_images_per_s": run_device.then_some(n / device_s),
            "host_ms_per_image": steps,
            "per_image": {"image_bytes": image_bytes as f64 / n,
                          "table_bytes": cost.table_bytes as f64 / n,
                          "output_level_bytes": cost.output_bytes as f64 / n,
                          "multiply_adds": cost.multiply_adds as f64 / n}})
    )?;
    Ok(())
}
