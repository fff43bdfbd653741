//! `retrieve-captions`: the textual context, `txt_ctx.hdf5`: for every image, the top-k phrases
//! of the caption database for the whole image, each of five crops and each of nine crops.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{CaptionDb, TxtCtxReader, TxtCtxWriter, TxtEntry, ViewEntry};
use retrieval::{Index, IndexOptions, Precision};

use super::images::{self, Inputs};
use super::output::{Open, RunIdentity, canonical, decide};
use super::{Common, shard};

/// Retrieve the top-k phrases of the caption database for every COCO image and its crops.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Args {
    /// COCO root: annotations/ (captions_*2014.json, coco_*_ids.npy), train2014/, val2014/.
    #[arg(long)]
    pub dataset_root: PathBuf,
    /// caption_db.hdf5 from encode-captions (or the original pipeline's).
    #[arg(long)]
    pub caption_db: PathBuf,
    /// Hugging Face CLIP checkpoint directory (the one that encoded the captions).
    #[arg(long)]
    pub model: PathBuf,
    /// Phrases per image and crop.
    #[arg(long, default_value_t = 16)]
    pub k: usize,
    /// Output file.
    #[arg(long, default_value = "outputs/retrieved_captions/txt_ctx.hdf5")]
    pub out: PathBuf,
    /// Score every key in f32 instead of screening in bf16/f16 first (same results, slower).
    #[arg(long)]
    pub f32_search: bool,
    /// Search the original's approximate index instead (IVF round(8 sqrt n) lists, nprobe
    /// k / 10), to compare with the published context; exact search is the default.
    #[arg(long)]
    pub ivf: bool,
    /// Keys per score chunk [default: 32768 on the CPU, 262144 on CUDA].
    #[arg(long)]
    pub key_chunk: Option<usize>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::init_tracing(args.common.verbose, args.common.quiet);
    let started = Instant::now();
    let c = &args.common;
    if args.k == 0 {
        bail!("--k must be at least 1");
    }
    let images = datasets::karpathy_images(&args.dataset_root)?;
    let shard = c.shard()?;
    let batch = c.batch_size.unwrap_or(32);
    let (images, out) = shard::apply(shard, images, batch, &args.out);
    let db = CaptionDb::open(&args.caption_db)?;
    let db_meta = std::fs::metadata(&args.caption_db)
        .with_context(|| format!("reading {}", args.caption_db.display()))?;
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let id = RunIdentity {
        tool: "retrieve-captions",
        arguments: serde_json::json!({
            "dataset_root": canonical(&args.dataset_root),
            "caption_db": canonical(&args.caption_db),
            "caption_db_bytes": db_meta.len(),
            "caption_db_phrases": db.len(),
            "model": canonical(&args.model),
            "model_sha256": model_sha256,
            "k": args.k,
            "ivf": args.ivf,
            "shard": shard.map(|s| s.to_string()),
            "half": c.half,
        }),
    };
    let proj = enc.config().projection_dim as usize;
    if db.key_dim() != proj {
        bail!(
            "{}: keys have {} values but the model projects to {proj}: was it encoded with another model?",
            args.caption_db.display(),
            db.key_dim()
        );
    }
    if db.is_empty() {
        bail!("{}: the caption database is empty", args.caption_db.display());
    }
    let mut captions = db.load()?;
    let opts = IndexOptions {
        device: enc.device(),
        precision: if args.f32_search { Precision::F32 } else { Precision::Fast },
        key_chunk: args.key_chunk,
        ..IndexOptions::default()
    };
    let index = if args.ivf {
        let o = retrieval::IvfOptions { device: enc.device(), ..retrieval::IvfOptions::default() };
        Search::Ivf(retrieval::IvfIndex::build(&captions.keys, captions.key_dim, &o)?)
    } else {
        Search::Exact(Index::from_slice(&captions.keys, captions.key_dim, &opts)?)
    };
    // The index holds its own copy of the keys (on the device or in host memory); the features
    // and phrases are shared with the writer thread, which builds each batch's entries.
    drop(std::mem::take(&mut captions.keys));
    let captions = std::sync::Arc::new(captions);
    let (writer, done) =
        match decide(&out, &id, c.overwrite, |p| TxtCtxReader::open(p)?.provenance())? {
            Open::Create => (TxtCtxWriter::create(&out, &id.provenance(), true)?, Vec::new()),
            Open::Resume => TxtCtxWriter::append(&out)?,
        };
    let (todo, already) = images::todo(&images, done);
    tracing::info!(images = images.len(), already, phrases = captions.captions.len(), out = %out.display(), "retrieve-captions");

    let (mut failures, pb, rx) =
        images::start(&out, todo, "retrieve-captions", c, batch, &enc, Inputs::Crops)?;
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
            let embeds = enc.encode_image_tensor(pixels)?.embeds;
            super::Timings::lap(&mut timings.model, &mut t);
            let hits = match &index {
                Search::Exact(i) => i.search_tensor(&embeds, args.k)?,
                Search::Ivf(i) => i.search(&clip_encoder::to_vec_f32(&embeds)?, args.k)?,
            };
            super::Timings::lap(&mut timings.search, &mut t);
            // The entries (feature rows and phrases of every hit) are built on the writer thread,
            // off the path from one batch's model and search to the next.
            let ids: Vec<u64> = batch.items.iter().map(|it| it.id).collect();
            let (n, captions) = (ids.len(), std::sync::Arc::clone(&captions));
            Ok((n, move |w: &mut TxtCtxWriter| {
                Ok(w.write_batch(&txt_entries(&ids, &hits, &captions))?)
            }))
        },
    )?;
    writer.finish()?;
    images::conclude("retrieve-captions", &timings, &pb, written, already, &failures, started, out)
}

/// The entries of one batch: image `i`'s whole view is query row `15 i`, its five crops the
/// next five rows and its nine crops the nine after.
fn txt_entries(
    ids: &[u64],
    hits: &retrieval::Hits,
    captions: &ctx_store::Captions,
) -> Vec<TxtEntry> {
    let (k, fd) = (hits.k, captions.feature_dim);
    // IVF pads short lists with id -1 (score -FLT_MAX), which the original's Python indexing
    // read as the last phrase: reproduced, as the comparison mode is for.
    let last = captions.captions.len() - 1;
    let phrase = |id: i64| usize::try_from(id).unwrap_or(last);
    let view = |row0: usize, crops: usize| {
        let rows = row0 * k..(row0 + crops) * k;
        let mut features = Vec::with_capacity(rows.len() * fd);
        for &id in &hits.ids[rows.clone()] {
            let id = phrase(id);
            features.extend_from_slice(&captions.features[id * fd..(id + 1) * fd]);
        }
        ViewEntry {
            crops,
            k,
            d: fd,
            features,
            scores: hits.scores[rows.clone()].to_vec(),
            texts: hits.ids[rows].iter().map(|&id| captions.captions[phrase(id)].clone()).collect(),
        }
    };
    ids.iter()
        .enumerate()
        .map(|(i, &id)| TxtEntry {
            id,
            whole: view(i * 15, 1),
            five: view(i * 15 + 1, 5),
            nine: view(i * 15 + 6, 9),
        })
        .collect()
}

enum Search {
    Exact(Index),
    Ivf(retrieval::IvfIndex),
}
