//! The compact txt_ctx layout for the Python tests and its benchmark: a caption database, a
//! txt_ctx of the full layout whose hits are its rows, and the same entries in the compact
//! layout (`CompactTxtWriter`), in one directory; and the preload of either file, timed.
//!
//! ```text
//! xmodal-py-compact-fixtures write DIR original|haav N K D [PHRASES [named]]
//!     # DIR/caption_db.hdf5, DIR/full.hdf5, DIR/compact.hdf5; prints their sizes (JSON);
//!     # `named`: images named as a folder's stems, integers and names mixed (`7`, `img_1`,
//!     # `000000002`), the compact file's ids stored as names
//! xmodal-py-compact-fixtures preload FILE   # open + preload (compact: with the join), timed
//! ```
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ctx_store::{
    CaptionDbWriter, CaptionLayout, Captions, CompactIds, CompactTxtWriter, HaavCaptionDbWriter,
    HaavTxtCtxReader, HaavTxtCtxWriter, ImageId, Profile, Provenance, TxtCtxReader, TxtCtxWriter,
    TxtEntry, View, ViewEntry,
};

#[path = "rng.rs"]
mod rng;
use rng::Rng;

type Failure = Box<dyn std::error::Error>;

fn usage() -> Failure {
    "usage: xmodal-py-compact-fixtures write DIR original|haav N K D [PHRASES [named]] | preload FILE"
        .into()
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<usize, Failure> {
        Ok(args.get(i).ok_or_else(usage)?.parse::<usize>()?)
    };
    match args.first().map(String::as_str) {
        Some("write") => {
            let dir = Path::new(args.get(1).ok_or_else(usage)?);
            let profile = Profile::from_name(args.get(2).ok_or_else(usage)?).ok_or_else(usage)?;
            let phrases = if args.len() > 6 { num(6)? } else { 500 };
            let named = match args.get(7).map(String::as_str) {
                None => false,
                Some("named") => true,
                Some(_) => return Err(usage()),
            };
            write(dir, profile, num(3)?, num(4)?, num(5)?, phrases, named)
        }
        Some("preload") => preload(Path::new(args.get(1).ok_or_else(usage)?)),
        _ => Err(usage()),
    }
}

fn write(
    dir: &Path,
    profile: Profile,
    n: usize,
    k: usize,
    d: usize,
    phrases: usize,
    named: bool,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)?;
    let prov = Provenance::new("xmodal-py-compact-fixtures", "{}");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kd = 4;
    let c = Captions {
        key_dim: kd,
        feature_dim: d,
        keys: rng.f32s(phrases * kd),
        features: rng.f32s(phrases * d),
        captions: (0..phrases).map(|i| format!("phrase {i}: a dog on the grass, café")).collect(),
    };
    let db = dir.join("caption_db.hdf5");
    match profile {
        Profile::Original => {
            let mut w =
                CaptionDbWriter::create(&db, CaptionLayout::Contiguous, kd, d, &prov, true)?;
            w.write_batch(&c.keys, &c.features, &c.captions)?;
            w.finish()?;
        }
        Profile::Haav => {
            let mut w = HaavCaptionDbWriter::create(&db, kd, d, &prov, true)?;
            w.write_batch(&c.keys, &c.features, &c.captions)?;
            w.finish()?;
        }
    }
    let c = Arc::new(c);
    let rows_per_crop = |v: View| match profile {
        Profile::Original => k,
        Profile::Haav => v.haav_factor() * k,
    };
    let (full, compact) = (dir.join("full.hdf5"), dir.join("compact.hdf5"));
    let mut fw = match profile {
        Profile::Original => Full::Original(TxtCtxWriter::create(&full, &prov, true)?),
        Profile::Haav => Full::Haav(HaavTxtCtxWriter::create(&full, d, &prov, true)?),
    };
    let ids: Vec<ImageId> = (0..n as u64)
        .map(|i| match (named, i % 3) {
            (true, 1) => ImageId::from(format!("img_{i}")),
            (true, 2) => ImageId::from(format!("{i:09}")),
            _ => ImageId::from(7 + 1000 * i),
        })
        .collect();
    let id_kind = CompactIds::of(&ids);
    let mut cw =
        CompactTxtWriter::create_with_ids(&compact, profile, &db, c.clone(), id_kind, &prov, true)?;
    for chunk in ids.chunks(256) {
        let entries: Vec<TxtEntry> = chunk
            .iter()
            .map(|id| {
                let mut view = |v: View| {
                    let (crops, k) = (v.crops(), rows_per_crop(v));
                    let rows: Vec<usize> =
                        (0..crops * k).map(|_| (rng.next() % phrases as u64) as usize).collect();
                    let mut scores = rng.f32s(crops * k);
                    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
                    ViewEntry {
                        crops,
                        k,
                        d,
                        features: rows
                            .iter()
                            .flat_map(|&r| c.features[r * d..(r + 1) * d].iter().copied())
                            .collect(),
                        scores,
                        texts: rows.iter().map(|&r| c.captions[r].clone()).collect(),
                    }
                };
                TxtEntry {
                    id: id.clone(),
                    whole: view(View::Whole),
                    five: view(View::Five),
                    nine: view(View::Nine),
                }
            })
            .collect();
        match &mut fw {
            Full::Original(w) => w.write_batch(&entries)?,
            Full::Haav(w) => w.write_batch(&entries)?,
        }
        cw.write_batch(&entries)?;
    }
    match fw {
        Full::Original(w) => w.finish()?,
        Full::Haav(w) => w.finish()?,
    }
    cw.finish()?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len());
    let (f, cb) = (size(&full)?, size(&compact)?);
    println!(
        "{{\"images\": {n}, \"k\": {k}, \"d\": {d}, \"phrases\": {phrases}, \"full_bytes\": {f}, \
         \"compact_bytes\": {cb}, \"caption_db_bytes\": {}, \"compact_over_full\": {}}}",
        size(&db)?,
        cb as f64 / f as f64
    );
    Ok(())
}

enum Full {
    Original(TxtCtxWriter),
    Haav(HaavTxtCtxWriter),
}

fn preload(path: &Path) -> Result<(), Failure> {
    let start = Instant::now();
    let haav = ctx_store::detect(path)? == ctx_store::FileKind::HaavTxtCtx;
    let all = if haav {
        HaavTxtCtxReader::open(path)?.preload()?
    } else {
        TxtCtxReader::open(path)?.preload()?
    };
    let secs = start.elapsed().as_secs_f64();
    let floats: usize =
        all.iter().flat_map(|e| [&e.whole, &e.five, &e.nine]).map(|v| v.features.len()).sum();
    println!(
        "{{\"file\": {path:?}, \"images\": {}, \"floats\": {floats}, \"seconds\": {secs}}}",
        all.len()
    );
    Ok(())
}
