//! `encode-captions`: the phrase database of Visual Genome, encoded with CLIP's text tower into
//! `caption_db.hdf5` (keys, features, captions).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{CaptionDb, CaptionDbWriter, CaptionLayout};

use super::output::{Open, RunIdentity, canonical, decide, model_fingerprint};
use super::{Common, Summary, maybe_abort, progress, shard};

/// Build the Visual Genome phrase database and encode it with CLIP's text tower.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Args {
    /// Visual Genome annotations: attributes.json and relationships.json.
    #[arg(long)]
    pub ann_dir: PathBuf,
    /// Hugging Face CLIP checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Output file.
    #[arg(long, default_value = "outputs/captions_db/caption_db.hdf5")]
    pub out: PathBuf,
    /// original: a gzip group per batch, as the Python pipeline; contiguous: ours, faster to load.
    #[arg(long, value_enum, default_value = "original")]
    pub layout: Layout,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Original,
    Contiguous,
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::init_tracing(args.common.verbose, args.common.quiet);
    let started = Instant::now();
    let c = &args.common;
    let phrases = datasets::phrase_database(
        &args.ann_dir.join("attributes.json"),
        &args.ann_dir.join("relationships.json"),
    )?;
    let shard = c.shard()?;
    let batch = c.batch_size.unwrap_or(512);
    let (phrases, out) = shard::apply(shard, phrases, batch, &args.out);
    let layout = match args.layout {
        Layout::Original => CaptionLayout::Original,
        Layout::Contiguous => CaptionLayout::Contiguous,
    };
    let id = RunIdentity {
        tool: "encode-captions",
        arguments: serde_json::json!({
            "ann_dir": canonical(&args.ann_dir),
            "model": canonical(&args.model),
            "model_sha256": model_fingerprint(&args.model)?,
            "shard": shard.map(|s| s.to_string()),
            "layout": format!("{layout:?}"),
            "batch_size": batch,
            "half": c.half,
        }),
    };
    let enc = c.load_model(&args.model)?;
    let (kd, fd) =
        (enc.config().projection_dim as usize, enc.config().text_config.hidden_size as usize);
    let mut writer = match decide(&out, &id, c.overwrite, |p| CaptionDb::open(p)?.provenance())? {
        Open::Create => CaptionDbWriter::create(&out, layout, kd, fd, &id.provenance(), true)?,
        Open::Resume => CaptionDbWriter::append(&out)?,
    };
    let already = writer.rows();
    if already > phrases.len() {
        bail!(
            "{}: holds {already} phrases, more than the {} of this run",
            out.display(),
            phrases.len()
        );
    }
    tracing::info!(phrases = phrases.len(), already, out = %out.display(), "encode-captions");
    let pb = progress((phrases.len() - already) as u64, "encode-captions", c.quiet);
    let (mut written, mut batches) = (0, 0);
    for chunk in phrases[already..].chunks(batch) {
        let t = enc.encode_texts(chunk)?;
        let keys = clip_encoder::to_vec_f32(&t.keys)?;
        let feats = clip_encoder::to_vec_f32(&t.features)?;
        writer
            .write_batch(&keys, &feats, chunk)
            .with_context(|| format!("writing {}", out.display()))?;
        written += chunk.len();
        batches += 1;
        pb.inc(chunk.len() as u64);
        maybe_abort(batches);
    }
    writer.finish()?;
    pb.finish_and_clear();
    Summary {
        tool: "encode-captions",
        what: "phrases",
        written,
        already,
        skipped: 0,
        started,
        out,
    }
    .print();
    Ok(ExitCode::SUCCESS)
}
