//! The writer process of `tests/crash.rs`: a binary, not a test, so that nothing counts it as a
//! passing test. It writes batches of deterministic entries, announces each finished batch on
//! stdout, and can stop at a point inside a batch write (the `ctx_store::testing` hook) for the
//! parent to kill it there.
//!
//! ```text
//! ctx-store-crash-writer KIND PATH run STOP    write batches until killed; stop at STOP
//! ctx-store-crash-writer KIND PATH resume N    continue PATH until it holds N batches
//! ctx-store-crash-writer KIND PATH write N     write a new PATH of N batches, uninterrupted
//! ```
//!
//! KIND is `txt`, `vis`, `haav-txt`, `haav-vis`, `caption` (contiguous layout),
//! `caption-original` or `haav-caption`. STOP is
//! `POINT@BATCH`, with POINT one of `entryN`, `rawN`, `before-flush`, `index`, `flushed` (the
//! [`WritePoint`]s) or `between` (after `write_batch` returned): the writer prints
//! `stopped at POINT in batch BATCH` and sleeps until killed. STOP `flush@BATCH` stops nowhere: it
//! prints `flushing BATCH` when HDF5's flush of that batch starts and `flushed BATCH` when it
//! returns, so that a kill right after the first line lands inside the flush.
#![allow(clippy::print_stdout, clippy::print_stderr)] // its stdout is the parent's protocol

use std::io::Write;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ctx_store::testing::{WritePoint, set_write_hook};
use ctx_store::{
    CaptionDbWriter, CaptionLayout, HaavCaptionDbWriter, HaavTxtCtxWriter, HaavVisCtxWriter,
    ImageId, Provenance, TxtCtxWriter, TxtEntry, ViewEntry, VisCtxWriter,
};

/// Entries (images, or phrases) per batch.
const BATCH: u64 = 40;
/// txt_ctx: texts per crop and feature size; a batch holds 1.2 MiB of floats, so the data
/// thread writes it in two groups (`raw0`, `raw1`).
const K: usize = 8;
const D: usize = 64;
/// vis_ctx: feature size.
const FDIM: usize = 96;
/// HAAV's txt_ctx: k (views of 8k, 2k and k texts per crop); vis_ctx: tokens, grid and pooled
/// sizes.
const HAAV_K: usize = 2;
const TOKENS: usize = 4;
const GRID: usize = 32;
const POOLED: usize = 16;
/// caption_db: key and feature sizes.
const DIM: usize = 8;

/// splitmix64: entry `seed`'s values depend on the seed alone, so resumed and uninterrupted runs
/// write the same bytes.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0).collect()
    }
}

fn view(v: &mut Values, crops: usize, k: usize) -> ViewEntry {
    let mut scores = v.f32s(crops * k);
    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    ViewEntry {
        crops,
        k,
        d: D,
        features: v.f32s(crops * k * D),
        scores,
        texts: (0..crops * k).map(|i| format!("phrase {i} {}", v.next() % 1000)).collect(),
    }
}

fn txt_entry(id: u64) -> TxtEntry {
    let mut v = Values(id);
    let (whole, five) = (view(&mut v, 1, K), view(&mut v, 5, K));
    TxtEntry { id: id.into(), whole, five, nine: view(&mut v, 9, K) }
}

/// An entry of HAAV's layout.
fn haav_txt_entry(id: u64) -> TxtEntry {
    let mut v = Values(id);
    let (whole, five) = (view(&mut v, 1, 8 * HAAV_K), view(&mut v, 5, 2 * HAAV_K));
    TxtEntry { id: id.into(), whole, five, nine: view(&mut v, 9, HAAV_K) }
}

/// HAAV's vis_ctx of `ids`: their grids and their (L2-normalised) pooled vectors.
fn haav_vis(ids: &[u64]) -> (Vec<f32>, Vec<f32>) {
    let mut grid = Vec::new();
    let mut pooled = Vec::new();
    for &i in ids {
        let mut v = Values(i);
        grid.extend(v.f32s(TOKENS * GRID));
        let p = v.f32s(POOLED);
        let norm = p.iter().map(|x| x * x).sum::<f32>().sqrt();
        pooled.extend(p.iter().map(|x| x / norm));
    }
    (grid, pooled)
}

