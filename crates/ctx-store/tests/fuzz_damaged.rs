//! Damaged context files end in an error, never a hang, a crash or an allocation beyond what the
//! file's length justifies: small files of every kind (written by our writers, compact txt_ctx
//! files included, and by h5py with the original's and HAAV's calls) are mutated by a seeded generator (byte flips, half of them
//! in the first 4 KiB; zeroed 512-byte blocks; truncations; swapped 4 KiB pages) and read, each
//! in a child process (`ctx-store-fuzz-reader`) under a time and an address-space limit, through
//! every read path of its kind and what `ctx-inspect` does (detect, summarise, check).
//!
//! `XCTX_FUZZ_CASES` sets the mutations per file (default 150), `XCTX_FUZZ_SEED` the seed.
#![allow(clippy::print_stderr)] // a line per file kind: how many mutations ended in errors

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Captions, CompactIds, CompactTxtWriter,
    HaavCaptionDb, HaavCaptionDbWriter, HaavTxtCtxWriter, HaavVisCtxWriter, ImageId, Profile,
    Provenance, TxtCtxWriter, TxtEntry, ViewEntry, VisCtxWriter,
};
use test_support::Rng;
use test_support::run_python_code;

mod common;
use common::random_view;

const READER: &str = env!("CARGO_BIN_EXE_ctx-store-fuzz-reader");
/// Time one file's reads may take.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// The reader's address space (`ulimit -v`, KiB): 4 GiB.
const MEMORY_KIB: u64 = 4 << 20;

/// A file to mutate: its name, the reader's kind for it, where it is, and the file its readers
/// look for beside it (a compact txt_ctx's caption database), copied unmutated beside each
/// mutation.
struct Seed {
    name: String,
    kind: &'static str,
    path: PathBuf,
    beside: Option<PathBuf>,
}

fn prov() -> Provenance {
    Provenance::new("fuzz", "{\"seed\": 1}")
}

/// An image with `[whole, five, nine]` texts per crop `ks`.
fn entry(rng: &mut Rng, id: u64, ks: [usize; 3], d: usize) -> TxtEntry {
    TxtEntry {
        id: id.into(),
        whole: random_view(rng, 1, ks[0], d),
        five: random_view(rng, 5, ks[1], d),
        nine: random_view(rng, 9, ks[2], d),
    }
}

fn captions(rng: &mut Rng, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("a phrase {i} of {}", rng.below(100_000))).collect()
}

/// Files of every kind our writers write.
fn ours(dir: &Path) -> Vec<Seed> {
    let mut rng = Rng::new(7);
    let mut seeds = Vec::new();
    let add = |name: &str, kind, seeds: &mut Vec<Seed>| {
        let path = dir.join(format!("{name}.h5"));
        seeds.push(Seed { name: name.into(), kind, path: path.clone(), beside: None });
        path
    };
    let p = add("txt_ctx", "txt", &mut seeds);
    let mut w = TxtCtxWriter::create(&p, &prov(), true).unwrap();
    for batch in [&[531912u64, 17][..], &[42, 9]] {
        let entries: Vec<TxtEntry> =
            batch.iter().map(|&id| entry(&mut rng, id, [4, 4, 4], 8)).collect();
        w.write_batch(&entries).unwrap();
    }
    w.finish().unwrap();

    let p = add("vis_ctx", "vis", &mut seeds);
    let mut w = VisCtxWriter::create(&p, 16, &prov(), true).unwrap();
    w.write_batch(&[1, 2, 3], &rng.vec_f32(48)).unwrap();
    w.write_batch(&[7], &rng.vec_f32(16)).unwrap();
    w.finish().unwrap();

    for (name, layout) in [
        ("caption_db_original", CaptionLayout::Original),
        ("caption_db_contiguous", CaptionLayout::Contiguous),
    ] {
        let p = add(name, "caption", &mut seeds);
        let mut w = CaptionDbWriter::create(&p, layout, 4, 8, &prov(), true).unwrap();
        for n in [20, 13] {
            w.write_batch(&rng.vec_f32(n * 4), &rng.vec_f32(n * 8), &captions(&mut rng, n))
                .unwrap();
        }
        w.finish().unwrap();
    }

    let p = add("haav_vis_ctx", "haav-vis", &mut seeds);
    let mut w = HaavVisCtxWriter::create(&p, 8, 4, &prov(), true).unwrap();
    w.write_batch(&[5, 6], 3, &rng.vec_f32(2 * 3 * 8), &rng.vec_f32(2 * 4)).unwrap();
    w.finish().unwrap();

    let p = add("haav_txt_ctx", "haav-txt", &mut seeds);
    let mut w = HaavTxtCtxWriter::create(&p, 8, &prov(), true).unwrap();
    let entries: Vec<TxtEntry> =
        [11u64, 12].iter().map(|&id| entry(&mut rng, id, [16, 4, 2], 8)).collect();
    w.write_batch(&entries).unwrap();
    w.finish().unwrap();

    let p = add("haav_caption_db", "haav-caption", &mut seeds);
    let mut w = HaavCaptionDbWriter::create(&p, 4, 8, &prov(), true).unwrap();
    for n in [12, 9] {
        w.write_batch(&rng.vec_f32(n * 4), &rng.vec_f32(n * 8), &captions(&mut rng, n)).unwrap();
    }
    w.finish().unwrap();
    seeds.extend(compact(dir));
    seeds
}

