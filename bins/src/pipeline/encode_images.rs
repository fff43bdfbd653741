//! `encode-images`: the visual context, `vis_ctx.hdf5`: the vision tower's pooled output for
//! every image of the Karpathy split.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clip_encoder::ImageOutputs;
use ctx_store::{HaavVisCtxReader, HaavVisCtxWriter, Profile, VisCtxReader, VisCtxWriter};

use super::Common;
use super::images::{self, Inputs};
use super::output::{Failures, Open, RunIdentity, canonical, decide};
use super::sources::ImageArgs;

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

/// The provenance of a vis_ctx file: the same whichever step writes it (`encode-images`, or
/// `retrieve-captions --vis-out`), so that either resumes the other's file.
pub fn identity(
    images: &ImageArgs,
    model: &Path,
    model_sha256: &str,
    shard: Option<super::Shard>,
    common: &Common,
) -> RunIdentity {
    let mut arguments = images.provenance();
    arguments.extend(
        serde_json::json!({
            "model": canonical(model),
            "model_sha256": model_sha256,
            "shard": shard.map(|s| s.to_string()),
            "half": common.half,
            "profile": common.profile.name(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    RunIdentity { tool: "encode-images", arguments: arguments.into() }
}

/// The vision outputs a vis_ctx of `profile` is written from.
pub fn outputs(profile: Profile) -> ImageOutputs {
    match profile {
        Profile::Original => ImageOutputs::Pooled,
        Profile::Haav => ImageOutputs::WithGrid,
    }
}

/// A vis_ctx writer of either profile.
pub enum VisWriter {
    Original(VisCtxWriter),
    Haav(HaavVisCtxWriter),
}

impl VisWriter {
    /// Writes a batch's images, leaving out those in `skip` (already in the file); returns how
    /// many it wrote.
    pub fn write(&mut self, e: &images::Encoded, skip: Option<&HashSet<u64>>) -> Result<usize> {
        let keep: Vec<usize> = (0..e.items.len())
            .filter(|&i| !skip.is_some_and(|s| s.contains(&e.items[i].id)))
            .collect();
        if keep.is_empty() {
            return Ok(0);
        }
        let ids: Vec<u64> = keep.iter().map(|&i| e.items[i].id).collect();
        let whole = |t| rows_of(&images::whole_views(t, e.items.len())?, &keep);
        match self {
            VisWriter::Original(w) => w.write_batch(&ids, &whole(&e.pooled)?)?,
            VisWriter::Haav(w) => {
                // The model stage kept the whole views' grids only.
                let grid = e.grid.as_ref().context("the model stage kept no grid")?;
                let tokens = grid.size().get(1).copied().unwrap_or(0) as usize;
                w.write_batch(&ids, tokens, &rows_of(grid, &keep)?, &whole(&e.embeds)?)?
            }
        }
        Ok(ids.len())
    }

    pub fn finish(self) -> Result<()> {
        match self {
            VisWriter::Original(w) => w.finish()?,
            VisWriter::Haav(w) => w.finish()?,
        }
        Ok(())
    }
}

/// Rows `keep` of `t`, as f32 values.
fn rows_of(t: &clip_encoder::Tensor, keep: &[usize]) -> Result<Vec<f32>> {
    let rows = t.size().first().copied().unwrap_or(0) as usize;
    if keep.len() == rows {
        return Ok(clip_encoder::to_vec_f32(t)?);
    }
    let index: Vec<i64> = keep.iter().map(|&i| i as i64).collect();
    let index = clip_encoder::Tensor::f_from_slice(&index)?.f_to_device(t.device())?;
    Ok(clip_encoder::to_vec_f32(&t.f_index_select(0, &index)?)?)
}

/// Creates `out`, or opens it to resume (its provenance must be `id`'s); the writer and the
/// images it holds already.
pub fn open(
    out: &Path,
    id: &RunIdentity,
    enc: &clip_encoder::ClipEncoder,
    profile: Profile,
    overwrite: bool,
) -> Result<(VisWriter, HashSet<u64>)> {
    let width = enc.config().vision_config.hidden_size as usize;
    let proj = enc.config().projection_dim as usize;
    let prov = id.provenance();
    let (writer, done) = match profile {
        Profile::Original => {
            let existing = |p: &Path| VisCtxReader::open(p)?.provenance();
            let (w, done) = match decide(out, id, overwrite, existing)? {
                Open::Create => (VisCtxWriter::create(out, width, &prov, true)?, Vec::new()),
                Open::Resume => VisCtxWriter::append(out)?,
            };
            if w.fdim() != width {
                bail!("{}: fdim {} but the model gives {width}", out.display(), w.fdim());
            }
            (VisWriter::Original(w), done)
        }
        Profile::Haav => {
            let existing = |p: &Path| HaavVisCtxReader::open(p)?.provenance();
            let (w, done) = match decide(out, id, overwrite, existing)? {
                Open::Create => {
                    (HaavVisCtxWriter::create(out, width, proj, &prov, true)?, Vec::new())
                }
                Open::Resume => HaavVisCtxWriter::append(out)?,
            };
            if (w.fdim_grid(), w.fdim_pooled()) != (width, proj) {
                bail!(
                    "{}: fdim_grid {}, fdim_pooled {}, but the model gives {width} and {proj}",
                    out.display(),
                    w.fdim_grid(),
                    w.fdim_pooled()
                );
            }
            (VisWriter::Haav(w), done)
        }
    };
    Ok((writer, done.into_iter().collect()))
}
