//! Driver of `benches/ctx_store_vs_h5py.sh`: times ctx-store writing and preloading txt_ctx, and
//! prints one JSON line per measurement. Data come from `xctx_benches::txt_pool`, generated
//! before the clock starts.
//!
//! ```text
//! io-bench write   OUT N K D [BATCH]   # TxtCtxWriter, N images in batches of BATCH (256)
//! io-bench preload FILE                # TxtCtxReader::preload of every image
//! io-bench floor-write OUT N K D [BATCH]  # only the float bytes, written in order, no HDF5
//! io-bench floor-read FILE N K D          # only the float bytes, read into new buffers
//! io-bench caption-write OUT N D LAYOUT [serial] [hdf5]  # CaptionDbWriter, N phrases, keys
//!                                   # and features D wide; LAYOUT contiguous|original; hdf5:
//!                                   # through the HDF5 library (the writer before the native one)
//! io-bench caption-load FILE [serial]     # CaptionDb::open + load (serial: load_serial)
//! io-bench caption-floor FILE             # the file's float bytes, read in parallel
//! io-bench vis-write OUT N D [BATCH]      # VisCtxWriter, N images of D floats in batches (64)
//! io-bench haav-txt-write OUT N K D [hdf5] [serial]   # HaavTxtCtxWriter, batches of 64 images
//! io-bench haav-vis-write OUT N TOKENS GRID POOLED [hdf5] [serial]  # HaavVisCtxWriter, batches of 64
//!   (hdf5: through the HDF5 library, the writer before the native one; serial: HDF5 compresses)
//!                                         # (serial: chunks compressed by HDF5, one thread)
//! ```
//!
//! `XCTX_SYNC=batch|secs:N|end` sets the writers' sync policy (`ctx_store::SyncPolicy`, the
//! pipeline's `--sync`); its default otherwise.
//!
//! The two floors bound what any writer or preloader of the same data can reach on the machine:
//! they move the same float bytes (features and scores) to or from a file in the same directory
//! and do nothing else (no HDF5 objects, no texts).

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use ctx_store::{Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry, View};

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i)
        .with_context(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {name}: {:?}", args[i]))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut out = std::io::stdout().lock();
    if let Ok(policy) = std::env::var("XCTX_SYNC") {
        ctx_store::set_sync_policy(policy.parse().map_err(anyhow::Error::msg)?);
    }
    match args.get(1).map(String::as_str) {
        Some("write") => {
            let path = &args[2];
            let (n, k, d): (usize, usize, usize) =
                (arg(&args, 3, "N")?, arg(&args, 4, "K")?, arg(&args, 5, "D")?);
            let batch: usize = args.get(6).map_or(Ok(256), |_| arg(&args, 6, "BATCH"))?;
            // One batch of distinct random images, renumbered for every batch (no copies timed).
            let mut entries: Vec<TxtEntry> = xctx_benches::txt_pool(batch, k, d);
            let start = Instant::now();
            let mut w = TxtCtxWriter::create(path, &Provenance::new("io-bench", "{}"), true)?;
            let mut first = 0;
            while first < n {
                let len = batch.min(n - first);
                for (i, e) in entries[..len].iter_mut().enumerate() {
                    e.id = ((first + i) as u64).into();
                }
                w.write_batch(&entries[..len])?;
                first += len;
            }
            w.finish()?;
            let secs = start.elapsed().as_secs_f64();
            let sync = ctx_store::sync_policy().to_string();
            let json =
                serde_json::json!({"op": "write", "images": n, "seconds": secs, "sync": sync});
            writeln!(out, "{json}")?;
        }
        Some("preload") => {
            let path = &args[2];
            let start = Instant::now();
            let r = TxtCtxReader::open(path)?;
            let all = r.preload()?;
            let secs = start.elapsed().as_secs_f64();
            let bytes: usize = all.iter().map(xctx_benches::payload_bytes).sum();
            writeln!(
                out,
                "{}",
                serde_json::json!({"op": "preload", "images": all.len(), "seconds": secs,
                                   "payload_bytes": bytes, "peak_rss_bytes": peak_rss_bytes()})
            )?;
        }
        Some("floor-write") => {
            let path = &args[2];
            let (n, k, d): (usize, usize, usize) =
                (arg(&args, 3, "N")?, arg(&args, 4, "K")?, arg(&args, 5, "D")?);
            let batch: usize = args.get(6).map_or(Ok(256), |_| arg(&args, 6, "BATCH"))?;
            let entries: Vec<TxtEntry> = xctx_benches::txt_pool(batch, k, d);
            let start = Instant::now();
            let mut f = std::fs::File::create(path).with_context(|| path.clone())?;
            for i in 0..n {
                for v in View::ALL.map(|v| entries[i % batch].view(v)) {
                    f.write_all(bytes(&v.features))?;
                    f.write_all(bytes(&v.scores))?;
                }
            }
            drop(f); // no fsync: neither writer (HDF5's flush, h5py's) syncs to the disk
            let secs = start.elapsed().as_secs_f64();
            let json = serde_json::json!({"op": "floor-write", "images": n, "seconds": secs});
            writeln!(out, "{json}")?;
        }
        Some("floor-read") => {
            let path = &args[2];
            let (n, k, d): (usize, usize, usize) =
                (arg(&args, 3, "N")?, arg(&args, 4, "K")?, arg(&args, 5, "D")?);
            let start = Instant::now();
            let bytes = floor_read(std::path::Path::new(path), n, k, d)?;
            let secs = start.elapsed().as_secs_f64();
            let json = serde_json::json!({"op": "floor-read", "images": n, "seconds": secs,
                                          "bytes": bytes});
            writeln!(out, "{json}")?;
        }
        Some("vis-write") => {
            let path = &args[2];
            let (n, d): (usize, usize) = (arg(&args, 3, "N")?, arg(&args, 4, "D")?);
            let batch: usize = args.get(5).map_or(Ok(64), |_| arg(&args, 5, "BATCH"))?;
            let features = test_support::Rng::new(5).vec_f32(batch * d);
            let start = Instant::now();
            let prov = Provenance::new("io-bench", "{}");
            let mut w = ctx_store::VisCtxWriter::create(path, d, &prov, true)?;
            let mut first = 0;
            while first < n {
                let len = batch.min(n - first);
                let ids: Vec<u64> = (first as u64..(first + len) as u64).collect();
                w.write_batch(&ids, &features[..len * d])?;
                first += len;
            }
            w.finish()?;
            let secs = start.elapsed().as_secs_f64();
            writeln!(
                out,
                "{}",
                serde_json::json!({"op": "vis-write", "images": n, "d": d,
                                                    "seconds": secs})
            )?;
        }
        Some(op) if op.starts_with("haav-") => haav(op, &args, &mut out)?,
        Some(op) if op.starts_with("caption-") => caption(op, &args, &mut out)?,
        _ => bail!(
            "usage: io-bench write OUT N K D [BATCH] | preload FILE | floor-write OUT N K D \
             [BATCH] | floor-read FILE N K D | caption-write OUT N D LAYOUT [serial] [hdf5] | \
             caption-load FILE [serial] | caption-floor FILE | vis-write OUT N D [BATCH] | \
             haav-txt-write OUT N K D [hdf5] [serial] | haav-vis-write OUT N TOKENS GRID POOLED \
             [hdf5] [serial]"
        ),
    }
    Ok(())
}