enum Writer {
    Txt(TxtCtxWriter),
    Vis(VisCtxWriter),
    HaavTxt(HaavTxtCtxWriter),
    HaavVis(HaavVisCtxWriter),
    Caption(CaptionDbWriter),
    HaavCaption(HaavCaptionDbWriter),
}

impl Writer {
    fn create(kind: &str, path: &str) -> ctx_store::Result<Writer> {
        let prov = Provenance::new("ctx-store-crash-writer", "{}");
        let caption = |layout| CaptionDbWriter::create(path, layout, DIM, DIM, &prov, true);
        Ok(match kind {
            "txt" => Writer::Txt(TxtCtxWriter::create(path, &prov, true)?),
            "vis" => Writer::Vis(VisCtxWriter::create(path, FDIM, &prov, true)?),
            "haav-txt" => Writer::HaavTxt(HaavTxtCtxWriter::create(path, D, &prov, true)?),
            "haav-vis" => {
                Writer::HaavVis(HaavVisCtxWriter::create(path, GRID, POOLED, &prov, true)?)
            }
            "caption" => Writer::Caption(caption(CaptionLayout::Contiguous)?),
            "haav-caption" => {
                Writer::HaavCaption(HaavCaptionDbWriter::create(path, DIM, DIM, &prov, true)?)
            }
            _ => Writer::Caption(caption(CaptionLayout::Original)?),
        })
    }

    /// Opens `path` to continue it; returns the writer and the entries it holds.
    fn append(kind: &str, path: &str) -> ctx_store::Result<(Writer, Vec<u64>)> {
        Ok(match kind {
            "txt" => {
                let (w, ids) = TxtCtxWriter::append(path)?;
                (Writer::Txt(w), ids.iter().filter_map(ImageId::as_u64).collect())
            }
            "vis" => {
                let (w, ids) = VisCtxWriter::append(path)?;
                (Writer::Vis(w), ids.iter().filter_map(ImageId::as_u64).collect())
            }
            "haav-txt" => {
                let (w, ids) = HaavTxtCtxWriter::append(path)?;
                (Writer::HaavTxt(w), ids.iter().filter_map(ImageId::as_u64).collect())
            }
            "haav-vis" => {
                let (w, ids) = HaavVisCtxWriter::append(path)?;
                (Writer::HaavVis(w), ids.iter().filter_map(ImageId::as_u64).collect())
            }
            "haav-caption" => {
                let w = HaavCaptionDbWriter::append(path)?;
                let rows = (0..w.rows() as u64).collect();
                (Writer::HaavCaption(w), rows)
            }
            _ => {
                let w = CaptionDbWriter::append(path)?;
                let rows = (0..w.rows() as u64).collect();
                (Writer::Caption(w), rows)
            }
        })
    }

    /// Writes the entries `ids` of batch `b` (all of them for a caption database).
    fn write(&mut self, b: u64, ids: &[u64]) -> ctx_store::Result<()> {
        match self {
            Writer::Txt(w) => w.write_batch(&ids.iter().map(|&i| txt_entry(i)).collect::<Vec<_>>()),
            Writer::Vis(w) => {
                let rows: Vec<f32> = ids.iter().flat_map(|&i| Values(i).f32s(FDIM)).collect();
                w.write_batch(ids, &rows)
            }
            Writer::HaavTxt(w) => {
                w.write_batch(&ids.iter().map(|&i| haav_txt_entry(i)).collect::<Vec<_>>())
            }
            Writer::HaavVis(w) => {
                let (grid, pooled) = haav_vis(ids);
                w.write_batch(ids, TOKENS, &grid, &pooled)
            }
            Writer::Caption(_) | Writer::HaavCaption(_) => {
                let mut v = Values(b);
                let n = BATCH as usize;
                let mut keys = v.f32s(n * DIM);
                for row in keys.chunks_mut(DIM) {
                    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                    row.iter_mut().for_each(|x| *x /= norm);
                }
                let captions: Vec<String> = (0..n).map(|i| format!("caption {b} {i}")).collect();
                let features = v.f32s(n * DIM);
                match self {
                    Writer::Caption(w) => w.write_batch(&keys, &features, &captions),
                    Writer::HaavCaption(w) => w.write_batch(&keys, &features, &captions),
                    _ => unreachable!("a caption database's writer"),
                }
            }
        }
    }

