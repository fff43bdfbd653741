//! `encode-images`: the visual context, `vis_ctx.hdf5`: the vision tower's pooled output for
//! every image of the Karpathy split.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use ctx_store::{VisCtxReader, VisCtxWriter};

use super::images::{self, Inputs};
use super::output::{Open, RunIdentity, canonical, decide};
use super::{Common, shard};

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
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let id = RunIdentity {
        tool: "encode-images",
        arguments: serde_json::json!({
            "dataset_root": canonical(&args.dataset_root),
            "model": canonical(&args.model),
            "model_sha256": model_sha256,
            "shard": shard.map(|s| s.to_string()),
            "half": c.half,
        }),
    };
    let fdim = enc.config().vision_config.hidden_size as usize;
    let (writer, done) =
        match decide(&out, &id, c.overwrite, |p| VisCtxReader::open(p)?.provenance())? {
            Open::Create => (VisCtxWriter::create(&out, fdim, &id.provenance(), true)?, Vec::new()),
            Open::Resume => VisCtxWriter::append(&out)?,
        };
    if writer.fdim() != fdim {
        bail!("{}: fdim {} but the model gives {fdim}", out.display(), writer.fdim());
    }
    let (todo, already) = images::todo(&images, done);
    tracing::info!(images = images.len(), already, out = %out.display(), "encode-images");

    let (mut failures, pb, rx) =
        images::start(&out, todo, "encode-images", c, batch, &enc, Inputs::Whole)?;
    let mut timings = super::Timings::default();
    let (written, writer) = images::drive(
        rx,
        writer,
        &out,
        c.on_error,
        &mut failures,
        &pb,
        &mut timings,
        |batch, pixels, timings| {
            let mut t = Instant::now();
            let pooled = clip_encoder::to_vec_f32(&enc.encode_image_tensor(pixels)?.pooled)?;
            super::Timings::lap(&mut timings.model, &mut t);
            let ids: Vec<u64> = batch.items.iter().map(|i| i.id).collect();
            Ok((ids.len(), move |w: &mut VisCtxWriter| Ok(w.write_batch(&ids, &pooled)?)))
        },
    )?;
    writer.finish()?;
    images::conclude("encode-images", &timings, &pb, written, already, &failures, started, out)
}
