//! A writer killed with SIGKILL at any moment leaves a file that h5py opens, holding every batch
//! that was finished, and `append` resumes it to the content of an uninterrupted run.
//!
//! The test binary re-runs itself as the writer: `writer_child` does nothing unless
//! `XCTX_CRASH_CHILD` names a file; then it writes batches forever, printing `batch N` after
//! each, until the parent kills it. After batch `XCTX_CRASH_PAUSE_AFTER` it pauses, and the
//! parent's SIGKILL lands in that pause: a crash between batches. (A kill that lands inside
//! HDF5's flush of a batch, a window of about a millisecond per batch, can leave torn metadata;
//! see docs/hdf5-schema.md.)

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry,
    ViewEntry, VisCtxReader, VisCtxWriter, check,
};
use test_support::{Rng, run_python_code};

const BATCH: u64 = 40;
const K: usize = 16;
const D: usize = 64;
const FDIM: usize = 96;

fn view(rng: &mut Rng, crops: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * K);
    scores.chunks_mut(K).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    ViewEntry {
        crops,
        k: K,
        d: D,
        features: rng.vec_f32(crops * K * D),
        scores,
        texts: (0..crops * K).map(|i| format!("phrase {i} {}", rng.below(1000))).collect(),
    }
}

/// The content of image `id` depends on the id alone, so a resumed run can be compared.
fn txt_entry(id: u64) -> TxtEntry {
    let mut rng = Rng::new(id);
    TxtEntry { id, whole: view(&mut rng, 1), five: view(&mut rng, 5), nine: view(&mut rng, 9) }
}

fn vis_row(id: u64) -> Vec<f32> {
    Rng::new(id).vec_f32(FDIM)
}

fn caption_batch(b: u64) -> (Vec<f32>, Vec<f32>, Vec<String>) {
    let mut rng = Rng::new(b);
    let n = BATCH as usize;
    (rng.vec_f32(n * 8), rng.vec_f32(n * 8), (0..n).map(|i| format!("caption {b} {i}")).collect())
}

fn prov() -> Provenance {
    Provenance::new("crash-test", "{}")
}

/// Writes batch `b` (ids `b*BATCH .. (b+1)*BATCH`) of `kind`.
enum AnyWriter {
    Txt(TxtCtxWriter),
    Vis(VisCtxWriter),
    Caption(CaptionDbWriter),
}

impl AnyWriter {
    fn write(&mut self, b: u64) {
        let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
        match self {
            AnyWriter::Txt(w) => {
                w.write_batch(&ids.iter().map(|&i| txt_entry(i)).collect::<Vec<_>>()).unwrap()
            }
            AnyWriter::Vis(w) => w
                .write_batch(&ids, &ids.iter().flat_map(|&i| vis_row(i)).collect::<Vec<_>>())
                .unwrap(),
            AnyWriter::Caption(w) => {
                let (k, f, c) = caption_batch(b);
                w.write_batch(&k, &f, &c).unwrap()
            }
        }
    }
}

