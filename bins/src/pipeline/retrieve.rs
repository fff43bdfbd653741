//! `retrieve-captions`: the textual context, `txt_ctx.hdf5`: for every image, the top-k phrases
//! of the caption database for the whole image, each of five crops and each of nine crops.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clip_encoder::Tensor;
use crops::INPUTS_PER_IMAGE;
use ctx_store::{
    CaptionDb, Captions, HaavCaptionDb, HaavTxtCtxReader, HaavTxtCtxWriter, ImageId, Profile,
    TxtCtxReader, TxtCtxWriter, TxtEntry, ViewEntry,
};
use retrieval::{Index, IndexOptions, Precision};

use super::exclude::OwnCaptions;
use super::images;
use super::output::{Failures, Open, RunIdentity, canonical, decide};
use super::sources::ImageArgs;
use super::views::{self, Views};
use super::{Common, vis_out};

/// Images per model batch (each with its 15 crops) unless `--batch-size` says otherwise.
pub const BATCH_SIZE: usize = 32;

/// Retrieve the top-k phrases of the caption database for every image (COCO's Karpathy split,
/// or --images SOURCE) and its crops (with --profile haav: the top 8k for the whole image, 2k per
/// crop of five, k per crop of nine).
#[derive(Debug, clap::Parser)]
#[command(name = "retrieve-captions", version)]
pub struct Args {
    #[command(flatten)]
    pub images: ImageArgs,
    /// caption_db.hdf5 from encode-captions (or the original pipeline's).
    #[arg(long)]
    pub caption_db: PathBuf,
    /// Hugging Face CLIP checkpoint directory (the one that encoded the captions).
    #[arg(long)]
    pub model: PathBuf,
    /// Phrases per image and crop (HAAV's profile: 8k for the whole image, 2k per crop of five,
    /// k per crop of nine).
    #[arg(long, default_value_t = 16)]
    pub k: usize,
    /// The views searched and written: whole,five,nine (the whole image, five and nine crops),
    /// or whole (the whole image only, as SmallCap retrieves; the file then holds no five or
    /// nine groups). The original profile only.
    #[arg(long, default_value = "whole,five,nine", value_parser = views::parse)]
    pub views: Views,
    /// Leave out the hits whose source is the query image (a caption database encoded from texts
    /// with sources: karpathy: or JSON Lines), still keeping k per view and crop: each search
    /// fetches as many extra hits as the most captions one source has (SmallCap's rule).
    #[arg(long)]
    pub exclude_source: bool,
    /// Output file.
    #[arg(long, default_value = "outputs/retrieved_captions/txt_ctx.hdf5")]
    pub out: PathBuf,
    /// hdf5 (txt_ctx, as the original writes it) or json: JSON Lines of texts and scores only,
    /// one image a line ({"ID": {"whole": [[text, score], ...], "five": ..., "nine": ...}}),
    /// after a first line with the run's provenance; resumes as hdf5 does.
    #[arg(long, value_enum, default_value = "hdf5")]
    pub format: Format,
    /// The txt_ctx's layout: full (features, scores and texts per image, what the original's
    /// and HAAV's training code read with h5py) or compact (each hit's row in --caption-db and
    /// its score, about 0.4% of the bytes; read through ctx-store or the xmodal_ctx package,
    /// which join the features and texts from the caption database kept beside it).
    #[arg(long, value_enum, default_value = "full")]
    pub txt_layout: super::compact_out::TxtLayout,
    /// With --format json: once every image is written, also write the JSON Lines as one JSON
    /// object to FILE ({"ID": {"whole": ..., ...}, ...}, SmallCap's shape; sharded like --out).
    #[arg(long, value_name = "FILE")]
    pub json_object: Option<PathBuf>,
    /// Score every key in f32 instead of screening in a lower precision first and re-scoring the
    /// candidates in f32 (the same results). The screening runs in f16 on CUDA and in bf16 on
    /// CPUs with bf16 instructions, where it is faster; on other CPUs it runs in f32 and this
    /// flag, which skips the re-scoring, is faster (docs/benchmarks.md, "retrieval").
    #[arg(long)]
    pub f32_search: bool,
    /// Search the original's approximate index instead (IVF with L = round(8 sqrt n) lists,
    /// probing max(1, L / 10) of them), to compare with the published context; exact search is
    /// the default.
    #[arg(long)]
    pub ivf: bool,
    // The help names retrieval's defaults from their constants.
    #[arg(long, help = key_chunk_help())]
    pub key_chunk: Option<usize>,
    /// Images per model batch (each with its 15 crops).
    #[arg(long, default_value_t = BATCH_SIZE)]
    pub batch_size: usize,
    /// Also write the visual context (as encode-images does, same file) from the same decoding
    /// and forward pass: each image's pooled output of the whole view. Resumes with the text
    /// context (an image is done when both files hold it); sharded like --out.
    #[arg(long)]
    pub vis_out: Option<PathBuf>,
    /// After the last search, time the bare products of the same searches (random queries of
    /// each search's size against every key, in the index's types and chunks) and log the
    /// searches' time over them: what top-k, re-scoring and copies add. Costs about the
    /// products' time again, inside the run's loop.
    #[arg(long)]
    pub measure_search: bool,
    #[command(flatten)]
    pub common: Common,
}