/// Phrases of the caption databases of compact files (keys of width 4, features of 8).
const PHRASES: usize = 40;

/// One view of `crops * k` hits, each a row of `c` (its feature and phrase), scores descending.
fn joined_view(rng: &mut Rng, c: &Captions, crops: usize, k: usize) -> ViewEntry {
    let d = c.feature_dim;
    let rows: Vec<usize> = (0..crops * k).map(|_| rng.below(c.captions.len())).collect();
    let mut scores = rng.vec_f32(crops * k);
    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    let features = rows.iter().flat_map(|&r| c.features[r * d..(r + 1) * d].to_vec()).collect();
    let texts = rows.iter().map(|&r| c.captions[r].clone()).collect();
    ViewEntry { crops, k, d, features, scores, texts }
}

/// Compact txt_ctx files (integer ids, name ids, HAAV's profile), each with its caption
/// database beside it.
fn compact(dir: &Path) -> Vec<Seed> {
    let mut rng = Rng::new(11);
    let db = dir.join("compact_caption_db.h5");
    let mut w =
        CaptionDbWriter::create(&db, CaptionLayout::Contiguous, 4, 8, &prov(), true).unwrap();
    let phrases = captions(&mut rng, PHRASES);
    w.write_batch(&rng.vec_f32(PHRASES * 4), &rng.vec_f32(PHRASES * 8), &phrases).unwrap();
    w.finish().unwrap();
    let c = Arc::new(CaptionDb::open(&db).unwrap().load().unwrap());
    let haav_db = dir.join("compact_haav_caption_db.h5");
    let mut w = HaavCaptionDbWriter::create(&haav_db, 4, 8, &prov(), true).unwrap();
    let phrases = captions(&mut rng, PHRASES);
    w.write_batch(&rng.vec_f32(PHRASES * 4), &rng.vec_f32(PHRASES * 8), &phrases).unwrap();
    w.finish().unwrap();
    let haav_c = Arc::new(HaavCaptionDb::open(&haav_db).unwrap().load().unwrap());

    let ints: Vec<ImageId> = [531912u64, 17, 42, 9].into_iter().map(ImageId::from).collect();
    let names: Vec<ImageId> =
        ["beach", "000010001", "10001", "dog_01"].into_iter().map(ImageId::from).collect();
    let haav: Vec<ImageId> = [11u64, 12].into_iter().map(ImageId::from).collect();
    let mut seeds = Vec::new();
    for (name, kind, profile, ids, (db, c), ks) in [
        ("compact_txt_ctx", "txt", Profile::Original, &ints, (&db, &c), [4, 4, 4]),
        ("compact_named_txt_ctx", "txt", Profile::Original, &names, (&db, &c), [3, 2, 2]),
        ("compact_haav_txt_ctx", "haav-txt", Profile::Haav, &haav, (&haav_db, &haav_c), [16, 4, 2]),
    ] {
        let path = dir.join(format!("{name}.h5"));
        let id_kind = CompactIds::of(ids.iter());
        let mut w = CompactTxtWriter::create_with_ids(
            &path,
            profile,
            db,
            c.clone(),
            id_kind,
            &prov(),
            true,
        )
        .unwrap();
        for batch in ids.chunks(2) {
            let entries: Vec<TxtEntry> = batch
                .iter()
                .map(|id| TxtEntry {
                    id: id.clone(),
                    whole: joined_view(&mut rng, c, 1, ks[0]),
                    five: joined_view(&mut rng, c, 5, ks[1]),
                    nine: joined_view(&mut rng, c, 9, ks[2]),
                })
                .collect();
            w.write_batch(&entries).unwrap();
        }
        w.finish().unwrap();
        seeds.push(Seed { name: name.into(), kind, path, beside: Some(db.clone()) });
    }
    seeds
}

