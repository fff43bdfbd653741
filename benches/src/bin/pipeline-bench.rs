//! The image pipeline's CPU side against `crops-bench`'s loop, in the same run: retrieve-captions'
//! stages (decoding workers into batch buffers, the bad-image check, a model stage, a search
//! stage) with the model and the search replaced by stand-ins that return fixed embeddings and
//! fixed hits, so that what is timed is the decoding and what the stages add to it.
//!
//! ```text
//! pipeline-bench DIR THREADS [BATCH] [f32 | f16 | u8 | device]
//! ```
//!
//! The last argument is the element type both write (f32 by default: a CPU model's; a CUDA
//! model takes u8 levels, normalised on the device), or `device`: the pipeline only decodes and
//! packs the images for crops resized on the device (`--resize device`; the stand-in model does
//! not crop them), against a loop that only decodes.
//!
//! The two alternate `REPEAT` times (default 3). Prints one JSON line: images/s of both in each
//! round, their ratio and its median (the target: at least 0.9), the CPU seconds of each (the
//! whole process's, all threads: the pipeline's stages overlap the decoding, which a wall clock
//! hides) and the pipeline's over the loop's, and the last round's clocks of each stage.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use tch::{Device, Kind, Tensor};
use xctx_bins::pipeline::decode::{self, Inputs, Item, Options};
use xctx_bins::pipeline::stages::Report;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir =
        args.get(1).context("usage: pipeline-bench DIR THREADS [BATCH] [f32|f16|u8|device]")?;
    let threads: usize = args.get(2).context("missing THREADS")?.parse()?;
    let batch: usize = args.get(3).map_or(Ok(32), |b| b.parse())?;
    let kind = match args.get(4).map(String::as_str) {
        None | Some("f32") => Kind::Float,
        Some("f16") => Kind::Half,
        Some("u8") | Some("device") => Kind::Uint8,
        Some(other) => anyhow::bail!("element type {other:?}: expected f32, f16, u8 or device"),
    };
    let device_crops = args.get(4).is_some_and(|a| a == "device");
    let paths = xctx_benches::jpegs(std::path::Path::new(dir))?;
    anyhow::ensure!(!paths.is_empty(), "no .jpg files in {dir}");
    let pre = crops::ClipPreprocess::default();
    let repeat: usize = std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(3);

    // The two alternate REPEAT times (this machine's load changes from minute to minute); the
    // ratio of each round and their median are printed.
    let (mut rounds, mut report) = (Vec::new(), None);
    for _ in 0..repeat.max(1) {
        let (t, cpu) = (Instant::now(), xctx_benches::cpu_seconds());
        let ok = match kind {
            _ if device_crops => {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
                pool.install(|| {
                    use rayon::prelude::*;
                    paths.par_iter().filter(|f| crops::decode(f).is_ok()).count()
                })
            }
            Kind::Half => xctx_benches::crops_loop::<crops::f16>(&paths, threads, &pre)?,
            Kind::Uint8 => xctx_benches::crops_loop::<u8>(&paths, threads, &pre)?,
            _ => xctx_benches::crops_loop::<f32>(&paths, threads, &pre)?,
        };
        let loop_s = t.elapsed().as_secs_f64();
        let loop_cpu = cpu.zip(xctx_benches::cpu_seconds()).map(|(a, b)| b - a);
        anyhow::ensure!(ok == paths.len(), "{} images failed", paths.len() - ok);
        let items: Vec<Item> =
            paths.iter().enumerate().map(|(i, p)| Item::file(i as u64, p.clone())).collect();
        let (t, cpu) = (Instant::now(), xctx_benches::cpu_seconds());
        let (images, r) = pipeline(items, threads, batch, pre.clone(), kind, device_crops)?;
        let pipeline_s = t.elapsed().as_secs_f64();
        let pipeline_cpu = cpu.zip(xctx_benches::cpu_seconds()).map(|(a, b)| b - a);
        anyhow::ensure!(
            images == paths.len(),
            "the pipeline handed on {images} of {}",
            paths.len()
        );
        let (a, b) = (paths.len() as f64 / loop_s, paths.len() as f64 / pipeline_s);
        let cpu_ratio = loop_cpu.zip(pipeline_cpu).map(|(l, p)| p / l);
        rounds.push((a, b, b / a, loop_cpu, pipeline_cpu, cpu_ratio));
        report = Some(r);
    }
    let report = report.expect("one round at least");
    let mut ratios: Vec<f64> = rounds.iter().map(|r| r.2).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let stages: Vec<_> = report
        .stages
        .iter()
        .map(|s| {
            serde_json::json!({"stage": s.name, "busy_s": s.busy.as_secs_f64(),
                               "waiting_for_input_s": s.idle.as_secs_f64(),
                               "waiting_for_room_s": s.blocked.as_secs_f64(), "items": s.items})
        })
        .collect();
    let rounds: Vec<_> = rounds
        .iter()
        .map(|(a, b, r, lc, pc, cr)| {
            let baseline = if device_crops { "decode_loop" } else { "crops_loop" };
            serde_json::json!({format!("{baseline}_images_per_s"): a,
                               "pipeline_images_per_s": b, "ratio": r,
                               format!("{baseline}_cpu_s"): lc, "pipeline_cpu_s": pc,
                               "cpu_ratio": cr})
        })
        .collect();
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"threads": threads, "images": paths.len(), "batch": batch,
            "element": if device_crops { "device crops".to_owned() } else { format!("{kind:?}") },
            "rounds": rounds, "median_ratio": median, "last_round_stages": stages})
    )?;
    Ok(())
}