/// HAAV's writers (`haav-*`): N images in batches of 64 (retrieve-captions' and encode-images'
/// default), from a pool of 64 distinct images renumbered for each batch.
fn haav(op: &str, args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    const BATCH: usize = 64;
    let serial = args.iter().any(|a| a == "serial");
    let hdf5 = args.iter().any(|a| a == "hdf5");
    let path = &args[2];
    let n: usize = arg(args, 3, "N")?;
    let prov = Provenance::new("io-bench", "{}");
    let (start, cpu_before);
    match op {
        "haav-txt-write" => {
            let (k, d): (usize, usize) = (arg(args, 4, "K")?, arg(args, 5, "D")?);
            let mut entries = xctx_benches::haav_txt_pool(BATCH, k, d);
            (start, cpu_before) = (Instant::now(), thread_cpu_seconds());
            let mut w = match hdf5 {
                true => ctx_store::HaavTxtCtxWriter::create_through_hdf5(path, d, &prov, true)?,
                false => ctx_store::HaavTxtCtxWriter::create(path, d, &prov, true)?,
            };
            w.set_serial_compression(serial);
            for first in (0..n).step_by(BATCH) {
                let len = BATCH.min(n - first);
                for (i, e) in entries[..len].iter_mut().enumerate() {
                    e.id = ((first + i) as u64).into();
                }
                w.write_batch(&entries[..len])?;
            }
            w.finish()?;
        }
        "haav-vis-write" => {
            let (tokens, grid_d, pooled_d): (usize, usize, usize) =
                (arg(args, 4, "TOKENS")?, arg(args, 5, "GRID")?, arg(args, 6, "POOLED")?);
            let mut rng = test_support::Rng::new(9);
            let (grid, pooled) =
                (rng.vec_f32(BATCH * tokens * grid_d), rng.vec_f32(BATCH * pooled_d));
            (start, cpu_before) = (Instant::now(), thread_cpu_seconds());
            let mut w = match hdf5 {
                true => ctx_store::HaavVisCtxWriter::create_through_hdf5(
                    path, grid_d, pooled_d, &prov, true,
                )?,
                false => ctx_store::HaavVisCtxWriter::create(path, grid_d, pooled_d, &prov, true)?,
            };
            w.set_serial_compression(serial);
            for first in (0..n).step_by(BATCH) {
                let len = BATCH.min(n - first);
                let ids: Vec<u64> = (first as u64..(first + len) as u64).collect();
                let (g, p) = (&grid[..len * tokens * grid_d], &pooled[..len * pooled_d]);
                w.write_batch(&ids, tokens, g, p)?;
            }
            w.finish()?;
        }
        _ => bail!("unknown {op}"),
    }
    let secs = start.elapsed().as_secs_f64();
    let calling = thread_cpu_seconds() - cpu_before;
    let bytes = std::fs::metadata(path)?.len();
    let json = serde_json::json!({"op": op, "hdf5": hdf5, "serial": serial, "images": n,
                                  "seconds": secs,
                                  "calling_thread_cpu_s": calling, "file_bytes": bytes});
    writeln!(out, "{json}")?;
    Ok(())
}

