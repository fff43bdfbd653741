//! `ctx-inspect`: summarise a context file, print one entry (the README's h5py snippets as a
//! command), or validate the whole file against the schema.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ctx_store::{CaptionDb, FileKind, Summary, TxtCtxReader, View, ViewEntry, VisCtxReader};
use serde_json::{Value, json};

/// Inspect vis_ctx.hdf5, txt_ctx.hdf5 or caption_db.hdf5 (ours or the original's).
///
/// Without options: a summary (kind, count, fdim, k, d). With --id: one image, like
/// `f[f"{id}/five/features"][crop, :top_k]` in h5py. With --check: every schema violation.
#[derive(Debug, clap::Parser)]
#[command(version, about, long_about)]
pub struct Args {
    /// The HDF5 file.
    pub file: PathBuf,
    /// Image id to print (vis_ctx, txt_ctx).
    #[arg(long)]
    pub id: Option<u64>,
    /// txt_ctx view to print: whole, five or nine (default: all three).
    #[arg(long, value_parser = parse_view)]
    pub view: Option<View>,
    /// Crop of the view (0-4 for five, 0-8 for nine).
    #[arg(long, requires = "view")]
    pub crop: Option<usize>,
    /// Keep the first N texts of each crop.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Phrase to print, by row (caption_db).
    #[arg(long, conflicts_with = "id")]
    pub index: Option<usize>,
    /// Print the selected entry (or the summary) in full as JSON.
    #[arg(long)]
    pub json: bool,
    /// Validate the whole file against the schema; exit 1 if anything is wrong.
    #[arg(long, conflicts_with_all = ["id", "index"])]
    pub check: bool,
}

fn parse_view(s: &str) -> Result<View, String> {
    View::from_name(s).ok_or_else(|| format!("{s:?} is not a view (whole, five, nine)"))
}