/// Files h5py writes with the calls of the original's and HAAV's scripts.
const H5PY_WRITERS: &str = r#"
import sys, h5py, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(3)
f32 = lambda *s: rng.standard_normal(s).astype('f4')
texts = lambda n: ['phrase %d %d' % (i, rng.integers(1000)) for i in range(n)]
with h5py.File(out + '/h5py_vis_ctx.h5', 'w') as f:
    f.attrs['fdim'] = 16
    for i in (1, 2, 3):
        f.create_dataset(str(i), data=f32(16))
with h5py.File(out + '/h5py_txt_ctx.h5', 'w') as f:
    for i in (531912, 17, 42):
        g = f.create_group(str(i))
        for view, crops in (('whole', 1), ('five', 5), ('nine', 9)):
            shape = (4,) if crops == 1 else (crops, 4)
            vg = g.create_group(view)
            vg.create_dataset('features', data=f32(*shape, 8))
            vg.create_dataset('scores', data=-np.sort(-f32(*shape)))
            t = texts(crops * 4)
            vg.create_dataset('texts', data=t if crops == 1 else [t[c * 4:(c + 1) * 4] for c in range(crops)])
with h5py.File(out + '/h5py_caption_db.h5', 'w') as f:
    for b, n in enumerate((20, 13)):
        g = f.create_group(str(b))
        g.create_dataset('keys', data=f32(n, 4), compression='gzip')
        g.create_dataset('features', data=f32(n, 8), compression='gzip')
        g.create_dataset('captions', data=texts(n), compression='gzip')
for ids in ((5,), (6,)):
    with h5py.File(out + '/h5py_haav_vis_ctx.h5', 'a') as f:
        f.attrs['fdim_pooled'] = 4
        f.attrs['fdim_grid'] = 8
        for i in ids:
            g = f.create_group(str(i))
            g.create_dataset('pooled_features', data=f32(4), compression='gzip')
            g.create_dataset('grid_features', data=f32(3, 8), compression='gzip')
for b, n in enumerate((12, 9)):
    with h5py.File(out + '/h5py_haav_caption_db.h5', 'a') as f:
        g = f.create_group(str(b))
        g.create_dataset('keys', data=f32(n, 4), compression='gzip')
        g.create_dataset('values', data=f32(n, 8), compression='gzip')
        g.create_dataset('captions', data=texts(n), compression='gzip')
with h5py.File(out + '/h5py_haav_txt_ctx.h5', 'a') as f:
    for i in (11, 12):
        g1 = f.create_group(str(i))
        f.attrs['fdim'] = 8
        for view, crops, k in (('whole', 1, 16), ('five', 5, 4), ('nine', 9, 2)):
            shape = (k,) if crops == 1 else (crops, k)
            g = g1.create_group(view)
            g.create_dataset('features', data=f32(*shape, 8), compression='gzip')
            g.create_dataset('scores', data=-np.sort(-f32(*shape)), compression='gzip')
            t = texts(crops * k)
            g.create_dataset('texts', data=t if crops == 1 else [t[c * k:(c + 1) * k] for c in range(crops)], compression='gzip')
"#;

fn h5py(dir: &Path) -> Vec<Seed> {
    run_python_code(H5PY_WRITERS, &[&dir]);
    [
        ("h5py_vis_ctx", "vis"),
        ("h5py_txt_ctx", "txt"),
        ("h5py_caption_db", "caption"),
        ("h5py_haav_vis_ctx", "haav-vis"),
        ("h5py_haav_txt_ctx", "haav-txt"),
        ("h5py_haav_caption_db", "haav-caption"),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let path = dir.join(format!("{name}.h5"));
        Seed { name: name.into(), kind, path, beside: None }
    })
    .collect()
}

