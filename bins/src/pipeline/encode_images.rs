//! `encode-images`: the visual context, `vis_ctx.hdf5`: the vision tower's pooled output for
//! every image of the Karpathy split.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{VisCtxReader, VisCtxWriter};

use super::images::{self, Inputs};
use super::output::{Failures, Open, RunIdentity, canonical, decide};
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
    super::install_stop_handlers()?;
    let started = Instant::now();
    let c = &args.common;
    let images = datasets::karpathy_images(&args.dataset_root)?;
    let shard = c.shard()?;
    let batch = c.batch_size.unwrap_or(64);
    let (images, out) = shard::apply(shard, images, batch, &args.out);
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let id = identity(&args.dataset_root, &args.model, &model_sha256, shard, c.half);
    let (writer, done) = open(&out, &id, &enc, c.overwrite)?;
    let (todo, already) = images::todo(&images, &[&done]);
    tracing::info!(images = images.len(), already, out = %out.display(), "encode-images");

    let failures = Arc::new(Mutex::new(Failures::new(&out)));
    let pb = super::progress(todo.len() as u64, "encode-images", c.quiet);
    let flow = images::decoded(todo, c, batch, &enc, Inputs::Whole, &failures, &pb)?;
    let flow = images::encode(flow, enc)?;
    let path = out.clone();
    let flow = images::write_stage(
        flow,
        "write vis",
        writer,
        move |w, e| {
            write_pooled(w, &e, None).with_context(|| format!("writing {}", path.display()))
        },
        |w| Ok(w.finish()?),
    )?;
    let written = images::consume(flow, &pb, "encode-images")?;
    super::check_stopped("encode-images", written)?;
    images::conclude("encode-images", &pb, written, already, &failures, started, out)
}

/// The provenance of a vis_ctx file: the same whichever step writes it (`encode-images`, or
/// `retrieve-captions --vis-out`), so that either resumes the other's file.
pub fn identity(
    dataset_root: &Path,
    model: &Path,
    model_sha256: &str,
    shard: Option<super::Shard>,
    half: bool,
) -> RunIdentity {
    RunIdentity {
        tool: "encode-images",
        arguments: serde_json::json!({
            "dataset_root": canonical(dataset_root),
            "model": canonical(model),
            "model_sha256": model_sha256,
            "shard": shard.map(|s| s.to_string()),
            "half": half,
        }),
    }
}

/// Creates `out`, or opens it to resume (its provenance must be `id`'s); the writer and the
/// images it holds already.
pub fn open(
    out: &Path,
    id: &RunIdentity,
    enc: &clip_encoder::ClipEncoder,
    overwrite: bool,
) -> Result<(VisCtxWriter, HashSet<u64>)> {
    let fdim = enc.config().vision_config.hidden_size as usize;
    let (writer, done) = match decide(out, id, overwrite, |p| VisCtxReader::open(p)?.provenance())?
    {
        Open::Create => (VisCtxWriter::create(out, fdim, &id.provenance(), true)?, Vec::new()),
        Open::Resume => VisCtxWriter::append(out)?,
    };
    if writer.fdim() != fdim {
        bail!("{}: fdim {} but the model gives {fdim}", out.display(), writer.fdim());
    }
    Ok((writer, done.into_iter().collect()))
}

/// Writes a batch's pooled outputs, leaving out the images in `skip` (already in the file);
/// returns how many it wrote.
pub fn write_pooled(
    w: &mut VisCtxWriter,
    e: &images::Encoded,
    skip: Option<&HashSet<u64>>,
) -> Result<usize> {
    // One row per input; an image's first input is its whole view (the one vis_ctx holds).
    let (rows, width) = e.pooled.size2()?;
    let per = rows / (e.items.len() as i64).max(1);
    let whole = e.pooled.f_slice(0, 0, rows, per.max(1))?;
    let pooled = clip_encoder::to_vec_f32(&whole)?;
    let width = width as usize;
    anyhow::ensure!(pooled.len() == e.items.len() * width, "pooled rows do not match the batch");
    let (mut ids, mut rows) = (Vec::new(), Vec::new());
    for (i, it) in e.items.iter().enumerate() {
        if skip.is_some_and(|s| s.contains(&it.id)) {
            continue;
        }
        ids.push(it.id);
        rows.extend_from_slice(&pooled[i * width..(i + 1) * width]);
    }
    if !ids.is_empty() {
        w.write_batch(&ids, &rows)?;
    }
    Ok(ids.len())
}