/// Runs `ctx-inspect`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.check {
        return check(&args, &mut out);
    }
    let kind = ctx_store::detect(&args.file)?;
    match (kind, args.id, args.index) {
        (_, None, None) => summary(&args, &mut out)?,
        (FileKind::VisCtx, Some(id), _) => vis_entry(&args, id, &mut out)?,
        (FileKind::TxtCtx, Some(id), _) => txt_entry(&args, id, &mut out)?,
        (FileKind::CaptionDb(_), _, Some(index)) => caption(&args, index, &mut out)?,
        (FileKind::CaptionDb(_), Some(_), _) => {
            bail!("{}: a caption database has no image ids; use --index N", args.file.display())
        }
        (_, _, Some(_)) => {
            bail!(
                "{}: --index selects a phrase of a caption database; use --id",
                args.file.display()
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let s: Summary = ctx_store::summarize(&args.file)?;
    let provenance = s.provenance.as_ref().map(|p| {
        json!({"tool": p.tool, "version": p.version,
               "arguments": serde_json::from_str::<Value>(&p.arguments).unwrap_or(json!(p.arguments))})
    });
    let (count_name, kind) = match s.kind {
        FileKind::VisCtx => ("images", "vis_ctx"),
        FileKind::TxtCtx => ("images", "txt_ctx"),
        FileKind::CaptionDb(_) => ("captions", "caption_db"),
    };
    if args.json {
        let v = json!({
            "file": s.path, "kind": kind, "description": s.kind.to_string(), count_name: s.count,
            "fdim": s.fdim, "k": s.k, "d": s.d, "key_dim": s.key_dim, "batches": s.batches,
            "first_id": s.id_range.map(|r| r.0), "last_id": s.id_range.map(|r| r.1),
            "provenance": provenance,
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    writeln!(out, "file:       {}", s.path.display())?;
    writeln!(out, "kind:       {}", s.kind)?;
    let label = format!("{count_name}:");
    match s.id_range {
        Some((a, b)) => writeln!(out, "{label:11} {} (ids {a} .. {b})", s.count)?,
        None => writeln!(out, "{label:11} {}", s.count)?,
    }
    let fields =
        [("fdim", s.fdim), ("k", s.k), ("d", s.d), ("key dim", s.key_dim), ("batches", s.batches)];
    for (name, v) in fields {
        if let Some(v) = v {
            writeln!(out, "{:11} {v}", format!("{name}:"))?;
        }
    }
    match provenance {
        Some(p) => writeln!(out, "written by: {} {} {}", p["tool"], p["version"], p["arguments"])?,
        None => {
            writeln!(out, "written by: (no provenance: the original pipeline or another tool)")?
        }
    }
    Ok(())
}

/// Nests `values` as h5py shows a dataset of `shape`.
fn nest<T: Clone + Into<Value>>(values: &[T], shape: &[usize]) -> Value {
    match shape {
        [] => values.first().cloned().map_or(Value::Null, Into::into),
        [_] => Value::Array(values.iter().cloned().map(Into::into).collect()),
        [n, rest @ ..] => {
            let step = rest.iter().product::<usize>();
            Value::Array((0..*n).map(|i| nest(&values[i * step..(i + 1) * step], rest)).collect())
        }
    }
}

fn preview(values: &[f32]) -> String {
    let head: Vec<String> = values.iter().take(6).map(|v| format!("{v:.6}")).collect();
    let more = if values.len() > 6 { ", ..." } else { "" };
    format!("[{}{more}]", head.join(", "))
}

fn vis_entry(args: &Args, id: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let r = VisCtxReader::open(&args.file)?;
    let mut features = r.get(id)?;
    if let Some(k) = args.top_k {
        features.truncate(k);
    }
    if args.json {
        writeln!(out, "{}", json!({ "features": features }))?;
    } else {
        writeln!(out, "{id}: features ({},) float32 {}", features.len(), preview(&features))?;
    }
    Ok(())
}

fn view_json(v: &ViewEntry) -> Value {
    json!({
        "features": nest(&v.features, &v.features_shape()),
        "scores": nest(&v.scores, &v.scores_shape()),
        "texts": nest(&v.texts, &v.scores_shape()),
    })
}

fn txt_entry(args: &Args, id: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let r = TxtCtxReader::open(&args.file)?;
    let views = match args.view {
        Some(v) => vec![v],
        None => View::ALL.to_vec(),
    };
    let mut selected = Vec::new();
    for view in views {
        let crop = args.crop;
        if let Some(c) = crop.filter(|&c| c >= view.crops()) {
            bail!(
                "{}: --crop {c} is out of range for {view} (0..{})",
                args.file.display(),
                view.crops()
            );
        }
        selected.push((view, r.view(id, view, crop, args.top_k)?));
    }
    if args.json {
        let v = match &selected[..] {
            [(_, one)] => view_json(one),
            all => Value::Object(
                all.iter().map(|(view, e)| (view.to_string(), view_json(e))).collect(),
            ),
        };
        writeln!(out, "{v}")?;
        return Ok(());
    }
    for (view, e) in &selected {
        let crop = args.crop.map(|c| format!("[{c}]")).unwrap_or_default();
        writeln!(out, "{id}/{view}{crop}")?;
        writeln!(out, "  features {:?} float32 {}", e.features_shape(), preview(&e.features))?;
        for c in 0..e.crops {
            let label = if e.crops > 1 { format!("  crop {c}: ") } else { "  ".into() };
            for i in 0..e.k {
                let row = c * e.k + i;
                writeln!(out, "{label}{:>2}. {:.4}  {}", i + 1, e.scores[row], e.texts[row])?;
            }
        }
    }
    Ok(())
}

fn caption(args: &Args, index: usize, out: &mut impl Write) -> anyhow::Result<()> {
    let db = CaptionDb::open(&args.file)?;
    let c = db.get(index)?;
    if args.json {
        writeln!(out, "{}", json!({"key": c.key, "feature": c.feature, "caption": c.caption}))?;
    } else {
        writeln!(out, "{index}: {:?}", c.caption)?;
        writeln!(out, "  key ({},) {}", c.key.len(), preview(&c.key))?;
        writeln!(out, "  feature ({},) {}", c.feature.len(), preview(&c.feature))?;
    }
    Ok(())
}

fn check(args: &Args, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let report = ctx_store::check(&args.file)
        .with_context(|| format!("checking {}", args.file.display()))?;
    if args.json {
        let v: Vec<Value> = report
            .violations
            .iter()
            .map(|v| json!({"object": v.object, "message": v.message}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"kind": report.kind.to_string(), "entries": report.entries, "violations": v})
        )?;
    } else {
        for v in &report.violations {
            writeln!(out, "{}: {}: {}", args.file.display(), v.object, v.message)?;
        }
        writeln!(
            out,
            "{}: {}, {} entries, {} violations",
            args.file.display(),
            report.kind,
            report.entries,
            report.violations.len()
        )?;
    }
    Ok(if report.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
