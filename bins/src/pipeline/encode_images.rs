//! `encode-images`: the visual context, `vis_ctx.hdf5`: the vision tower's pooled output for
//! every image of the Karpathy split.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::Common;
use super::images::{self, Inputs};
use super::output::Failures;
use super::sources::ImageArgs;
use super::vis_out::{VisWriter, identity, open, outputs};

/// Images per model batch unless `--batch-size` says otherwise.
pub const BATCH_SIZE: usize = 64;

/// Encode every image (COCO's Karpathy split, or --images SOURCE) with CLIP's vision tower into
/// vis_ctx.hdf5: the pooled output per image (original profile), or the token grid and the
/// projected embedding (HAAV's).
#[derive(Debug, clap::Parser)]
#[command(name = "encode-images", version)]
pub struct Args {
    #[command(flatten)]
    pub images: ImageArgs,
    /// Hugging Face CLIP checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Output file.
    #[arg(long, default_value = "outputs/image_features/vis_ctx.hdf5")]
    pub out: PathBuf,
    /// Images per model batch.
    #[arg(long, default_value_t = BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.common.log.init();
    ctx_store::set_sync_policy(args.common.sync);
    super::install_stop_handlers()?;
    let started = Instant::now();
    let c = &args.common;
    let shard = c.shard()?;
    let batch = args.batch_size;
    let (images, out) = args.images.load(shard, batch, &args.out)?;
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let id = identity(&args.images, &args.model, &model_sha256, shard, c);
    let (writer, done) = open(&out, &id, &enc, c.profile, c.overwrite)?;
    let (todo, already) = images::todo(&images, &[&done]);
    tracing::info!(images = images.len(), already, out = %out.display(), "encode-images");

    let failures = Arc::new(Mutex::new(Failures::new(&out)));
    let pb = super::progress(todo.len() as u64, "encode-images", c.log.quiet);
    let flow = images::decoded(todo, c, batch, &enc, Inputs::Whole, &failures, &pb)?;
    let flow = images::encode(flow, enc, outputs(c.profile))?;
    let path = out.clone();
    let flow = images::write_stage(
        flow,
        "write vis",
        writer,
        move |w, e| w.write(&e, None).with_context(|| format!("writing {}", path.display())),
        VisWriter::finish,
    )?;
    let written = images::consume(flow, &pb, "encode-images")?;
    super::check_stopped("encode-images", written)?;
    images::conclude("encode-images", &pb, written, already, &failures, started, out)
}
