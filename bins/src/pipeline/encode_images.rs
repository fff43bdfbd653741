//! `encode-images`: the visual context, `vis_ctx.hdf5`: the vision tower's pooled output for
//! every image of the Karpathy split.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{VisCtxReader, VisCtxWriter};

use super::images::{Inputs, Item, prepare, preprocess_of};
use super::output::{Failures, Open, RunIdentity, canonical, decide, model_fingerprint};
use super::{Common, OnError, Summary, maybe_abort, progress, shard};

/// Encode every COCO image (Karpathy split) with CLIP's vision tower into vis_ctx.hdf5.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Args {
    /// COCO root: annotations/ (captions_*2014.json, coco_*_ids.npy), train2014/, val2014/.
    #[arg(long)]
    pub dataset_root: PathBuf,
    /// Hugging Face CLIP checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Output file.
    #[arg(long, default_value = "outputs/image_features/vis_ctx.hdf5")]
    pub out: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::init_tracing(args.common.verbose, args.common.quiet);
    let started = Instant::now();
    let c = &args.common;
    let images = datasets::karpathy_images(&args.dataset_root)?;
    let shard = c.shard()?;
    let batch = c.batch_size.unwrap_or(64);
    let (images, out) = shard::apply(shard, images, batch, &args.out);
    let id = RunIdentity {
        tool: "encode-images",
        arguments: serde_json::json!({
            "dataset_root": canonical(&args.dataset_root),
            "model": canonical(&args.model),
            "model_sha256": model_fingerprint(&args.model)?,
            "shard": shard.map(|s| s.to_string()),
            "half": c.half,
        }),
    };
    let enc = c.load_model(&args.model)?;
    let fdim = enc.config().vision_config.hidden_size as usize;
    let (mut writer, done) =
        match decide(&out, &id, c.overwrite, |p| VisCtxReader::open(p)?.provenance())? {
            Open::Create => (VisCtxWriter::create(&out, fdim, &id.provenance(), true)?, Vec::new()),
            Open::Resume => VisCtxWriter::append(&out)?,
        };
    if writer.fdim() != fdim {
        bail!("{}: fdim {} but the model gives {fdim}", out.display(), writer.fdim());
    }
    let done: HashSet<u64> = done.into_iter().collect();
    let todo: Vec<Item> = images
        .iter()
        .filter(|i| !done.contains(&i.id))
        .map(|i| Item { id: i.id, path: i.path.clone() })
        .collect();
    let already = images.len() - todo.len();
    tracing::info!(images = images.len(), already, out = %out.display(), "encode-images");

    let mut failures = Failures::new(&out);
    let pb = progress(todo.len() as u64, "encode-images", c.quiet);
    let rx = prepare(
        todo,
        c.batch_size.unwrap_or(64),
        c.workers(),
        2,
        preprocess_of(&enc),
        Inputs::Whole,
    )?;
    let (mut written, mut batches) = (0, 0);
    let mut timings = super::Timings::default();
    let mut t = Instant::now();
    while let Ok(batch) = rx.recv() {
        super::Timings::lap(&mut timings.wait, &mut t);
        for (item, e) in &batch.failed {
            match c.on_error {
                OnError::Fail => bail!("image {} ({}): {e}", item.id, item.path.display()),
                OnError::Skip => {
                    failures.record(&item.id.to_string(), &item.path, &e.to_string())?
                }
            }
            pb.inc(1);
        }
        let Some(pixels) = &batch.pixels else { continue };
        let n = batch.items.len();
        let outp = enc.encode_image_tensor(pixels)?;
        let pooled = clip_encoder::to_vec_f32(&outp.pooled)?;
        super::Timings::lap(&mut timings.model, &mut t);
        let ids: Vec<u64> = batch.items.iter().map(|i| i.id).collect();
        writer.write_batch(&ids, &pooled).with_context(|| format!("writing {}", out.display()))?;
        super::Timings::lap(&mut timings.write, &mut t);
        written += n;
        batches += 1;
        pb.inc(n as u64);
        maybe_abort(batches);
    }
    writer.finish()?;
    timings.log("encode-images");
    pb.finish_and_clear();
    Summary {
        tool: "encode-images",
        what: "images",
        written,
        already,
        skipped: failures.count,
        started,
        out,
    }
    .print();
    finish(&failures)
}

/// Exit status: failure when anything was skipped.
pub(crate) fn finish(failures: &Failures) -> Result<ExitCode> {
    if failures.count > 0 {
        bail!(
            "{} inputs failed and were skipped; see {}",
            failures.count,
            failures.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