/// CPU time of the calling thread so far (user + system, from `/proc/thread-self/stat`, in
/// the kernel's 10 ms ticks); 0 where that file cannot be read.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) closed by the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// The caption database's measurements (`caption-*`).
fn caption(op: &str, args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    use ctx_store::{CaptionDb, CaptionDbWriter, CaptionLayout};
    let serial = args.iter().any(|a| a == "serial");
    let json = match op {
        "caption-write" => {
            let path = &args[2];
            let (n, d): (usize, usize) = (arg(args, 3, "N")?, arg(args, 4, "D")?);
            let (layout, batch) = match args.get(5).map(String::as_str) {
                Some("contiguous") => (CaptionLayout::Contiguous, 2048),
                Some("original") => (CaptionLayout::Original, 512), // the original's batches
                other => bail!("LAYOUT must be contiguous or original, not {other:?}"),
            };
            // One batch of random rows and Visual-Genome-like phrases, written again and again.
            let mut rng = test_support::Rng::new(11);
            let (keys, features) = (rng.vec_f32(batch * d), rng.vec_f32(batch * d));
            let phrases = xctx_benches::phrases(batch);
            let start = Instant::now();
            let prov = Provenance::new("io-bench", "{}");
            // `hdf5`: through the HDF5 library, as before the native writer.
            let hdf5 = args.iter().any(|a| a == "hdf5");
            let mut w = if hdf5 {
                CaptionDbWriter::create_through_hdf5(path, layout, d, d, &prov, true)?
            } else {
                CaptionDbWriter::create(path, layout, d, d, &prov, true)?
            };
            w.set_serial_compression(serial);
            let mut first = 0;
            while first < n {
                let len = batch.min(n - first);
                w.write_batch(&keys[..len * d], &features[..len * d], &phrases[..len])?;
                first += len;
            }
            w.finish()?;
            serde_json::json!({"op": op, "layout": format!("{layout:?}"), "serial": serial,
                               "hdf5": hdf5, "phrases": n, "d": d, "seconds": start.elapsed().as_secs_f64()})
        }
        "caption-load" => {
            let start = Instant::now();
            let db = CaptionDb::open(&args[2])?;
            let c = if serial { db.load_serial()? } else { db.load()? };
            let secs = start.elapsed().as_secs_f64();
            let bytes = (c.keys.len() + c.features.len()) * 4;
            serde_json::json!({"op": op, "layout": format!("{:?}", db.layout()), "serial": serial,
                               "phrases": c.captions.len(), "float_bytes": bytes, "seconds": secs})
        }
        "caption-floor" => {
            // As many bytes as the database's floats, from the file's start, read by as many
            // threads as cores into one buffer (what a perfect parallel loader moves).
            let db = CaptionDb::open(&args[2])?;
            let values = db.len() * (db.key_dim() + db.feature_dim());
            drop(db);
            let start = Instant::now();
            let f = std::fs::File::open(&args[2])?;
            let mut buf = vec![0f32; values];
            let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
            let per = values.div_ceil(threads).max(1);
            std::thread::scope(|s| -> anyhow::Result<()> {
                let handles: Vec<_> = buf
                    .chunks_mut(per)
                    .enumerate()
                    .map(|(t, part)| {
                        let f = &f;
                        s.spawn(move || {
                            use std::os::unix::fs::FileExt;
                            f.read_exact_at(bytemuck::cast_slice_mut(part), (t * per * 4) as u64)
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().expect("no panic")?;
                }
                Ok(())
            })?;
            let secs = start.elapsed().as_secs_f64();
            serde_json::json!({"op": op, "float_bytes": values * 4, "seconds": secs})
        }
        _ => bail!("unknown {op}"),
    };
    writeln!(out, "{json}")?;
    Ok(())
}

fn bytes(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// Reads the float bytes of `n` images of `k` texts and `d`-sized features from `path` into new
/// buffers (six per image, the preload's sizes), on as many threads as cores; the file (any file
/// at least that large, e.g. the one the preload read) is read from its start, in order.
fn floor_read(path: &std::path::Path, n: usize, k: usize, d: usize) -> anyhow::Result<usize> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let sizes: Vec<usize> =
        View::ALL.iter().flat_map(|v| [v.crops() * k * d, v.crops() * k]).collect();
    let per_image: usize = sizes.iter().sum::<usize>() * 4;
    let len = f.metadata()?.len() as usize;
    anyhow::ensure!(len >= n * per_image, "{path:?} holds {len} bytes, fewer than {n} images");
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let kept: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (f, sizes) = (&f, &sizes);
                s.spawn(move || -> std::io::Result<Vec<Vec<f32>>> {
                    let mut kept = Vec::new();
                    for i in (t * n / threads)..((t + 1) * n / threads) {
                        let mut offset = (i * per_image) as u64;
                        for &size in sizes {
                            let mut v = vec![0f32; size];
                            f.read_exact_at(bytemuck::cast_slice_mut(&mut v), offset)?;
                            offset += size as u64 * 4;
                            kept.push(v);
                        }
                    }
                    Ok(kept)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).collect::<Result<_, _>>()
    })?;
    Ok(kept.iter().flatten().map(|v| v.len() * 4).sum())
}
