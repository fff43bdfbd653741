//! `ctx-merge OUT SHARD...`: joins the shards of one sharded step into the file a single run
//! writes (same content, same provenance).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{
    CaptionDb, CaptionDbWriter, FileKind, Provenance, TxtCtxReader, TxtCtxWriter, VisCtxReader,
    VisCtxWriter,
};

use super::{Shard, Summary};

/// Join the shard files of one step (from --shard I/N runs) into one file.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Args {
    /// The merged file to write.
    pub out: PathBuf,
    /// Every shard file of the step (any order).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// More log output.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn provenance(path: &Path, kind: FileKind) -> Result<Option<Provenance>> {
    Ok(match kind {
        FileKind::VisCtx => VisCtxReader::open(path)?.provenance()?,
        FileKind::TxtCtx => TxtCtxReader::open(path)?.provenance()?,
        FileKind::CaptionDb(_) => CaptionDb::open(path)?.provenance()?,
    })
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::init_tracing(args.verbose, false);
    let started = Instant::now();
    if args.out.exists() && !args.overwrite {
        bail!("{} exists; pass --overwrite to replace it", args.out.display());
    }
    let kind = ctx_store::detect(&args.shards[0])?;
    // (shard, path, provenance arguments without the shard)
    let mut parts: Vec<(Shard, PathBuf, serde_json::Value)> = Vec::new();
    let mut tool = String::new();
    for path in &args.shards {
        let k = ctx_store::detect(path)?;
        if k != kind {
            bail!("{}: {k}, but {} is {kind}", path.display(), args.shards[0].display());
        }
        let p = provenance(path, k)?.with_context(|| {
            format!("{}: no provenance attributes: not a shard of ours", path.display())
        })?;
        let mut a: serde_json::Value = serde_json::from_str(&p.arguments)
            .with_context(|| format!("{}: provenance arguments are not JSON", path.display()))?;
        let shard = a
            .get("shard")
            .and_then(|s| s.as_str())
            .and_then(|s| Shard::parse(s).ok())
            .with_context(|| format!("{}: not written with --shard", path.display()))?;
        a["shard"] = serde_json::Value::Null;
        tool = p.tool;
        parts.push((shard, path.clone(), a));
    }
    parts.sort_by_key(|p| p.0.index);
    let n = parts[0].0.count;
    let indices: Vec<usize> = parts.iter().map(|p| p.0.index).collect();
    if parts.iter().any(|p| p.0.count != n) || indices != (0..n).collect::<Vec<_>>() {
        bail!("shards {indices:?} of {n}: need each of 0..{n} exactly once");
    }
    if let Some(p) = parts.iter().find(|p| p.2 != parts[0].2) {
        bail!("{}: written with other settings than {}", p.1.display(), parts[0].1.display());
    }
    let prov = Provenance::new(tool, parts[0].2.to_string());
    let out = &args.out;
    let mut count = 0;
    match kind {
        FileKind::VisCtx => {
            let fdim = VisCtxReader::open(&parts[0].1)?.fdim();
            let mut w = VisCtxWriter::create(out, fdim, &prov, true)?;
            for (_, path, _) in &parts {
                let v = VisCtxReader::open(path)?.preload()?;
                if v.fdim != fdim {
                    bail!("{}: fdim {} differs from {fdim}", path.display(), v.fdim);
                }
                for (ids, rows) in v.ids.chunks(256).zip(v.features.chunks(256 * fdim.max(1))) {
                    w.write_batch(ids, rows)?;
                }
                count += v.ids.len();
            }
            w.finish()?;
        }
        FileKind::TxtCtx => {
            let mut w = TxtCtxWriter::create(out, &prov, true)?;
            for (_, path, _) in &parts {
                let entries = TxtCtxReader::open(path)?.preload()?;
                for chunk in entries.chunks(64) {
                    w.write_batch(chunk)?;
                }
                count += entries.len();
            }
            w.finish()?;
        }
        FileKind::CaptionDb(layout) => {
            let first = CaptionDb::open(&parts[0].1)?;
            let (kd, fd) = (first.key_dim(), first.feature_dim());
            let batch =
                parts[0].2.get("batch_size").and_then(|b| b.as_u64()).unwrap_or(512) as usize;
            let (mut keys, mut feats, mut caps) = (Vec::new(), Vec::new(), Vec::new());
            for (_, path, _) in &parts {
                let c = CaptionDb::open(path)?.load()?;
                if (c.key_dim, c.feature_dim) != (kd, fd) {
                    bail!("{}: key/feature sizes differ from the first shard's", path.display());
                }
                keys.extend(c.keys);
                feats.extend(c.features);
                caps.extend(c.captions);
            }
            let mut w = CaptionDbWriter::create(out, layout, kd, fd, &prov, true)?;
            for (i, chunk) in caps.chunks(batch).enumerate() {
                let r = i * batch..i * batch + chunk.len();
                w.write_batch(
                    &keys[r.start * kd..r.end * kd],
                    &feats[r.start * fd..r.end * fd],
                    chunk,
                )?;
            }
            w.finish()?;
            count = caps.len();
        }
    }
    Summary {
        tool: "ctx-merge",
        what: "entries",
        written: count,
        already: 0,
        skipped: 0,
        started,
        out: out.clone(),
    }
    .print();
    Ok(ExitCode::SUCCESS)
}
