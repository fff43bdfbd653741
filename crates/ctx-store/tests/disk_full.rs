//! A disk that fills up inside a batch: the native writers' writes (`txt_ctx.hdf5`,
//! `vis_ctx.hdf5`, of both profiles, and `caption_db.hdf5` in the contiguous layout) fail with
//! "no space left on device" after a number of bytes (what fits is written), at many points of
//! a run. The error is one line naming the file; once space is freed, the same file continues
//! with every batch committed before the failure, to the uninterrupted run's content. A real
//! file-size limit (`RLIMIT_FSIZE`, the crash writer's process under `ulimit -f`) does the same.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, FileKind, HaavTxtCtxReader, HaavTxtCtxWriter,
    HaavVisCtxReader, HaavVisCtxWriter, Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry,
    VisCtxReader, VisCtxWriter, testing,
};
use test_support::Rng;

mod common;
use common::random_view;

/// The tests here take turns: a child process started by one (the file-size test's writer)
/// inherits the other's open HDF5 file descriptors, and with them its file lock, so the other's
/// reopen of its file could fail with "the file is locked by another process".
static LOCK: Mutex<()> = Mutex::new(());

const BATCH: u64 = 4;
const BATCHES: u64 = 6;

fn batch(b: u64) -> Vec<TxtEntry> {
    (b * BATCH..(b + 1) * BATCH)
        .map(|id| {
            let mut rng = Rng::new(id + 1);
            let (whole, five) = (random_view(&mut rng, 1, 3, 16), random_view(&mut rng, 5, 3, 16));
            TxtEntry { id: id.into(), whole, five, nine: random_view(&mut rng, 9, 3, 16) }
        })
        .collect()
}

fn content(path: &Path) -> String {
    match ctx_store::detect(path) {
        Ok(FileKind::HaavVisCtx) => {
            let r = HaavVisCtxReader::open(path).unwrap();
            return format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap());
        }
        Ok(FileKind::HaavTxtCtx) => {
            let r = HaavTxtCtxReader::open(path).unwrap();
            return format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap());
        }
        _ => {}
    }
    if let Ok(db) = CaptionDb::open(path)
        && db.layout() == CaptionLayout::Contiguous
    {
        return format!("{:?} {:?}", db.load().unwrap(), db.sources().unwrap());
    }
    if VisCtxReader::open(path).is_ok() {
        let r = VisCtxReader::open(path).unwrap();
        return format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap());
    }
    let r = TxtCtxReader::open(path).unwrap();
    format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
}

/// vis_ctx: feature size.
const FDIM: usize = 200;

/// [`run`] of a vis_ctx file.
fn vis_run(path: &Path, from: u64) -> (Option<u64>, Option<ctx_store::Error>) {
    let prov = Provenance::new("disk-full-test", "{}");
    let mut w = match from {
        0 => match VisCtxWriter::create(path, FDIM, &prov, true) {
            Ok(w) => w,
            Err(e) => return (None, Some(e)),
        },
        _ => VisCtxWriter::append(path).unwrap().0,
    };
    for b in from..BATCHES {
        let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
        let rows: Vec<f32> = ids.iter().flat_map(|&i| Rng::new(i + 1).vec_f32(FDIM)).collect();
        if let Err(e) = w.write_batch(&ids, &rows) {
            return (Some(b), Some(e));
        }
    }
    (Some(BATCHES), w.finish().err())
}

/// caption_db: rows per batch (six batches fill two of the floats' 2048-row chunks), key and
/// feature sizes.
const CAPTION_BATCH: usize = 500;
const KD: usize = 4;
const FD: usize = 6;

/// [`run`] of a caption_db file (contiguous layout, with sources).
fn caption_run(path: &Path, from: u64) -> (Option<u64>, Option<ctx_store::Error>) {
    let prov = Provenance::new("disk-full-test", "{}");
    let mut w = match from {
        0 => match CaptionDbWriter::create(path, CaptionLayout::Contiguous, KD, FD, &prov, true) {
            Ok(w) => w,
            Err(e) => return (None, Some(e)),
        },
        _ => CaptionDbWriter::append(path).unwrap(),
    };
    for b in from..BATCHES {
        let n = CAPTION_BATCH;
        let mut rng = Rng::new(b + 1);
        let (k, f) = (rng.vec_f32(n * KD), rng.vec_f32(n * FD));
        let captions: Vec<String> = (0..n).map(|i| format!("phrase {b} {i}")).collect();
        let sources: Vec<String> = (0..n).map(|i| (i % 5).to_string()).collect();
        if let Err(e) = w.write_batch_with_sources(&k, &f, &captions, Some(&sources)) {
            return (Some(b), Some(e));
        }
    }
    (Some(BATCHES), w.finish().err())
}