    fn finish(self) -> ctx_store::Result<()> {
        match self {
            Writer::Txt(w) => w.finish(),
            Writer::Vis(w) => w.finish(),
            Writer::HaavTxt(w) => w.finish(),
            Writer::HaavVis(w) => w.finish(),
            Writer::Caption(w) => w.finish(),
            Writer::HaavCaption(w) => w.finish(),
        }
    }
}

/// Where to stop: the point's name and the batch.
static STOP: OnceLock<(String, u64)> = OnceLock::new();
/// The batch being written.
static BATCH_NOW: AtomicU64 = AtomicU64::new(0);

fn point_name(p: WritePoint) -> String {
    match p {
        WritePoint::Entry(n) => format!("entry{n}"),
        WritePoint::RawData(n) => format!("raw{n}"),
        WritePoint::BeforeFlush => "before-flush".into(),
        WritePoint::Index => "index".into(),
        WritePoint::Flushed => "flushed".into(),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

fn stop_here(point: &str, batch: u64) {
    say(&format!("stopped at {point} in batch {batch}"));
    std::thread::sleep(Duration::from_secs(600));
    std::process::exit(3); // never reached in a test: the parent kills the process first
}

fn hook(p: WritePoint) {
    let Some((point, batch)) = STOP.get() else { return };
    let now = BATCH_NOW.load(Ordering::SeqCst);
    if now != *batch {
        return;
    }
    match (point.as_str(), p) {
        ("flush", WritePoint::BeforeFlush) => say(&format!("flushing {now}")),
        ("flush", WritePoint::Flushed) => say(&format!("flushed {now}")),
        (name, _) if name == point_name(p) => stop_here(name, now),
        _ => {}
    }
}

fn batch_ids(b: u64) -> Vec<u64> {
    (b * BATCH..(b + 1) * BATCH).collect()
}

fn run(args: &[String]) -> Result<(), String> {
    let [kind, path, mode, arg] = args else {
        return Err("usage: ctx-store-crash-writer KIND PATH run|resume|write ARG".into());
    };
    let err = |e: ctx_store::Error| e.to_string();
    match mode.as_str() {
        "run" => {
            let (point, batch) = arg.split_once('@').ok_or("STOP is POINT@BATCH")?;
            let batch: u64 = batch.parse().map_err(|_| "BATCH is a number")?;
            STOP.set((point.to_owned(), batch)).map_err(|_| "set twice")?;
            set_write_hook(hook);
            let mut w = Writer::create(kind, path).map_err(err)?;
            for b in 0..100_000 {
                BATCH_NOW.store(b, Ordering::SeqCst);
                w.write(b, &batch_ids(b)).map_err(err)?;
                say(&format!("batch {b}"));
                if point == "between" && b == batch {
                    stop_here(point, b);
                }
            }
            Err("not killed".into())
        }
        "resume" | "write" => {
            let total: u64 = arg.parse().map_err(|_| "N is a number")?;
            let (mut w, held) = if mode == "resume" {
                Writer::append(kind, path).map_err(err)?
            } else {
                (Writer::create(kind, path).map_err(err)?, Vec::new())
            };
            say(&format!("found {}", held.len()));
            let held: std::collections::HashSet<u64> = held.into_iter().collect();
            for b in 0..total {
                let todo: Vec<u64> =
                    batch_ids(b).into_iter().filter(|i| !held.contains(i)).collect();
                let caption = matches!(w, Writer::Caption(_) | Writer::HaavCaption(_));
                if caption && !todo.is_empty() && todo.len() != BATCH as usize {
                    return Err(format!("batch {b} is partly in the caption database"));
                }
                if !todo.is_empty() {
                    w.write(b, &todo).map_err(err)?;
                }
            }
            w.finish().map_err(err)
        }
        _ => Err(format!("unknown mode {mode:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctx-store-crash-writer: {e}");
            ExitCode::FAILURE
        }
    }
}