/// A seeded mutation of `bytes`, and what it did.
fn mutate(bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut b = bytes.to_vec();
    let len = b.len();
    let pages = len / 4096;
    match rng.below(20) {
        0..=7 => {
            let mut what = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let head = rng.below(2) == 0;
                let at = rng.below(if head { len.min(4096) } else { len });
                let mask = 1 + rng.below(255) as u8;
                b[at] ^= mask;
                what.push(format!("{at}^{mask:#04x}"));
            }
            (b, format!("flip {}", what.join(" ")))
        }
        8..=13 => {
            let at = rng.below(len.div_ceil(512)) * 512;
            let end = (at + 512).min(len);
            b[at..end].fill(0);
            (b, format!("zero {at}..{end}"))
        }
        14..=16 => {
            let keep = rng.below(len);
            b.truncate(keep);
            (b, format!("truncate to {keep}"))
        }
        _ if pages >= 2 => {
            let x = rng.below(pages);
            let y = (x + 1 + rng.below(pages - 1)) % pages;
            let (lo, hi) = (x.min(y) * 4096, x.max(y) * 4096);
            let (first, second) = b.split_at_mut(hi);
            first[lo..lo + 4096].swap_with_slice(&mut second[..4096]);
            (b, format!("swap pages at {lo} and {hi}"))
        }
        _ => {
            let at = rng.below(len);
            b[at] = !b[at];
            (b, format!("invert {at}"))
        }
    }
}

/// How reading one file ended.
#[derive(Debug)]
enum Verdict {
    /// The reader's `end` line: successes, failures and the first error.
    Done { ok: usize, err: usize, first: String },
    /// Still reading after [`TIME_LIMIT`].
    Hang,
    /// The reader died: its exit status and the end of its stderr.
    Died(String),
}