/// Writes the whole run to `path`; returns the batches written before the first error (`None`
/// if the file could not be created), and the error.
fn run(path: &Path, from: u64) -> (Option<u64>, Option<ctx_store::Error>) {
    let prov = Provenance::new("disk-full-test", "{}");
    let mut w = match from {
        0 => match TxtCtxWriter::create(path, &prov, true) {
            Ok(w) => w,
            Err(e) => return (None, Some(e)),
        },
        _ => TxtCtxWriter::append(path).unwrap().0,
    };
    for b in from..BATCHES {
        if let Err(e) = w.write_batch(&batch(b)) {
            return (Some(b), Some(e));
        }
    }
    (Some(BATCHES), w.finish().err())
}

/// HAAV's vis_ctx: tokens, grid and pooled sizes.
const TOKENS: usize = 5;
const GRID: usize = 40;
const POOLED: usize = 16;

/// [`run`] of a HAAV vis_ctx file.
fn haav_vis_run(path: &Path, from: u64) -> (Option<u64>, Option<ctx_store::Error>) {
    let prov = Provenance::new("disk-full-test", "{}");
    let mut w = match from {
        0 => match HaavVisCtxWriter::create(path, GRID, POOLED, &prov, true) {
            Ok(w) => w,
            Err(e) => return (None, Some(e)),
        },
        _ => HaavVisCtxWriter::append(path).unwrap().0,
    };
    for b in from..BATCHES {
        let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
        let (grid, pooled) = common::haav_vis_rows(&ids, TOKENS, GRID, POOLED);
        if let Err(e) = w.write_batch(&ids, TOKENS, &grid, &pooled) {
            return (Some(b), Some(e));
        }
    }
    (Some(BATCHES), w.finish().err())
}

/// [`run`] of a HAAV txt_ctx file (k = 2: views of 16, 4 and 2 texts per crop).
fn haav_txt_run(path: &Path, from: u64) -> (Option<u64>, Option<ctx_store::Error>) {
    const D: usize = 16;
    let prov = Provenance::new("disk-full-test", "{}");
    let mut w = match from {
        0 => match HaavTxtCtxWriter::create(path, D, &prov, true) {
            Ok(w) => w,
            Err(e) => return (None, Some(e)),
        },
        _ => HaavTxtCtxWriter::append(path).unwrap().0,
    };
    for b in from..BATCHES {
        let entries: Vec<TxtEntry> = (b * BATCH..(b + 1) * BATCH)
            .map(|id| {
                let mut rng = Rng::new(id + 1);
                let (whole, five) =
                    (random_view(&mut rng, 1, 16, D), random_view(&mut rng, 5, 4, D));
                TxtEntry { id: id.into(), whole, five, nine: random_view(&mut rng, 9, 2, D) }
            })
            .collect();
        if let Err(e) = w.write_batch(&entries) {
            return (Some(b), Some(e));
        }
    }
    (Some(BATCHES), w.finish().err())
}

#[test]
fn a_full_disk_inside_a_haav_vis_batch_loses_nothing_committed() {
    full_disk(haav_vis_run, |p| HaavVisCtxWriter::append(p).map(|(_, ids)| integers(ids)));
}

#[test]
fn a_full_disk_inside_a_haav_txt_batch_loses_nothing_committed() {
    full_disk(haav_txt_run, |p| HaavTxtCtxWriter::append(p).map(|(_, ids)| integers(ids)));
}

#[test]
fn a_file_size_limit_on_haav_files_is_one_line_naming_the_file_and_the_file_resumes() {
    file_size_limit("haav-txt", 8);
    file_size_limit("haav-vis", 40);
}

/// A writer's run from a batch on: the batches done and the error.
type Run = fn(&Path, u64) -> (Option<u64>, Option<ctx_store::Error>);

#[test]
fn a_full_disk_inside_a_batch_loses_nothing_committed() {
    full_disk(run, |p| TxtCtxWriter::append(p).map(|(_, ids)| integers(ids)));
}

#[test]
fn a_full_disk_inside_a_vis_batch_loses_nothing_committed() {
    full_disk(vis_run, |p| VisCtxWriter::append(p).map(|(_, ids)| integers(ids)));
}

