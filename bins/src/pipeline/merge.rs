//! `ctx-merge OUT SHARD...`: joins the shards of one sharded step into the file a single run
//! writes (same content, same provenance). The files are joined by [`ctx_store::merge`]; here
//! the shards are put in order from the `--shard I/N` their provenance records.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::Provenance;

use super::{Shard, Summary};

/// Join the shard files of one step (from --shard I/N runs) into one file.
#[derive(Debug, clap::Parser)]
#[command(name = "ctx-merge", version)]
pub struct Args {
    /// The merged file to write.
    pub out: PathBuf,
    /// Every shard file of the step (any order).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub log: crate::Verbosity,
}

/// One shard file: its place, and its run's tool and arguments without the shard.
struct Part {
    shard: Shard,
    path: PathBuf,
    tool: String,
    arguments: serde_json::Value,
}

fn part(path: &PathBuf) -> Result<Part> {
    let p = Provenance::of_file(path)?.with_context(|| {
        format!("{}: no provenance attributes: not a shard of ours", path.display())
    })?;
    let mut arguments: serde_json::Value = serde_json::from_str(&p.arguments)
        .with_context(|| format!("{}: provenance arguments are not JSON", path.display()))?;
    let shard = arguments
        .get("shard")
        .and_then(|s| s.as_str())
        .and_then(|s| Shard::parse(s).ok())
        .with_context(|| format!("{}: not written with --shard", path.display()))?;
    arguments["shard"] = serde_json::Value::Null;
    Ok(Part { shard, path: path.clone(), tool: p.tool, arguments })
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.log.init();
    let started = Instant::now();
    let mut parts = args.shards.iter().map(part).collect::<Result<Vec<_>>>()?;
    parts.sort_by_key(|p| p.shard.index);
    let n = parts[0].shard.count;
    let indices: Vec<usize> = parts.iter().map(|p| p.shard.index).collect();
    if parts.iter().any(|p| p.shard.count != n) || indices != (0..n).collect::<Vec<_>>() {
        bail!("shards {indices:?} of {n}: need each of 0..{n} exactly once");
    }
    let first = &parts[0];
    if let Some(p) =
        parts.iter().find(|p| (&p.tool, &p.arguments) != (&first.tool, &first.arguments))
    {
        bail!("{}: written with other settings than {}", p.path.display(), first.path.display());
    }
    // The single run's provenance: its tool, its arguments with "shard": null.
    let provenance = Provenance::new(first.tool.clone(), first.arguments.to_string());
    let paths: Vec<&PathBuf> = parts.iter().map(|p| &p.path).collect();
    let merged = match ctx_store::merge(&paths, &args.out, &provenance, args.overwrite) {
        Err(ctx_store::Error::Exists { path }) => {
            bail!("{} exists; pass --overwrite to replace it", path.display())
        }
        merged => merged?,
    };
    Summary {
        tool: "ctx-merge",
        what: "entries",
        written: merged.entries,
        already: 0,
        skipped: 0,
        started,
        out: args.out,
    }
    .print();
    Ok(ExitCode::SUCCESS)
}