/// decode -> check -> model (stand-in) -> search (stand-in) -> the caller, as retrieve-captions.
fn pipeline(
    items: Vec<Item>,
    threads: usize,
    batch: usize,
    pre: crops::ClipPreprocess,
    kind: Kind,
    device_crops: bool,
) -> anyhow::Result<(usize, Report)> {
    let failed = Arc::new(Mutex::new(0usize));
    let f = Arc::clone(&failed);
    let inputs = Inputs::Crops;
    let fixed =
        Tensor::f_ones([(batch * inputs.per_image()) as i64, 512], (Kind::Float, Device::Cpu))?;
    let opts = Options {
        batch,
        workers: threads,
        ahead: 2,
        pre,
        inputs,
        kind,
        pin: None,
        device_crops,
        times: None,
    };
    let flow = decode::batches(items, opts)?
        .stage("check", 1, move |input, out| {
            while let Some(b) = input.recv() {
                *f.lock().unwrap() += b.failed.len();
                if b.pixels.is_some() && out.send(b).is_err() {
                    break;
                }
            }
            Ok(())
        })?
        .map("model (stand-in)", 1, move |b| {
            // Fixed embeddings of the model's output shape, views of one tensor made beforehand
            // (filling a new one per batch ran an OpenMP loop whose spinning threads took CPU
            // time a model on a device does not). The pixels are not read: a real model's
            // reading runs on the device (or on libtorch's threads on the CPU), not on the
            // stages measured here.
            let px = b.pixels.as_ref().expect("checked");
            let rows = match &b.crops {
                Some(c) => c.len() as i64,
                None => px.size()[0],
            };
            Ok((b.items, fixed.f_narrow(0, 0, rows)?))
        })?
        .map("search (stand-in)", 2, |(items, embeds): (Vec<Item>, Tensor)| {
            let rows = embeds.size()[0] as usize;
            let hits = retrieval::Hits {
                k: 16,
                scores: vec![0.5; rows * 16],
                ids: vec![0; rows * 16],
                rescored: 0,
                widened: 0,
            };
            Ok((items.len(), hits))
        })?;
    let mut images = 0;
    while let Some((n, _hits)) = flow.recv() {
        images += n;
    }
    let report = flow.finish()?;
    anyhow::ensure!(*failed.lock().unwrap() == 0, "images failed to decode");
    Ok((images, report))
}