#[test]
fn a_full_disk_inside_a_caption_db_batch_loses_nothing_committed() {
    full_disk(caption_run, |p| {
        let rows = CaptionDbWriter::append(p)?.rows();
        // As many entries as the other kinds' batches hold, per batch.
        Ok((0..(rows / CAPTION_BATCH) as u64 * BATCH).collect())
    });
}

/// Fills the disk at 39 points of `run`'s file; `held` opens it to be continued.
fn full_disk(run: Run, held: fn(&Path) -> ctx_store::Result<Vec<u64>>) {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let want_path = dir.path().join("uninterrupted.h5");
    // The bytes the run writes (a caption database's chunks are allocated, not all written).
    testing::start_recording();
    assert!(run(&want_path, 0).1.is_none());
    let size: u64 = testing::take_recording()
        .iter()
        .map(|op| match op {
            testing::IoOp::Write { bytes, .. } => bytes.len() as u64,
            _ => 0,
        })
        .sum();
    testing::fail_writes_after(None); // real I/O again
    let want = content(&want_path);
    let path = dir.path().join("full.h5");
    let mut failed_in_a_batch = 0;
    for i in 1..40u64 {
        let budget = size * i / 40;
        testing::fail_writes_after(Some(budget));
        let (done, err) = run(&path, 0);
        testing::fail_writes_after(None);
        let err = err.unwrap_or_else(|| panic!("{budget} bytes: no error"));
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert!(msg.contains("No space left on device"), "{msg}");
        let Some(done) = done else {
            continue; // the new file could not be created: nothing to continue
        };
        let held = held(&path).unwrap_or_else(|e| panic!("{msg}: {e}"));
        // A batch whose superblock was written before the failure (in its sync record's write)
        // is committed though its writer reported the error.
        let kept = held.len() as u64;
        assert!(kept == done * BATCH || kept == (done + 1) * BATCH, "{msg}: {kept} kept, {done}");
        failed_in_a_batch += u64::from(done > 0);
        let (end, err) = run(&path, kept / BATCH);
        assert!(err.is_none() && end == Some(BATCHES), "{budget} bytes: {err:?}");
        assert_eq!(content(&path), want, "{budget} bytes: continued");
    }
    assert!(failed_in_a_batch > 25, "{failed_in_a_batch} failures inside a batch");
}

/// The crash writer's `write` under a file-size limit (SIGXFSZ ignored, as a shell can do),
/// then `resume` without it.
#[test]
fn a_file_size_limit_is_one_line_naming_the_file_and_the_file_resumes() {
    file_size_limit("txt", 8);
}

#[test]
fn a_file_size_limit_on_vis_is_one_line_naming_the_file_and_the_file_resumes() {
    file_size_limit("vis", 40);
}

#[test]
fn a_file_size_limit_on_caption_db_is_one_line_naming_the_file_and_the_file_resumes() {
    file_size_limit("caption", 100);
}

/// [`a_file_size_limit_is_one_line_naming_the_file_and_the_file_resumes`] for the crash
/// writer's `kind`, a run of `batches`.
fn file_size_limit(kind: &str, batches: u64) {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let writer = env!("CARGO_BIN_EXE_ctx-store-crash-writer");
    let want = dir.path().join("want.h5");
    let path = dir.path().join("limited.h5");
    let run = |p: &Path, mode: &str, limit: Option<u64>| {
        let script = match limit {
            Some(blocks) => format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$@\""),
            None => "exec \"$@\"".to_owned(),
        };
        Command::new("sh")
            .args(["-c", &script, "sh", writer, kind])
            .arg(p)
            .args([mode, &batches.to_string()])
            .output()
            .unwrap()
    };
    assert!(run(&want, "write", None).status.success());
    // 512-byte blocks: about half the file.
    let blocks = std::fs::metadata(&want).unwrap().len() / 512 / 2;
    let o = run(&path, "write", Some(blocks));
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    let o = run(&path, "resume", None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let found: u64 =
        String::from_utf8_lossy(&o.stdout).trim().strip_prefix("found ").unwrap().parse().unwrap();
    assert!(found > 0 && found.is_multiple_of(40), "found {found}");
    assert_eq!(content(&path), content(&want));
}

/// The test's ids, all integers.
fn integers(ids: Vec<ctx_store::ImageId>) -> Vec<u64> {
    ids.iter().map(|id| id.as_u64().expect("an integer id")).collect()
}