/// Reads `files` (all of `kind`) in reader processes, one after another, a new process after
/// one that hung or died.
fn read_all(kind: &str, files: &[PathBuf], scratch: &Path) -> Vec<Verdict> {
    let mut verdicts = Vec::with_capacity(files.len());
    while verdicts.len() < files.len() {
        let start = verdicts.len();
        let stderr_path = scratch.join(format!("stderr-{kind}-{start}"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
            .arg(READER)
            .arg(kind)
            .args(&files[start..])
            .env("RAYON_NUM_THREADS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        loop {
            match rx.recv_timeout(TIME_LIMIT) {
                Ok(line) if line.starts_with("begin ") => {}
                Ok(line) => {
                    let mut parts = line.splitn(5, ' ');
                    let (_, _n) = (parts.next(), parts.next());
                    let ok = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                    let err = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                    let first = parts.next().unwrap_or_default().to_owned();
                    verdicts.push(Verdict::Done { ok, err, first });
                    if verdicts.len() == files.len() {
                        let _ = child.wait();
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    verdicts.push(Verdict::Hang);
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    let tail: String = text.lines().rev().take(4).collect::<Vec<_>>().join(" | ");
                    verdicts.push(Verdict::Died(format!("{status}: {tail}")));
                    break;
                }
            }
        }
    }
    verdicts
}

fn cases() -> usize {
    std::env::var("XCTX_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(150)
}

fn seed() -> u64 {
    std::env::var("XCTX_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(31)
}

/// Mutations of every seed file, read in two reader processes at a time; returns the failures
/// (file, mutation, verdict) and, per seed, the reads that ended in an error.
fn fuzz(seeds: &[Seed], dir: &Path) -> Vec<String> {
    let n = cases();
    let mut jobs = Vec::new();
    for (s, seed_file) in seeds.iter().enumerate() {
        let bytes = std::fs::read(&seed_file.path).unwrap();
        let mut rng = Rng::new(seed() ^ (s as u64) << 32);
        let sub = dir.join(&seed_file.name);
        std::fs::create_dir_all(&sub).unwrap();
        if let Some(beside) = &seed_file.beside {
            std::fs::copy(beside, sub.join(beside.file_name().unwrap())).unwrap();
        }
        let mut files = vec![seed_file.path.clone()];
        let mut what = vec!["unchanged".to_owned()];
        for i in 0..n {
            let (m, description) = mutate(&bytes, &mut rng);
            let p = sub.join(format!("{i}.h5"));
            std::fs::write(&p, m).unwrap();
            files.push(p);
            what.push(description);
        }
        jobs.push((seed_file, files, what));
    }
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((seed_file, files, what)) = jobs.get(j) else { break };
                    let verdicts = read_all(seed_file.kind, files, dir);
                    let mut errors = 0;
                    for (i, v) in verdicts.iter().enumerate() {
                        let bad = match v {
                            // The file as written reads whole.
                            Verdict::Done { ok, err: 0, .. } if i > 0 || *ok > 0 => None,
                            Verdict::Done { .. } if i == 0 => Some(format!("unchanged: {v:?}")),
                            Verdict::Done { .. } => {
                                errors += 1;
                                None
                            }
                            Verdict::Hang => Some("hang".into()),
                            Verdict::Died(how) => Some(format!("died: {how}")),
                        };
                        if let Some(bad) = bad {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{} {}: {bad}", seed_file.name, what[i]));
                        }
                    }
                    eprintln!(
                        "{}: {} mutations, {errors} with reads ending in an error",
                        seed_file.name,
                        files.len() - 1
                    );
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn damaged_files_end_in_an_error_not_a_hang_or_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut seeds = ours(dir.path());
    seeds.extend(h5py(dir.path()));
    let failures = fuzz(&seeds, dir.path());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Offsets of the global heap collections of `bytes` (their signature at a multiple of 8).
fn collections(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(8))
        .step_by(8)
        .filter(|&at| &bytes[at..at + 5] == b"GCOL\x01")
        .collect()
}

/// Every global heap collection of `seed` with a 512-byte block inside it zeroed (the texts of
/// an interrupted download), which HDF5's heap decoder loops on: each read ends, with an error
/// naming the damage and the collection. The file holds at least `min_heaps` collections.
fn zeroed_heap_blocks(seed: &Seed, dir: &Path, min_heaps: usize) {
    let bytes = std::fs::read(&seed.path).unwrap();
    let heaps = collections(&bytes);
    assert!(heaps.len() >= min_heaps, "{}: {heaps:?}", seed.name);
    // The damaged copies lie beside the file as written, and beside its caption database.
    assert!(seed.path.parent() == Some(dir), "{}", seed.name);
    let mut files = Vec::new();
    for (i, &at) in heaps.iter().enumerate() {
        let mut b = bytes.clone();
        // From inside the first object on: object headers read as index 0 and size 0.
        b[at + 32..at + 544].fill(0);
        let p = dir.join(format!("{}-zeroed-heap-{i}.h5", seed.name));
        std::fs::write(&p, b).unwrap();
        files.push(p);
    }
    for (verdict, at) in read_all(seed.kind, &files, dir).into_iter().zip(heaps) {
        match verdict {
            Verdict::Done { err, first, .. } => {
                assert!(err > 0, "{}: heap at {at}: no read failed", seed.name);
                assert!(first.contains("damaged file"), "{}: heap at {at}: {first}", seed.name);
                assert!(first.contains(&format!("at byte {at}")), "{}: {first}", seed.name);
            }
            other => panic!("{}: zeroed block in the heap at {at}: {other:?}", seed.name),
        }
    }
}

#[test]
fn zeroed_block_inside_a_global_heap_of_our_txt_ctx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = ours(dir.path());
    zeroed_heap_blocks(&seeds[0], dir.path(), 2);
}

#[test]
fn zeroed_block_inside_a_global_heap_of_an_h5py_txt_ctx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = h5py(dir.path());
    zeroed_heap_blocks(&seeds[1], dir.path(), 2);
}

/// A compact txt_ctx's global heap holds its root attributes' strings (in dense storage: more
/// than a header holds) and, with name ids, the images' names (`/ids` as strings): a zeroed
/// block there is an error naming the collection, as in the full layout's texts.
#[test]
fn zeroed_block_inside_the_global_heap_of_a_compact_txt_ctx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for seed in compact(dir.path()) {
        zeroed_heap_blocks(&seed, dir.path(), 1);
    }
}
