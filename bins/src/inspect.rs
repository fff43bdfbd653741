//! `ctx-inspect`: summarise a context file, print one entry (the README's h5py snippets as a
//! command), or validate the whole file against the schema; files of either profile (the
//! original's, HAAV's).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ctx_store::{
    Caption, CaptionDb, CheckOptions, CommitState, FileKind, HaavCaptionDb, HaavTxtCtxReader,
    HaavVisCtxReader, Summary, TxtCtxReader, View, ViewEntry, VisCtxReader,
};
use serde_json::{Value, json};

/// Inspect vis_ctx.hdf5, txt_ctx.hdf5 or caption_db.hdf5 (ours or the original's, in the
/// original's profile or HAAV's).
///
/// Without options: a summary (kind, profile, count, sizes). With --id: one image, like
/// `f[f"{id}/five/features"][crop, :top_k]` in h5py. With --check: every schema violation (for
/// HAAV's files, what HAAV's training code needs: 8k / 2k / k texts per crop, the sizes of the
/// root attributes, finite values).
#[derive(Debug, clap::Parser)]
#[command(name = "ctx-inspect", version)]
pub struct Args {
    /// The HDF5 file.
    pub file: PathBuf,
    /// Image id to print (vis_ctx, txt_ctx): the group name, an integer such as 531912 or
    /// another source's name such as dog_01.
    #[arg(long)]
    pub id: Option<String>,
    /// txt_ctx view to print: whole, five or nine (default: all three).
    #[arg(long, value_parser = parse_view)]
    pub view: Option<View>,
    /// Crop of the view (0-4 for five, 0-8 for nine).
    #[arg(long, requires = "view")]
    pub crop: Option<usize>,
    /// Keep the first N texts of each crop (vis_ctx: the first N values; HAAV's vis_ctx: the
    /// first N tokens of the grid).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Phrase to print, by row (caption_db).
    #[arg(long, conflicts_with = "id")]
    pub index: Option<usize>,
    /// Print the selected entry (or the summary) in full as JSON.
    #[arg(long)]
    pub json: bool,
    /// Validate the whole file against the schema; exit 1 if anything is wrong. A damaged file
    /// (an interrupted copy: structures past its end, zeroed heaps) is reported as damaged, with
    /// the object and byte where known, instead of a list of violations.
    #[arg(long, conflicts_with_all = ["id", "index"])]
    pub check: bool,
    /// With --check on HAAV's txt_ctx: the k of HAAV's training code (`TxtCtxField(k=...)`, 8
    /// there); every view must hold at least 8k / 2k / k texts per crop. Default: the file's k
    /// (the texts per crop of its first image's nine view).
    #[arg(long, requires = "check")]
    pub haav_k: Option<usize>,
    #[command(flatten)]
    pub log: crate::Verbosity,
}

fn parse_view(s: &str) -> Result<View, String> {
    View::from_name(s).ok_or_else(|| format!("{s:?} is not a view (whole, five, nine)"))
}