#[test]
fn writer_child() {
    let Some(path) = std::env::var_os("XCTX_CRASH_CHILD") else { return };
    let kind = std::env::var("XCTX_CRASH_KIND").unwrap();
    let mut w = match kind.as_str() {
        "txt" => AnyWriter::Txt(TxtCtxWriter::create(&path, &prov(), true).unwrap()),
        "vis" => AnyWriter::Vis(VisCtxWriter::create(&path, FDIM, &prov(), true).unwrap()),
        _ => AnyWriter::Caption(
            CaptionDbWriter::create(&path, CaptionLayout::Contiguous, 8, 8, &prov(), true).unwrap(),
        ),
    };
    let pause_after: u64 = std::env::var("XCTX_CRASH_PAUSE_AFTER").unwrap().parse().unwrap();
    let mut out = std::io::stdout().lock();
    for b in 0..100_000 {
        w.write(b);
        writeln!(out, "batch {b}").unwrap();
        out.flush().unwrap();
        if b + 1 == pause_after {
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

/// Runs the child until it reports `after` finished batches, waits `delay` (within the child's
/// pause), kills it.
fn run_and_kill(path: &Path, kind: &str, after: u64, delay: Duration) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["writer_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("XCTX_CRASH_CHILD", path)
        .env("XCTX_CRASH_KIND", kind)
        .env("XCTX_CRASH_PAUSE_AFTER", after.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest may put "test writer_child ... " in front of the first line.
        if let Some((_, n)) = line.rsplit_once("batch ") {
            done = n.trim().parse::<u64>().unwrap() + 1;
            if done >= after {
                break;
            }
        }
    }
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    done
}

/// h5py opens the file and counts its root members.
fn h5py_len(path: &Path) -> u64 {
    let out = run_python_code(
        "import sys, h5py\nwith h5py.File(sys.argv[1], 'r') as f:\n    print(len(f['captions']) if 'captions' in f else len(f))",
        &[&path],
    );
    out.trim().parse().unwrap()
}

#[test]
fn killed_txt_writer_leaves_a_readable_resumable_file() {
    let dir = tempfile::tempdir().unwrap();
    // The last kill comes after ~40k objects, when the 16 MiB metadata cache is evicting.
    for (i, (after, delay_ms)) in
        [(1, 0), (2, 3), (4, 11), (3, 25), (80, 7)].into_iter().enumerate()
    {
        let path = dir.path().join(format!("txt-{i}.h5"));
        let reported = run_and_kill(&path, "txt", after, Duration::from_millis(delay_ms));
        let n = h5py_len(&path);
        assert_eq!(n, reported * BATCH, "h5py sees {n} images, {reported} batches were written");
        let report = check(&path).unwrap();
        assert!(report.violations.is_empty(), "{report:?}");

        // Resume and finish; the result equals an uninterrupted run.
        let (mut w, ids) = TxtCtxWriter::append(&path).unwrap();
        assert_eq!(ids, (0..n).collect::<Vec<_>>());
        let total = (n / BATCH + 2).max(6);
        let mut aw = AnyWriter::Txt(w);
        for b in n / BATCH..total {
            aw.write(b);
        }
        let AnyWriter::Txt(w2) = aw else { unreachable!() };
        w = w2;
        w.finish().unwrap();
        let r = TxtCtxReader::open(&path).unwrap();
        assert_eq!(r.ids().unwrap(), (0..total * BATCH).collect::<Vec<_>>());
        for id in [0, n.saturating_sub(1), n, total * BATCH - 1] {
            assert_eq!(r.get(id).unwrap(), txt_entry(id), "image {id}");
        }
    }
}

#[test]
fn killed_vis_and_caption_writers_leave_readable_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vis.h5");
    let reported = run_and_kill(&path, "vis", 5, Duration::from_millis(2));
    let n = h5py_len(&path);
    assert!(n == reported * BATCH, "{n} images after {reported} batches");
    let r = VisCtxReader::open(&path).unwrap();
    let all = r.preload().unwrap();
    assert_eq!(all.ids, (0..n).collect::<Vec<_>>());
    assert_eq!(all.row(n as usize - 1), &vis_row(n - 1)[..]);

    let path = dir.path().join("caption.h5");
    let reported = run_and_kill(&path, "caption", 5, Duration::from_millis(2));
    let n = h5py_len(&path);
    assert!(n == reported * BATCH, "{n} captions after {reported} batches");
    let db = CaptionDb::open(&path).unwrap().load().unwrap();
    assert_eq!(db.captions.len() as u64, n);
    let last = caption_batch(n / BATCH - 1);
    assert_eq!(db.captions[(n - BATCH) as usize..], last.2[..]);
    assert_eq!(db.keys[(n - BATCH) as usize * 8..], last.0[..]);
}
