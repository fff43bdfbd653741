//! `encode-captions`: the phrase database of Visual Genome (or a text database), encoded with
//! CLIP's text tower into `caption_db.hdf5` (keys, features, captions).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clip_encoder::Tokenization;
use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, HaavCaptionDb, HaavCaptionDbWriter, Profile,
};

use super::output::{Open, RunIdentity, canonical, decide};
use super::texts::TextArgs;
use super::{StepFlags, Summary, images, progress, shard, stages};

/// Phrases per model batch unless `--batch-size` says otherwise.
pub const BATCH_SIZE: usize = 512;

/// Build the Visual Genome phrase database (or read a text database, --texts) and encode it with
/// CLIP's text tower (HAAV's profile: keys and pre-layer-norm `values`, OpenAI clip's
/// tokenisation).
#[derive(Debug, clap::Parser)]
#[command(name = "encode-captions", version)]
pub struct Args {
    #[command(flatten)]
    pub texts: TextArgs,
    /// Hugging Face CLIP checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Output file.
    #[arg(long, default_value = "outputs/captions_db/caption_db.hdf5")]
    pub out: PathBuf,
    /// contiguous: ours (three chunked datasets, floats uncompressed), about 10x faster to write
    /// on a GPU machine and faster to load; original: a gzip group per batch, as the Python
    /// pipeline wrote it (h5py sees the original's file). retrieve-captions reads both.
    /// [default: contiguous; --profile haav has one layout, HAAV's gzip group per batch]
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Phrases per model batch.
    #[arg(long, default_value_t = BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: StepFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Original,
    Contiguous,
}