/// Runs `ctx-inspect`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.log.init();
    let mut out = std::io::stdout().lock();
    if args.check {
        return check(&args, &mut out);
    }
    let kind = ctx_store::detect(&args.file)?;
    match (kind, args.id.as_deref(), args.index) {
        (_, None, None) => summary(&args, &mut out)?,
        (FileKind::VisCtx, Some(id), _) => vis_entry(&args, id, &mut out)?,
        (FileKind::HaavVisCtx, Some(id), _) => haav_vis_entry(&args, id, &mut out)?,
        (FileKind::TxtCtx, Some(id), _) => {
            let r = TxtCtxReader::open(&args.file)?;
            txt_entry(&args, id, |v, c, k| r.view(id, v, c, k), &mut out)?
        }
        (FileKind::HaavTxtCtx, Some(id), _) => {
            let r = HaavTxtCtxReader::open(&args.file)?;
            txt_entry(&args, id, |v, c, k| r.view(id, v, c, k), &mut out)?
        }
        (FileKind::CaptionDb(_), _, Some(index)) => {
            caption(&args, index, "feature", CaptionDb::open(&args.file)?.get(index)?, &mut out)?
        }
        (FileKind::HaavCaptionDb, _, Some(index)) => {
            let c = HaavCaptionDb::open(&args.file)?.get(index)?;
            caption(&args, index, "value", c, &mut out)?
        }
        (FileKind::CaptionDb(_) | FileKind::HaavCaptionDb, Some(_), _) => {
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
    let kind = s.kind.role();
    let count_name = if kind == "caption_db" { "captions" } else { "images" };
    let view_rows = s.view_rows.map(|[w, f, n]| json!({"whole": w, "five": f, "nine": n}));
    let commit = ctx_store::commit_state(&args.file)?;
    let compact = ctx_store::compact_info(&args.file)?;
    let layout = crate::compact_view::layout(&args.file, &s, compact.as_ref());
    let (synced, finished) = match commit {
        CommitState::Atomic { synced, finished } => (Some(synced), Some(finished)),
        CommitState::Flushed => (None, None),
    };
    if args.json {
        let v = json!({
            "file": s.path, "kind": kind, "profile": s.kind.profile().name(),
            "description": s.kind.to_string(), count_name: s.count,
            "fdim": s.fdim, "fdim_grid": s.fdim_grid, "fdim_pooled": s.fdim_pooled,
            "tokens": s.tokens, "k": s.k, "texts_per_crop": view_rows, "d": s.d,
            "key_dim": s.key_dim, "batches": s.batches,
            "first_id": s.id_range.as_ref().map(|r| id_json(&r.0)),
            "last_id": s.id_range.as_ref().map(|r| id_json(&r.1)),
            "layout": layout.json, "provenance": provenance,
            "commits": {"atomic": synced.is_some(), "last_synced": synced, "finished": finished},
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    writeln!(out, "file:       {}", s.path.display())?;
    writeln!(out, "kind:       {}", s.kind)?;
    for line in &layout.lines {
        writeln!(out, "{line}")?;
    }
    let label = format!("{count_name}:");
    match &s.id_range {
        Some((a, b)) => writeln!(out, "{label:11} {} (ids {a} .. {b})", s.count)?,
        None => writeln!(out, "{label:11} {}", s.count)?,
    }
    let fields = [
        ("fdim", s.fdim),
        ("fdim grid", s.fdim_grid),
        ("fdim pooled", s.fdim_pooled),
        ("tokens", s.tokens),
        ("k", s.k),
        ("d", s.d),
        ("key dim", s.key_dim),
        ("batches", s.batches),
    ];
    for (name, v) in fields {
        if let Some(v) = v {
            writeln!(out, "{:11} {v}", format!("{name}:"))?;
        }
    }
    if let Some([w, f, n]) = s.view_rows {
        writeln!(out, "texts:      {w} per crop of whole, {f} of five, {n} of nine")?;
    }
    // The last committed batch is the last of the images above (every one of them complete).
    writeln!(out, "commits:    {commit}")?;
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

/// An image id in JSON: a number for an integer id, else the name.
fn id_json(id: &ctx_store::ImageId) -> Value {
    id.as_u64().map_or_else(|| Value::from(id.as_str()), Value::from)
}

fn preview(values: &[f32]) -> String {
    let head: Vec<String> = values.iter().take(6).map(|v| format!("{v:.6}")).collect();
    let more = if values.len() > 6 { ", ..." } else { "" };
    format!("[{}{more}]", head.join(", "))
}

fn vis_entry(args: &Args, id: &str, out: &mut impl Write) -> anyhow::Result<()> {
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

fn haav_vis_entry(args: &Args, id: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let r = HaavVisCtxReader::open(&args.file)?;
    let mut e = r.get(id)?;
    let width = r.fdim_grid();
    if let Some(n) = args.top_k.filter(|&n| n < e.tokens) {
        (e.tokens, e.grid) = (n, e.grid[..n * width].to_vec());
    }
    if args.json {
        let grid = nest(&e.grid, &[e.tokens, width]);
        writeln!(out, "{}", json!({ "grid_features": grid, "pooled_features": e.pooled }))?;
    } else {
        let (t, p) = (e.tokens, e.pooled.len());
        writeln!(out, "{id}/grid_features ({t}, {width}) float32 {}", preview(&e.grid))?;
        writeln!(out, "{id}/pooled_features ({p},) float32 {}", preview(&e.pooled))?;
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

/// One image of a txt_ctx of either profile; `view_of(view, crop, top_k)` reads a view.
fn txt_entry(
    args: &Args,
    id: &str,
    view_of: impl Fn(View, Option<usize>, Option<usize>) -> ctx_store::Result<ViewEntry>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
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
        match view_of(view, crop, args.top_k) {
            Ok(e) => selected.push((view, e)),
            // A file of the whole view only: the views it holds.
            Err(ctx_store::Error::Missing { .. }) if args.view.is_none() && view != View::Whole => {
            }
            Err(e) => return Err(e.into()),
        }
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

/// One phrase; `feature` names its text feature as the file does (`feature`, or HAAV's
/// `value`).
fn caption(
    args: &Args,
    index: usize,
    feature: &str,
    c: Caption,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if args.json {
        writeln!(out, "{}", json!({"key": c.key, feature: c.feature, "caption": c.caption}))?;
    } else {
        writeln!(out, "{index}: {:?}", c.caption)?;
        writeln!(out, "  key ({},) {}", c.key.len(), preview(&c.key))?;
        writeln!(out, "  {feature} ({},) {}", c.feature.len(), preview(&c.feature))?;
    }
    Ok(())
}

fn check(args: &Args, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let options = CheckOptions { haav_k: args.haav_k };
    let report = match ctx_store::check_with(&args.file, &options) {
        Ok(report) => report,
        // Damage (a broken download, zeroed blocks) is not a schema violation: say so.
        Err(e @ ctx_store::Error::Damaged { .. }) => {
            if args.json {
                writeln!(out, "{}", json!({"damaged": e.to_string()}))?;
            } else {
                writeln!(out, "{e}")?;
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e).with_context(|| format!("checking {}", args.file.display())),
    };
    if args.json {
        let v: Vec<Value> = report
            .violations
            .iter()
            .map(|v| json!({"object": v.object, "message": v.message}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"kind": report.kind.to_string(), "profile": report.kind.profile().name(),
                   "entries": report.entries, "haav_k": report.haav_k, "violations": v})
        )?;
    } else {
        for v in &report.violations {
            writeln!(out, "{}: {}: {}", args.file.display(), v.object, v.message)?;
        }
        let k = report.haav_k.map(|k| format!(" (HAAV's k = {k})")).unwrap_or_default();
        writeln!(
            out,
            "{}: {}{k}, {} entries, {} violations",
            args.file.display(),
            report.kind,
            report.entries,
            report.violations.len()
        )?;
    }
    Ok(if report.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
