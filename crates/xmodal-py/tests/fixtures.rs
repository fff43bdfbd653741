//! Writes context files with `ctx-store`'s writers, from deterministic pseudo-random data, for
//! the Python tests (`python/tests`), which compare what `xmodal_ctx` reads with what h5py reads.
//!
//! ```text
//! xmodal-py-fixtures txt OUT N K D              # TxtCtxWriter
//! xmodal-py-fixtures vis OUT N D                # VisCtxWriter
//! xmodal-py-fixtures haav-txt OUT N K D         # HaavTxtCtxWriter (8k, 2k, k rows per crop)
//! xmodal-py-fixtures haav-vis OUT N TOKENS GRID POOLED
//! xmodal-py-fixtures caption OUT N KEY_D D original|contiguous
//! xmodal-py-fixtures haav-caption OUT N KEY_D D
//! ```
//!
//! Image ids are spread out (`7 + 1000 i`), written in two batches (txt_ctx: of at most 256
//! images, generated batch by batch, so that benchmarks can write large files); N = 0 writes an
//! empty file.
#![allow(clippy::print_stderr)]

use ctx_store::{
    CaptionDbWriter, CaptionLayout, HaavCaptionDbWriter, HaavTxtCtxWriter, HaavVisCtxWriter,
    Provenance, TxtCtxWriter, TxtEntry, View, ViewEntry, VisCtxWriter,
};

#[path = "rng.rs"]
mod rng;
use rng::Rng;

/// Texts of one to three words, some of them empty or not ASCII.
trait Texts {
    fn text(&mut self) -> String;
    fn texts(&mut self, n: usize) -> Vec<String>;
}

impl Texts for Rng {
    fn text(&mut self) -> String {
        const WORDS: [&str; 8] = [
            "a dog",
            "on the grass",
            "café au lait",
            "",
            "二匹の猫",
            "red",
            "x",
            "a man riding a horse",
        ];
        let n = 1 + (self.next() % 3) as usize;
        (0..n).map(|_| WORDS[(self.next() % 8) as usize]).collect::<Vec<_>>().join(" ")
    }

    fn texts(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.text()).collect()
    }
}

fn id(i: usize) -> u64 {
    7 + 1000 * i as u64
}

fn view(rng: &mut Rng, v: View, k: usize, d: usize) -> ViewEntry {
    let n = v.crops() * k;
    let mut scores = rng.f32s(n);
    for c in scores.chunks_mut(k.max(1)) {
        c.sort_by(|a, b| b.total_cmp(a));
    }
    ViewEntry { crops: v.crops(), k, d, features: rng.f32s(n * d), scores, texts: rng.texts(n) }
}

fn txt_entries(rng: &mut Rng, n: usize, rows: impl Fn(View) -> usize, d: usize) -> Vec<TxtEntry> {
    (0..n)
        .map(|i| TxtEntry {
            id: id(i).into(),
            whole: view(rng, View::Whole, rows(View::Whole), d),
            five: view(rng, View::Five, rows(View::Five), d),
            nine: view(rng, View::Nine, rows(View::Nine), d),
        })
        .collect()
}

/// The txt_ctx writer of either profile.
enum TxtWriter {
    Original(TxtCtxWriter),
    Haav(HaavTxtCtxWriter),
}

fn num(args: &[String], i: usize) -> Result<usize, String> {
    let a = args.get(i).ok_or_else(|| format!("argument {i} missing"))?;
    a.parse().map_err(|_| format!("argument {i}: {a:?} is not a number"))
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let kind = args.get(1).ok_or("no kind")?.as_str();
    let out = args.get(2).ok_or("no output")?;
    let n = num(args, 3)?;
    let prov = Provenance::new("xmodal-py-fixtures", format!("{args:?}"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let halves = |len: usize| [0..len / 2, len / 2..len];
    match kind {
        "txt" | "haav-txt" => {
            let (k, d) = (num(args, 4)?, num(args, 5)?);
            let batch = n.div_ceil(2).clamp(1, 256);
            let haav = kind == "haav-txt";
            let rows = |v: View| if haav { v.haav_factor() * k } else { k };
            let mut w = if haav {
                TxtWriter::Haav(HaavTxtCtxWriter::create(out, d, &prov, true)?)
            } else {
                TxtWriter::Original(TxtCtxWriter::create(out, &prov, true)?)
            };
            for first in (0..n).step_by(batch) {
                let len = batch.min(n - first);
                let mut entries = txt_entries(&mut rng, len, rows, d);
                for (i, e) in entries.iter_mut().enumerate() {
                    e.id = id(first + i).into();
                }
                match &mut w {
                    TxtWriter::Original(w) => w.write_batch(&entries)?,
                    TxtWriter::Haav(w) => w.write_batch(&entries)?,
                }
            }
            match w {
                TxtWriter::Original(w) => w.finish()?,
                TxtWriter::Haav(w) => w.finish()?,
            }
        }
        "vis" => {
            let d = num(args, 4)?;
            let features = rng.f32s(n * d);
            let mut w = VisCtxWriter::create(out, d, &prov, true)?;
            for part in halves(n) {
                let ids: Vec<u64> = part.clone().map(id).collect();
                w.write_batch(&ids, &features[part.start * d..part.end * d])?;
            }
            w.finish()?;
        }
        "haav-vis" => {
            let (t, g, p) = (num(args, 4)?, num(args, 5)?, num(args, 6)?);
            let (grid, pooled) = (rng.f32s(n * t * g), rng.f32s(n * p));
            let mut w = HaavVisCtxWriter::create(out, g, p, &prov, true)?;
            for part in halves(n) {
                let ids: Vec<u64> = part.clone().map(id).collect();
                let gs = &grid[part.start * t * g..part.end * t * g];
                w.write_batch(&ids, t, gs, &pooled[part.start * p..part.end * p])?;
            }
            w.finish()?;
        }
        "caption" | "haav-caption" => {
            let (kd, d) = (num(args, 4)?, num(args, 5)?);
            let (keys, feats, caps) = (rng.f32s(n * kd), rng.f32s(n * d), rng.texts(n));
            let batches = halves(n);
            if kind == "caption" {
                let layout = match args.get(6).map(String::as_str) {
                    Some("original") => CaptionLayout::Original,
                    Some("contiguous") => CaptionLayout::Contiguous,
                    other => return Err(format!("layout {other:?}").into()),
                };
                let mut w = CaptionDbWriter::create(out, layout, kd, d, &prov, true)?;
                for b in batches {
                    w.write_batch(
                        &keys[b.start * kd..b.end * kd],
                        &feats[b.start * d..b.end * d],
                        &caps[b],
                    )?;
                }
                w.finish()?;
            } else {
                let mut w = HaavCaptionDbWriter::create(out, kd, d, &prov, true)?;
                for b in batches {
                    w.write_batch(
                        &keys[b.start * kd..b.end * kd],
                        &feats[b.start * d..b.end * d],
                        &caps[b],
                    )?;
                }
                w.finish()?;
            }
        }
        other => return Err(format!("unknown kind {other:?}").into()),
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Err(e) = run(&args) {
        eprintln!("xmodal-py-fixtures: {e}");
        std::process::exit(2);
    }
}