/// `--key-chunk`'s help, with retrieval's defaults.
pub fn key_chunk_help() -> String {
    format!(
        "Keys per score chunk [default: {} on the CPU, {} on CUDA]",
        retrieval::DEFAULT_KEY_CHUNK_CPU,
        retrieval::DEFAULT_KEY_CHUNK_CUDA
    )
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.common.log.init();
    ctx_store::set_sync_policy(args.common.sync);
    super::install_stop_handlers()?;
    let started = Instant::now();
    let c = &args.common;
    if args.k == 0 {
        bail!("--k must be at least 1");
    }
    let shard = c.shard()?;
    let batch = args.batch_size;
    let (images, out) = args.images.load(shard, batch, &args.out)?;
    let vis_out = args.vis_out.as_ref().map(|p| match shard {
        Some(s) => s.path(p),
        None => p.clone(),
    });
    if vis_out.as_ref().is_some_and(|v| same_file(v, &out)) {
        bail!("--vis-out and --out name the same file {}", out.display());
    }
    let json_object = match (&args.json_object, args.format) {
        (Some(_), Format::Hdf5) => bail!("--json-object is for --format json"),
        (Some(p), Format::Json) => Some(match shard {
            Some(s) => s.path(p),
            None => p.clone(),
        }),
        (None, _) => None,
    };
    if json_object.as_ref().is_some_and(|j| same_file(j, &out)) {
        bail!("--json-object and --out name the same file {}", out.display());
    }
    let profile = c.profile;
    if profile == Profile::Haav && args.views != Views::All {
        bail!(
            "--views {}: HAAV's txt_ctx holds every view; use the original profile",
            args.views.name()
        );
    }
    super::output::refuse_other_profile(&args.caption_db, profile, Some("--caption-db"))?;
    let db = Db::open(&args.caption_db, profile)?;
    let db_meta = std::fs::metadata(&args.caption_db)
        .with_context(|| format!("reading {}", args.caption_db.display()))?;
    let (enc, model_sha256) = c.load_model_fingerprinted(&args.model)?;
    let mut arguments = args.images.provenance();
    arguments.extend(
        serde_json::json!({
            "caption_db": canonical(&args.caption_db),
            "caption_db_bytes": db_meta.len(),
            "caption_db_phrases": db.len(),
            "model": canonical(&args.model),
            "model_sha256": model_sha256,
            "k": args.k,
            "ivf": args.ivf,
            "shard": shard.map(|s| s.to_string()),
            "half": c.half,
            "profile": profile.name(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    if args.format == Format::Json {
        arguments.insert("format".into(), "json".into());
    }
    super::compact_out::record(&mut arguments, args.txt_layout, args.format == Format::Json)?;
    // Recorded where not the default, so that files of earlier runs resume as before.
    if args.views != Views::All {
        arguments.insert("views".into(), args.views.name().into());
    }
    if args.exclude_source {
        arguments.insert("exclude_source".into(), true.into());
    }
    let id = RunIdentity { tool: "retrieve-captions", arguments: arguments.into() };
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
    let most = per_crop(profile, crops::View::Whole, args.k);
    if profile == Profile::Haav && db.len() < most {
        bail!(
            "{}: {} phrases, but --profile haav with --k {} keeps the top {most} for the whole \
             image (8k); lower --k",
            args.caption_db.display(),
            db.len(),
            args.k
        );
    }
    let own = match args.exclude_source {
        true => Some(Arc::new(OwnCaptions::new(&args.caption_db, db.sources()?, most)?)),
        false => None,
    };
    let mut captions = db.load()?;
    let index = Search::build(&args, &enc, &captions)?;
    // The index holds its own copy of the keys (on the device or in host memory); the features
    // and phrases are shared with the writer stage, which builds each batch's entries.
    drop(std::mem::take(&mut captions.keys));
    let captions = Arc::new(captions);
    let (writer, txt_done) = match (args.format, args.txt_layout) {
        (Format::Hdf5, super::compact_out::TxtLayout::Compact) => {
            let ids = ctx_store::CompactIds::of(images.iter().map(|i| &i.id));
            let (w, done) = super::compact_out::open(
                &out,
                &id,
                (profile, ids),
                &args.caption_db,
                &captions,
                c,
            )?;
            (TxtWriter::Compact(w), done)
        }
        (Format::Hdf5, _) => TxtWriter::open(&out, &id, profile, captions.feature_dim, c)?,
        (Format::Json, _) => TxtWriter::open_json(&out, &id, c)?,
    };
    let vis = match &vis_out {
        Some(path) => {
            let vid = vis_out::identity(&args.images, &args.model, &model_sha256, shard, c);
            Some((path.clone(), vis_out::open(path, &vid, &enc, profile, c.overwrite)?))
        }
        None => None,
    };
    let mut done = vec![&txt_done];
    if let Some((_, (_, vis_done))) = &vis {
        done.push(vis_done);
    }
    let (todo, already) = images::todo(&images, &done);
    tracing::info!(images = images.len(), already, phrases = captions.captions.len(), out = %out.display(), "retrieve-captions");

    let failures = Arc::new(Mutex::new(Failures::new(&out)));
    let pb = super::progress(todo.len() as u64, "retrieve-captions", c.log.quiet);
    let flow = images::decoded(todo, c, batch, &enc, args.views.inputs(), &failures, &pb)?;
    let outputs = match vis {
        Some(_) => vis_out::outputs(profile),
        None => clip_encoder::ImageOutputs::Pooled,
    };
    let mut flow = images::encode(flow, enc, outputs)?;
    if let Some((path, (mut w, vis_done))) = vis {
        // The whole view's outputs are vis_ctx's (its pooled output; HAAV's: its token grid
        // and projected embedding), written from the same forward pass.
        flow = flow.stage("write vis", 2, move |input, out| {
            while let Some(e) = input.recv() {
                w.write(&e, Some(&vis_done))
                    .with_context(|| format!("writing {}", path.display()))?;
                if out.send(e).is_err() {
                    break;
                }
            }
            w.finish()
        })?;
    }
    // Only the queries go on to the search (the host buffer, the pooled outputs and the grids
    // stay behind), into a queue that holds what one search gathers: a stage's input is the
    // previous stage's output channel, so this stage sizes the search's.
    let (k, most, views) = (args.k, gathered_rows(&index), args.views);
    let fetch = {
        let own = own.clone();
        move |v| own.as_ref().map_or(per_crop(profile, v, k), |o| o.fetch(per_crop(profile, v, k)))
    };
    let gather = most.div_ceil(batch * views.rows_per_image()).clamp(1, 64);
    let flow = flow.map("queries", gather, |e: images::Encoded| Ok(e.into_queries()))?;
    let (measure, delay) = (args.measure_search, search_delay());
    let flow = flow.stage("search", gather, move |input, out| {
        // Queries of the batches waiting here are searched together (larger products use the
        // device better); the hits go on batch by batch.
        let mut timed = SearchClock::default();
        while let Some(first) = input.recv() {
            let mut group = vec![first];
            let mut rows = group[0].1.size()[0] as usize;
            while rows < most {
                match input.try_recv() {
                    Ok(Some(e)) => {
                        rows += e.1.size()[0] as usize;
                        group.push(e);
                    }
                    _ => break,
                }
            }
            let all: Vec<&Tensor> = group.iter().map(|e| &e.1).collect();
            let queries = Tensor::f_cat(&all, 0)?;
            let t = Instant::now();
            std::thread::sleep(delay);
            let (hits, calls) = index.search_views(&queries, views, &fetch)?;
            timed.seconds += t.elapsed().as_secs_f64();
            timed.add(rows, calls, &hits);
            let mut row = 0;
            for (items, embeds) in group {
                let n = embeds.size()[0] as usize;
                let part = hits_rows(&hits, row..row + n);
                row += n;
                if out.send((items, part)).is_err() {
                    return Ok(());
                }
            }
        }
        timed.log_passes();
        if measure {
            timed.report(&index)?;
        }
        Ok(())
    })?;
    let path = out.clone();
    let flow = images::write_stage(
        flow,
        "write txt",
        writer,
        move |w: &mut TxtWriter, (items, hits): (Vec<images::Item>, retrieval::Hits)| {
            let keep = |v| per_crop(profile, v, k);
            let own = own.as_deref();
            let entries = txt_entries(&items, &hits, &captions, &txt_done, views, keep, own);
            w.write_batch(&entries).with_context(|| format!("writing {}", path.display()))?;
            Ok(items.len())
        },
        TxtWriter::finish,
    )?;
    let written = images::consume(flow, &pb, "retrieve-captions")?;
    super::check_stopped("retrieve-captions", written)?;
    if let Some(object) = &json_object {
        let n = super::json_object::write(&out, object)?;
        tracing::info!(images = n, out = %object.display(), "JSON object written");
    }
    images::conclude("retrieve-captions", &pb, written, already, &failures, started, out)
}

/// The searches of a run: rows of each call to the index, and their time (results on the
/// host); rows of each gathered search; queries that took a second pass.
#[derive(Default)]
struct SearchClock {
    calls: Vec<usize>,
    seconds: f64,
    gathered: Vec<usize>,
    widened: usize,
    rescored: usize,
}

impl SearchClock {
    fn add(&mut self, rows: usize, calls: Vec<usize>, hits: &retrieval::Hits) {
        self.gathered.push(rows);
        self.calls.extend(calls);
        self.widened += hits.widened;
        self.rescored += hits.rescored;
    }

    /// The searches' sizes and their second passes (`-v`).
    fn log_passes(&self) {
        let queries: usize = self.gathered.iter().sum();
        tracing::debug!(
            searches = self.gathered.len(),
            queries,
            largest = self.gathered.iter().copied().max().unwrap_or(0),
            screened_again = self.widened,
            searched_in_f32 = self.rescored,
            "retrieve-captions: searches and their second passes"
        );
    }

    /// Times the bare products of the same calls and logs the searches' time over them.
    fn report(&self, index: &Search) -> Result<()> {
        let Search::Exact(index) = index else {
            tracing::warn!("--measure-search: the IVF search has no bare products to compare with");
            return Ok(());
        };
        let mut bare = 0.0;
        for &rows in &self.calls {
            bare += index.bare_products_seconds(rows)?;
        }
        let queries: usize = self.calls.iter().sum();
        tracing::info!(
            calls = self.calls.len(),
            queries,
            search_s = self.seconds,
            bare_products_s = bare,
            over_bare = self.seconds / bare.max(1e-12),
            "searches over their bare products"
        );
        tracing::info!(
            largest_call = self.calls.iter().copied().max().unwrap_or(0),
            mean_call = queries as f64 / self.calls.len().max(1) as f64,
            "search calls: rows"
        );
        Ok(())
    }
}

/// Whether two paths name one file (the second may not exist yet).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || (canonical(a) == canonical(b) && a.exists())
}

/// Rows `rows` of a search's hits.
fn hits_rows(h: &retrieval::Hits, rows: std::ops::Range<usize>) -> retrieval::Hits {
    let r = rows.start * h.k..rows.end * h.k;
    retrieval::Hits {
        k: h.k,
        scores: h.scores[r.clone()].to_vec(),
        ids: h.ids[r].to_vec(),
        rescored: 0,
        widened: 0,
    }
}

/// Phrases kept per crop of view `v`: k in the original profile; 8k, 2k and k for the whole
/// image, five and nine crops in HAAV's ([`ctx_store::View::haav_factor`]).
fn per_crop(profile: Profile, v: crops::View, k: usize) -> usize {
    let view = match v {
        crops::View::Whole => ctx_store::View::Whole,
        crops::View::Five => ctx_store::View::Five,
        crops::View::Nine => ctx_store::View::Nine,
    };
    match profile {
        Profile::Original => k,
        Profile::Haav => view.haav_factor() * k,
    }
}

/// The entries of one batch, leaving out the images in `skip` (already in the file): image `i`'s
/// queries are rows `i * views.rows_per_image() ..` in crops' layout (whole, five, nine; or
/// whole alone), each with `hits.k` hits of which view `v` keeps the first `keep(v)` (with
/// `own`: the first `keep(v)` whose source is not the image, of the hits fetched).
fn txt_entries(
    items: &[images::Item],
    hits: &retrieval::Hits,
    captions: &ctx_store::Captions,
    skip: &HashSet<ImageId>,
    views: Views,
    keep: impl Fn(crops::View) -> usize,
    own: Option<&OwnCaptions>,
) -> Vec<TxtEntry> {
    let (stride, fd) = (hits.k, captions.feature_dim);
    // IVF pads short lists with id -1 (score -FLT_MAX), which the original's Python indexing
    // read as the last phrase: reproduced, as the comparison mode is for.
    let last = captions.captions.len() - 1;
    let phrase = |id: i64| usize::try_from(id).unwrap_or(last);
    let view = |image: usize, v: crops::View| {
        let row0 = image * views.rows_per_image() + v.rows().start;
        let (crops, k) = (v.crops(), keep(v));
        let k = k.min(stride);
        // The first k hits of each of the view's rows (not the image's own).
        let at: Vec<usize> = match own {
            None => (row0..row0 + crops).flat_map(|r| r * stride..r * stride + k).collect(),
            Some(own) => {
                let (id, fetched) = (items[image].id.to_string(), own.fetch(k).min(stride));
                (row0..row0 + crops)
                    .flat_map(|r| {
                        own.keep(r * stride..r * stride + fetched, &hits.ids, phrase, &id, k)
                    })
                    .collect()
            }
        };
        let mut features = Vec::with_capacity(at.len() * fd);
        for &i in &at {
            let id = phrase(hits.ids[i]);
            features.extend_from_slice(&captions.features[id * fd..(id + 1) * fd]);
        }
        ViewEntry {
            crops,
            k,
            d: fd,
            features,
            scores: at.iter().map(|&i| hits.scores[i]).collect(),
            texts: at.iter().map(|&i| captions.captions[phrase(hits.ids[i])].clone()).collect(),
        }
    };
    let crop_view = |image: usize, v: crops::View| match views {
        Views::All => view(image, v),
        Views::Whole => ViewEntry::absent(fd),
    };
    items
        .iter()
        .enumerate()
        .filter(|(_, it)| !skip.contains(&it.id))
        .map(|(i, it)| TxtEntry {
            id: it.id.clone(),
            whole: view(i, crops::View::Whole),
            five: crop_view(i, crops::View::Five),
            nine: crop_view(i, crops::View::Nine),
        })
        .collect()
}

/// The caption database of either profile (HAAV's features are its `values`).
enum Db {
    Original(CaptionDb),
    Haav(HaavCaptionDb),
}

impl Db {
    fn open(path: &std::path::Path, profile: Profile) -> Result<Self> {
        Ok(match profile {
            Profile::Original => Db::Original(CaptionDb::open(path)?),
            Profile::Haav => Db::Haav(HaavCaptionDb::open(path)?),
        })
    }

    fn len(&self) -> usize {
        match self {
            Db::Original(d) => d.len(),
            Db::Haav(d) => d.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key_dim(&self) -> usize {
        match self {
            Db::Original(d) => d.key_dim(),
            Db::Haav(d) => d.key_dim(),
        }
    }

    fn sources(&self) -> Result<Option<Vec<String>>> {
        Ok(match self {
            Db::Original(d) => d.sources()?,
            Db::Haav(d) => d.sources()?,
        })
    }

    fn load(&self) -> Result<Captions> {
        Ok(match self {
            Db::Original(d) => d.load()?,
            Db::Haav(d) => d.load()?,
        })
    }
}

/// A txt_ctx writer of either profile.
/// The output format of the textual context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Hdf5,
    Json,
}

enum TxtWriter {
    Original(TxtCtxWriter),
    Haav(HaavTxtCtxWriter),
    Json(super::json_out::JsonWriter),
    Compact(ctx_store::CompactTxtWriter),
}

impl TxtWriter {
    /// `--format json`: creates `out`, or opens it to resume.
    fn open_json(
        out: &std::path::Path,
        id: &RunIdentity,
        c: &Common,
    ) -> Result<(Self, HashSet<ImageId>)> {
        use super::json_out::{JsonWriter, provenance};
        let existing = |p: &std::path::Path| -> ctx_store::Result<Option<ctx_store::Provenance>> {
            // decide() reports a read failure as a file that cannot be resumed.
            provenance(p).map_err(|e| ctx_store::Error::Schema {
                path: p.to_owned(),
                message: format!("{e:#}"),
            })
        };
        Ok(match decide(out, id, c.overwrite, existing)? {
            Open::Create => {
                (TxtWriter::Json(JsonWriter::create(out, &id.provenance())?), HashSet::new())
            }
            Open::Resume => {
                let (w, done) = JsonWriter::append(out)?;
                (TxtWriter::Json(w), done)
            }
        })
    }

    /// Creates `out` (HAAV's with root `fdim` = the database's feature width), or opens it to
    /// resume; the writer and the images it holds already.
    fn open(
        out: &std::path::Path,
        id: &RunIdentity,
        profile: Profile,
        fdim: usize,
        c: &Common,
    ) -> Result<(Self, HashSet<ImageId>)> {
        let prov = id.provenance();
        let (w, done) = match profile {
            Profile::Original => {
                let existing = |p: &std::path::Path| TxtCtxReader::open(p)?.provenance();
                let (w, done) = match decide(out, id, c.overwrite, existing)? {
                    Open::Create => (TxtCtxWriter::create(out, &prov, true)?, Vec::new()),
                    Open::Resume => TxtCtxWriter::append(out)?,
                };
                (TxtWriter::Original(w), done)
            }
            Profile::Haav => {
                let existing = |p: &std::path::Path| HaavTxtCtxReader::open(p)?.provenance();
                let (w, done) = match decide(out, id, c.overwrite, existing)? {
                    Open::Create => (HaavTxtCtxWriter::create(out, fdim, &prov, true)?, Vec::new()),
                    Open::Resume => HaavTxtCtxWriter::append(out)?,
                };
                if w.fdim() != fdim {
                    bail!(
                        "{}: fdim {} but the caption database's values have {fdim}",
                        out.display(),
                        w.fdim()
                    );
                }
                (TxtWriter::Haav(w), done)
            }
        };
        Ok((w, done.into_iter().collect()))
    }

    fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        match self {
            TxtWriter::Original(w) => w.write_batch(entries)?,
            TxtWriter::Haav(w) => w.write_batch(entries)?,
            TxtWriter::Json(w) => w.write_batch(entries)?,
            TxtWriter::Compact(w) => w.write_batch(entries)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            TxtWriter::Original(w) => w.finish()?,
            TxtWriter::Haav(w) => w.finish()?,
            TxtWriter::Json(w) => w.finish()?,
            TxtWriter::Compact(w) => w.finish()?,
        }
        Ok(())
    }
}

enum Search {
    Exact(Index),
    Ivf(retrieval::IvfIndex),
}

impl Search {
    fn build(args: &Args, enc: &clip_encoder::ClipEncoder, captions: &Captions) -> Result<Self> {
        if args.ivf {
            let o =
                retrieval::IvfOptions { device: enc.device(), ..retrieval::IvfOptions::default() };
            return Ok(Search::Ivf(retrieval::IvfIndex::build(
                &captions.keys,
                captions.key_dim,
                &o,
            )?));
        }
        let opts = IndexOptions {
            device: enc.device(),
            precision: if args.f32_search { Precision::F32 } else { Precision::Fast },
            key_chunk: args.key_chunk,
            ..IndexOptions::default()
        };
        Ok(Search::Exact(Index::from_slice(&captions.keys, captions.key_dim, &opts)?))
    }

    fn search(&self, queries: &Tensor, k: usize) -> Result<retrieval::Hits> {
        Ok(match self {
            Search::Exact(i) => i.search_tensor(queries, k)?,
            Search::Ivf(i) => i.search(&clip_encoder::to_vec_f32(queries)?, k)?,
        })
    }

    /// Searches queries in crops' layout (image after image, [`INPUTS_PER_IMAGE`] rows each;
    /// with [`Views::Whole`], one row each), each row for the top `keep(view)` of its view: one
    /// search when every view keeps as many, else one per view. The hits have the longest
    /// list's stride; a shorter view's rows hold their hits first (the rest unused).
    ///
    /// Also returns the rows of each search made.
    fn search_views(
        &self,
        queries: &Tensor,
        views: Views,
        keep: impl Fn(crops::View) -> usize,
    ) -> Result<(retrieval::Hits, Vec<usize>)> {
        let rows = queries.size()[0] as usize;
        if views == Views::Whole {
            return Ok((self.search(queries, keep(crops::View::Whole))?, vec![rows]));
        }
        let ks = crops::VIEWS.map(&keep);
        let longest = ks.iter().copied().max().unwrap_or(0);
        if ks.iter().all(|&v| v == longest) {
            return Ok((self.search(queries, longest)?, vec![rows]));
        }
        let mut calls = Vec::with_capacity(3);
        let mut out = retrieval::Hits {
            k: longest,
            scores: vec![f32::NEG_INFINITY; rows * longest],
            ids: vec![-1; rows * longest],
            rescored: 0,
            widened: 0,
        };
        for (view, k) in crops::VIEWS.into_iter().zip(ks) {
            let of_view: Vec<i64> = (0..rows)
                .filter(|r| view.rows().contains(&(r % INPUTS_PER_IMAGE)))
                .map(|r| r as i64)
                .collect();
            let index = Tensor::f_from_slice(&of_view)?.f_to_device(queries.device())?;
            let h = self.search(&queries.f_index_select(0, &index)?, k)?;
            calls.push(of_view.len());
            anyhow::ensure!(h.k <= longest, "{} hits per query, asked for {k}", h.k);
            for (j, &r) in of_view.iter().enumerate() {
                let (to, from) = (r as usize * longest, j * h.k);
                out.scores[to..to + h.k].copy_from_slice(&h.scores[from..from + h.k]);
                out.ids[to..to + h.k].copy_from_slice(&h.ids[from..from + h.k]);
            }
            out.rescored += h.rescored;
            out.widened += h.widened;
        }
        Ok((out, calls))
    }

    /// The most queries one search gathers: on a GPU, enough for products that fill it; on
    /// the CPU, one batch (the search is split over the cores already).
    fn max_queries(&self) -> usize {
        match self {
            Search::Exact(i) if i.device() != clip_encoder::Device::Cpu => 16_384,
            _ => 0,
        }
    }
}

/// [`Search::max_queries`], or `XCTX_GATHER_ROWS` (testing aid: gathering on the CPU too).
fn gathered_rows(index: &Search) -> usize {
    std::env::var("XCTX_GATHER_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| index.max_queries())
}

/// Testing aid: `XCTX_SEARCH_DELAY_MS=N` makes every search N ms slower (a search slower than
/// the stages before it, so that batches wait for it and are gathered).
fn search_delay() -> std::time::Duration {
    let ms = std::env::var("XCTX_SEARCH_DELAY_MS").ok().and_then(|v| v.parse().ok());
    std::time::Duration::from_millis(ms.unwrap_or(0))
}