/// The database layout of `--layout` (none: contiguous; `--profile haav` has one layout and
/// refuses the flag).
pub fn layout(profile: Profile, flag: Option<Layout>) -> Result<CaptionLayout> {
    Ok(match (profile, flag) {
        (Profile::Haav, Some(_)) => bail!(
            "--layout is for --profile original; HAAV's caption_db has one layout (a gzip group \
             per batch of keys, values and captions)"
        ),
        (_, Some(Layout::Original)) => CaptionLayout::Original,
        (_, Some(Layout::Contiguous) | None) => CaptionLayout::Contiguous,
    })
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.common.log.init();
    ctx_store::set_sync_policy(args.common.sync);
    super::install_stop_handlers()?;
    let started = Instant::now();
    let c = &args.common;
    let (phrases, sources) = args.texts.load(&args.model)?;
    let shard = c.shard()?;
    let batch = args.batch_size;
    let (phrases, out) = shard::apply(shard, phrases, batch, &args.out);
    let sources = sources.map(|s| shard::apply(shard, s, batch, &args.out).0);
    let profile = c.profile;
    let layout = layout(profile, args.layout)?;
    // HAAV's scripts tokenise with OpenAI clip's tokenize (77 tokens; longer phrases cut there).
    let tokenization = match profile {
        Profile::Original => Tokenization::Original,
        Profile::Haav => Tokenization::Clip,
    };
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let mut arguments = args.texts.provenance();
    arguments.extend(
        serde_json::json!({
            "model": canonical(&args.model),
            "model_sha256": model_sha256,
            "shard": shard.map(|s| s.to_string()),
            "layout": match profile {
                Profile::Original => format!("{layout:?}"),
                Profile::Haav => "haav".into(),
            },
            "batch_size": batch,
            "half": c.half,
            "profile": profile.name(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let id = RunIdentity { tool: "encode-captions", arguments: arguments.into() };
    let (kd, fd) =
        (enc.config().projection_dim as usize, enc.config().text_config.hidden_size as usize);
    let writer = DbWriter::open(&out, &id, profile, layout, (kd, fd), c.overwrite)?;
    let already = writer.rows();
    if already > phrases.len() {
        bail!(
            "{}: holds {already} phrases, more than the {} of this run",
            out.display(),
            phrases.len()
        );
    }
    tracing::info!(phrases = phrases.len(), already, out = %out.display(), "encode-captions");
    let pb = progress((phrases.len() - already) as u64, "encode-captions", c.log.quiet);
    // Tokenizing (on the CPU threads) runs ahead of the model; writing runs behind it.
    let todo: Arc<Vec<String>> = Arc::new(phrases[already..].to_vec());
    drop(phrases);
    // Each batch's sources, cut like its phrases.
    let sources = sources.map(|s| s[already..].to_vec());
    // The source thread's own tokenizer (the model's stays with it on the model thread).
    let tokenizer = clip_encoder::ClipTokenizer::from_file(enc.tokenizer().path())?;
    let flow = stages::source("tokenize", 2, move |out| {
        for start in (0..todo.len()).step_by(batch.max(1)) {
            if super::stop_requested() {
                break;
            }
            let end = (start + batch).min(todo.len());
            let tokens = tokenizer.batch_with(&todo[start..end], tokenization)?;
            let own = sources.as_ref().map(|s| s[start..end].to_vec());
            if out.send(((todo[start..end].to_vec(), own), tokens)).is_err() {
                break;
            }
        }
        Ok(())
    })?;
    let flow = flow.map("model", 1, move |(captions, tokens)| {
        let encoded = enc.encode_tokens(&tokens)?;
        let keys = clip_encoder::to_vec_f32(&encoded.keys)?;
        // The original stores the output after the final layer norm; HAAV the one before it.
        let feats = clip_encoder::to_vec_f32(match profile {
            Profile::Original => &encoded.features,
            Profile::Haav => &encoded.values,
        })?;
        Ok((captions, keys, feats))
    })?;
    let path = out.clone();
    let flow = images::write_stage(
        flow,
        "write",
        writer,
        move |w: &mut DbWriter, ((captions, sources), keys, feats): (Texts, Vec<f32>, Vec<f32>)| {
            w.write_batch(&keys, &feats, &captions, sources.as_deref())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(captions.len())
        },
        DbWriter::finish,
    )?;
    let written = images::consume(flow, &pb, "encode-captions")?;
    super::check_stopped("encode-captions", written)?;
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

/// A batch's phrases and, where the database gives them, their sources.
type Texts = (Vec<String>, Option<Vec<String>>);

/// A caption_db writer of either profile.
enum DbWriter {
    Original(CaptionDbWriter),
    Haav(HaavCaptionDbWriter),
}

impl DbWriter {
    /// Creates `out` for keys and features of `dims`, or opens it to resume.
    fn open(
        out: &std::path::Path,
        id: &RunIdentity,
        profile: Profile,
        layout: CaptionLayout,
        (kd, fd): (usize, usize),
        overwrite: bool,
    ) -> Result<Self> {
        let prov = id.provenance();
        Ok(match profile {
            Profile::Original => {
                let existing = |p: &std::path::Path| CaptionDb::open(p)?.provenance();
                DbWriter::Original(match decide(out, id, overwrite, existing)? {
                    Open::Create => CaptionDbWriter::create(out, layout, kd, fd, &prov, true)?,
                    Open::Resume => CaptionDbWriter::append(out)?,
                })
            }
            Profile::Haav => {
                let existing = |p: &std::path::Path| HaavCaptionDb::open(p)?.provenance();
                DbWriter::Haav(match decide(out, id, overwrite, existing)? {
                    Open::Create => HaavCaptionDbWriter::create(out, kd, fd, &prov, true)?,
                    Open::Resume => HaavCaptionDbWriter::append(out)?,
                })
            }
        })
    }

    fn rows(&self) -> usize {
        match self {
            DbWriter::Original(w) => w.rows(),
            DbWriter::Haav(w) => w.rows(),
        }
    }

    fn write_batch(
        &mut self,
        keys: &[f32],
        feats: &[f32],
        captions: &[String],
        sources: Option<&[String]>,
    ) -> Result<()> {
        match self {
            DbWriter::Original(w) => w.write_batch_with_sources(keys, feats, captions, sources)?,
            DbWriter::Haav(w) => w.write_batch_with_sources(keys, feats, captions, sources)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            DbWriter::Original(w) => w.finish()?,
            DbWriter::Haav(w) => w.finish()?,
        }
        Ok(())
    }
}
