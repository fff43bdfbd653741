//! The crash simulator: the native writers' file I/O (`txt_ctx.hdf5`, `vis_ctx.hdf5` and
//! `caption_db.hdf5`, of both profiles and both caption layouts) recorded (every write and
//! sync, in order), and from that record every state a power cut could leave at each cut point:
//! everything before the last completed sync kept; of the writes after it, none, all, each one
//! alone, all but each one, seeded random subsets, and each write torn into its first or last
//! 512-byte sectors. Each state is opened to be continued (as the same command would), then
//! must pass `check`, open in h5py (both pinned versions, for a sample), hold a whole number of
//! batches, at least those whose commit a completed sync made durable and at most those
//! committed, and continue to the uninterrupted run's content. The state with every write kept
//! is a killed process's, which must hold every committed batch.
//!
//! The recording is process-wide, so the tests here take turns ([`LOCK`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ctx_store::testing::{self, IoOp};
use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, HaavCaptionDb, HaavCaptionDbWriter,
    HaavTxtCtxReader, HaavTxtCtxWriter, HaavVisCtxReader, HaavVisCtxWriter, Provenance, SyncPolicy,
    TxtCtxReader, TxtCtxWriter, TxtEntry, VisCtxReader, VisCtxWriter, check,
};
use test_support::Rng;

mod common;
use common::random_view;

static LOCK: Mutex<()> = Mutex::new(());

/// Images per batch, and batches per run.
const BATCH: u64 = 3;
const BATCHES: u64 = 4;
/// Writes after the last sync that get states of their own (each alone, all but it, torn),
/// chosen at random where there are more.
const PER_CUT: usize = 6;
const SECTOR: usize = 512;

fn entry(id: u64) -> TxtEntry {
    let mut rng = Rng::new(id + 1);
    TxtEntry {
        id: id.into(),
        whole: random_view(&mut rng, 1, 2, 4),
        five: random_view(&mut rng, 5, 2, 4),
        nine: random_view(&mut rng, 9, 2, 4),
    }
}

fn batch(b: u64) -> Vec<TxtEntry> {
    (b * BATCH..(b + 1) * BATCH).map(entry).collect()
}

/// HAAV's txt_ctx: k and the feature size (views of 8k, 2k and k texts per crop).
const HAAV_K: usize = 1;
const HAAV_D: usize = 4;

fn haav_batch(b: u64) -> Vec<TxtEntry> {
    (b * BATCH..(b + 1) * BATCH)
        .map(|id| {
            let mut rng = Rng::new(id + 1);
            TxtEntry {
                id: id.into(),
                whole: random_view(&mut rng, 1, 8 * HAAV_K, HAAV_D),
                five: random_view(&mut rng, 5, 2 * HAAV_K, HAAV_D),
                nine: random_view(&mut rng, 9, HAAV_K, HAAV_D),
            }
        })
        .collect()
}

/// HAAV's vis_ctx: tokens per image, grid and pooled sizes.
const TOKENS: usize = 3;
const GRID: usize = 8;
const POOLED: usize = 5;

fn provenance() -> Provenance {
    Provenance::new("power-cut-test", "{}")
}

/// vis_ctx: the feature size.
const FDIM: usize = 24;

/// caption_db: rows per batch (the fourth batch crosses the first 2048-row chunk), key and
/// feature sizes.
const CAPTION_BATCH: u64 = 520;
const KD: usize = 4;
const FD: usize = 6;

/// The file being simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Txt,
    Vis,
    HaavTxt,
    HaavVis,
    Caption,
    CaptionOriginal,
    HaavCaption,
}

/// A writer of any kind.
enum Writer {
    Txt(TxtCtxWriter),
    Vis(VisCtxWriter),
    HaavTxt(HaavTxtCtxWriter),
    HaavVis(HaavVisCtxWriter),
    Caption(CaptionDbWriter),
    Haav(HaavCaptionDbWriter),
}

impl Kind {
    fn create(self, path: &Path) -> Writer {
        match self {
            Kind::Txt => Writer::Txt(TxtCtxWriter::create(path, &provenance(), true).unwrap()),
            Kind::Vis => {
                Writer::Vis(VisCtxWriter::create(path, FDIM, &provenance(), true).unwrap())
            }
            Kind::HaavTxt => Writer::HaavTxt(
                HaavTxtCtxWriter::create(path, HAAV_D, &provenance(), true).unwrap(),
            ),
            Kind::HaavVis => Writer::HaavVis(
                HaavVisCtxWriter::create(path, GRID, POOLED, &provenance(), true).unwrap(),
            ),
            Kind::Caption | Kind::CaptionOriginal => {
                let layout = match self {
                    Kind::Caption => CaptionLayout::Contiguous,
                    _ => CaptionLayout::Original,
                };
                let prov = provenance();
                Writer::Caption(CaptionDbWriter::create(path, layout, KD, FD, &prov, true).unwrap())
            }
            Kind::HaavCaption => Writer::Haav(
                HaavCaptionDbWriter::create(path, KD, FD, &provenance(), true).unwrap(),
            ),
        }
    }

    /// Entries (images, or rows) per batch.
    fn per_batch(self) -> u64 {
        match self {
            Kind::Caption | Kind::CaptionOriginal | Kind::HaavCaption => CAPTION_BATCH,
            Kind::Txt | Kind::Vis | Kind::HaavTxt | Kind::HaavVis => BATCH,
        }
    }

    /// Opens `path` to continue it: the writer and the images it holds.
    fn append(self, path: &Path) -> ctx_store::Result<(Writer, Vec<u64>)> {
        Ok(match self {
            Kind::Txt => {
                let (w, ids) = TxtCtxWriter::append(path)?;
                (Writer::Txt(w), integers(ids))
            }
            Kind::Vis => {
                let (w, ids) = VisCtxWriter::append(path)?;
                (Writer::Vis(w), integers(ids))
            }
            Kind::HaavTxt => {
                let (w, ids) = HaavTxtCtxWriter::append(path)?;
                (Writer::HaavTxt(w), integers(ids))
            }
            Kind::HaavVis => {
                let (w, ids) = HaavVisCtxWriter::append(path)?;
                (Writer::HaavVis(w), integers(ids))
            }
            Kind::Caption | Kind::CaptionOriginal => {
                let w = CaptionDbWriter::append(path)?;
                let rows = (0..w.rows() as u64).collect();
                (Writer::Caption(w), rows)
            }
            Kind::HaavCaption => {
                let w = HaavCaptionDbWriter::append(path)?;
                let rows = (0..w.rows() as u64).collect();
                (Writer::Haav(w), rows)
            }
        })
    }

    /// Everything ctx-store reads of a file.
    fn content(self, path: &Path) -> String {
        match self {
            Kind::Txt => {
                let r = TxtCtxReader::open(path).unwrap();
                format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
            }
            Kind::Vis => {
                let r = VisCtxReader::open(path).unwrap();
                format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
            }
            Kind::HaavTxt => {
                let r = HaavTxtCtxReader::open(path).unwrap();
                format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
            }
            Kind::HaavVis => {
                let r = HaavVisCtxReader::open(path).unwrap();
                format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
            }
            Kind::Caption | Kind::CaptionOriginal => {
                let db = CaptionDb::open(path).unwrap();
                let sources = db.sources().unwrap();
                format!("{:?} {sources:?} {:?}", db.load().unwrap(), db.provenance().unwrap())
            }
            Kind::HaavCaption => {
                let db = HaavCaptionDb::open(path).unwrap();
                let sources = db.sources().unwrap();
                format!("{:?} {sources:?} {:?}", db.load().unwrap(), db.provenance().unwrap())
            }
        }
    }
}

impl Writer {
    fn write(&mut self, b: u64) {
        match self {
            Writer::Txt(w) => w.write_batch(&batch(b)).unwrap(),
            Writer::Vis(w) => {
                let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
                let rows: Vec<f32> =
                    ids.iter().flat_map(|&i| Rng::new(i + 1).vec_f32(FDIM)).collect();
                w.write_batch(&ids, &rows).unwrap();
            }
            Writer::HaavTxt(w) => w.write_batch(&haav_batch(b)).unwrap(),
            Writer::HaavVis(w) => {
                let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
                let (grid, pooled) = common::haav_vis_rows(&ids, TOKENS, GRID, POOLED);
                w.write_batch(&ids, TOKENS, &grid, &pooled).unwrap();
            }
            Writer::Caption(_) | Writer::Haav(_) => {
                let n = CAPTION_BATCH as usize;
                let mut rng = Rng::new(b + 1);
                let captions: Vec<String> = (0..n).map(|i| format!("phrase {b} {i}")).collect();
                let sources: Vec<String> = (0..n).map(|i| format!("{}", i % 7)).collect();
                let (mut k, f) = (rng.vec_f32(n * KD), rng.vec_f32(n * FD));
                for row in k.chunks_mut(KD) {
                    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                    row.iter_mut().for_each(|x| *x /= norm);
                }
                let s = Some(&sources[..]);
                match self {
                    Writer::Caption(w) => w.write_batch_with_sources(&k, &f, &captions, s).unwrap(),
                    Writer::Haav(w) => w.write_batch_with_sources(&k, &f, &captions, s).unwrap(),
                    _ => unreachable!("a caption database's writer"),
                }
            }
        }
    }

    fn finish(self) {
        match self {
            Writer::Txt(w) => w.finish().unwrap(),
            Writer::Vis(w) => w.finish().unwrap(),
            Writer::HaavTxt(w) => w.finish().unwrap(),
            Writer::HaavVis(w) => w.finish().unwrap(),
            Writer::Caption(w) => w.finish().unwrap(),
            Writer::Haav(w) => w.finish().unwrap(),
        }
    }
}

/// Writes the run with its I/O recorded; returns the record.
fn recorded_run(kind: Kind, policy: SyncPolicy, path: &Path) -> Vec<IoOp> {
    ctx_store::set_sync_policy(policy);
    testing::start_recording();
    let mut w = kind.create(path);
    for b in 0..BATCHES {
        w.write(b);
    }
    w.finish();
    let ops = testing::take_recording();
    testing::fail_writes_after(None); // real I/O again
    ops
}

/// Applies the operations to a file image.
fn apply<'a>(file: &mut Vec<u8>, ops: impl IntoIterator<Item = &'a IoOp>) {
    for op in ops {
        match op {
            IoOp::Write { at, bytes } => {
                let at = *at as usize;
                if file.len() < at + bytes.len() {
                    file.resize(at + bytes.len(), 0);
                }
                file[at..at + bytes.len()].copy_from_slice(bytes);
            }
            IoOp::SetLen(len) => file.resize(*len as usize, 0),
            _ => {}
        }
    }
}

/// The first `n` (or with `last`, the last `n`) of the write's sectors, counted on the disk's
/// 512-byte grid.
fn torn(op: &IoOp, n: usize, last: bool) -> IoOp {
    let IoOp::Write { at, bytes } = op else { return op.clone() };
    let first_end = (((*at as usize) / SECTOR + 1) * SECTOR - *at as usize).min(bytes.len());
    let mut cuts = vec![0];
    let mut c = first_end;
    while c < bytes.len() {
        cuts.push(c);
        c += SECTOR;
    }
    cuts.push(bytes.len());
    let sectors = cuts.len() - 1;
    let (from, to) = if last { (cuts[sectors - n], bytes.len()) } else { (0, cuts[n]) };
    IoOp::Write { at: at + from as u64, bytes: bytes[from..to].to_vec() }
}

fn sectors(op: &IoOp) -> usize {
    match op {
        IoOp::Write { at, bytes } if !bytes.is_empty() => {
            let end = *at as usize + bytes.len();
            (end - 1) / SECTOR - *at as usize / SECTOR + 1
        }
        _ => 1,
    }
}

/// One cut point's states, as lists of the pending writes kept (in order), with a name.
fn states(pending: &[IoOp], rng: &mut Rng) -> Vec<(String, Vec<IoOp>)> {
    let n = pending.len();
    let mut out = vec![("none".to_owned(), Vec::new()), ("all".to_owned(), pending.to_vec())];
    let mut chosen: Vec<usize> = (0..n).collect();
    while chosen.len() > PER_CUT {
        chosen.remove(rng.below(chosen.len()));
    }
    for i in chosen {
        out.push((format!("only {i}"), vec![pending[i].clone()]));
        let mut but = pending.to_vec();
        but.remove(i);
        out.push((format!("all but {i}"), but));
        let s = sectors(&pending[i]);
        for k in [1, s - 1].into_iter().filter(|&k| k > 0 && k < s) {
            for last in [false, true] {
                let mut t = pending[..i].to_vec();
                t.push(torn(&pending[i], k, last));
                out.push((
                    format!("{i} torn to {} {k} sectors", ["first", "last"][last as usize]),
                    t,
                ));
            }
        }
    }
    for r in 0..3 {
        let kept: Vec<IoOp> = pending.iter().filter(|_| rng.below(2) == 1).cloned().collect();
        out.push((format!("random {r}"), kept));
    }
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// Batches the record commits (`Committed`) in its first `cut` operations, and those a
/// completed sync made durable (`Durable` after a `Sync` among them).
fn committed_and_durable(ops: &[IoOp], cut: usize, per_batch: u64) -> (u64, Option<u64>) {
    let mut committed = 0;
    let mut durable = None;
    for (i, op) in ops.iter().enumerate() {
        match op {
            IoOp::Committed(n) if i <= cut => committed = *n / per_batch, // marks the write before
            IoOp::Durable(n) if i > 0 && i - 1 < cut && ops[i - 1] == IoOp::Sync => {
                durable = Some(*n / per_batch);
            }
            _ => {}
        }
    }
    (committed, durable)
}

struct Outcome {
    states: usize,
    /// States continued with fewer batches than were committed (rolled back to the last sync).
    fewer: usize,
    /// Files to open with h5py, and the least and most images each must hold.
    h5py: Vec<(PathBuf, u64, u64)>,
}

/// Every state of every cut point of `policy`'s run of `kind`.
fn simulate(kind: Kind, policy: SyncPolicy) -> Outcome {
    let _turn = LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let want_path = dir.path().join("uninterrupted.h5");
    let ops = recorded_run(kind, policy, &want_path);
    let want = kind.content(&want_path);
    assert!(ops.contains(&IoOp::Sync), "{policy}: the run never synced");
    let mut rng = Rng::new(7);
    let mut out = Outcome { states: 0, fewer: 0, h5py: Vec::new() };
    let keep_dir = dir.path().join("h5py");
    std::fs::create_dir(&keep_dir).unwrap();
    let path = dir.path().join("state.h5");
    for cut in 0..=ops.len() {
        if cut > 0 && !matches!(ops[cut - 1], IoOp::Write { .. } | IoOp::SetLen(_) | IoOp::Sync) {
            continue; // the same states as the cut before this marker
        }
        let (committed, durable) = committed_and_durable(&ops, cut, kind.per_batch());
        let batch = kind.per_batch();
        let last_sync = ops[..cut].iter().rposition(|op| *op == IoOp::Sync);
        let mut base = Vec::new();
        apply(&mut base, &ops[..last_sync.map_or(0, |s| s + 1)]);
        let pending: Vec<IoOp> = ops[last_sync.map_or(0, |s| s + 1)..cut]
            .iter()
            .filter(|op| matches!(op, IoOp::Write { .. } | IoOp::SetLen(_)))
            .cloned()
            .collect();
        for (name, kept) in states(&pending, &mut rng) {
            let mut file = base.clone();
            apply(&mut file, &kept);
            std::fs::write(&path, &file).unwrap();
            let at = format!("{kind:?} {policy}, cut {cut} of {}, {name}", ops.len());
            let killed = name == "all";
            // A killed process's file (every write kept) is continued in the same boot; a
            // power cut's after a restart.
            testing::pretend_rebooted(!killed);
            let Some(durable) = durable else {
                // Cut before the new file's first sync: nothing was committed; the file may
                // not open, and is then refused with an error, not a panic.
                let _ = kind.append(&path);
                continue;
            };
            let sample = out.states.is_multiple_of(37);
            if sample && policy == SyncPolicy::Batch {
                // Synced at every batch, the state opens as it is, before it is continued.
                let keep = keep_dir.join(format!("{}.h5", out.h5py.len()));
                std::fs::copy(&path, &keep).unwrap();
                out.h5py.push((keep, durable * batch, committed * batch));
            }
            // As the pipeline does before it reads the file's provenance.
            ctx_store::recover(&path).unwrap_or_else(|e| panic!("{at}: recover: {e}"));
            let (w, ids) =
                kind.append(&path).unwrap_or_else(|e| panic!("{at}: cannot be continued: {e}"));
            drop(w);
            let n = ids.len() as u64;
            out.fewer += usize::from(n / batch < committed);
            assert!(n.is_multiple_of(batch), "{at}: {n} images, not whole batches");
            let held = n / batch;
            if killed {
                assert_eq!(held, committed, "{at}: a killed writer's file");
            } else {
                assert!(
                    durable <= held && held <= committed,
                    "{at}: {held} batches, durable {durable}, committed {committed}"
                );
            }
            let report = check(&path).unwrap_or_else(|e| panic!("{at}: check: {e}"));
            assert!(report.violations.is_empty(), "{at}: {report:?}");
            if sample {
                let keep = keep_dir.join(format!("{}.h5", out.h5py.len()));
                std::fs::copy(&path, &keep).unwrap();
                out.h5py.push((keep, n, n));
            }
            let (mut w, ids) = kind.append(&path).unwrap();
            assert_eq!(ids.len() as u64, n, "{at}: opened again");
            for b in held..BATCHES {
                w.write(b);
            }
            w.finish();
            assert_eq!(kind.content(&path), want, "{at}: continued");
            out.states += 1;
        }
    }
    testing::pretend_rebooted(false);
    for python in [test_support::python(), test_support::old_h5py_python()] {
        h5py_holds(kind, &python, &out.h5py);
    }
    out
}

/// h5py (`python`) opens each file, which holds whole images, as many as given (and reads
/// every image's texts, or floats).
fn h5py_holds(kind: Kind, python: &Path, files: &[(PathBuf, u64, u64)]) {
    let code = match kind {
        Kind::Txt | Kind::HaavTxt => {
            "
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, 'r') as f:
        print(len(f), sum(f[k]['nine']['texts'].shape[0] for k in f))
"
        }
        Kind::Vis => {
            "
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, 'r') as f:
        print(len(f), sum(f[k][()].shape[0] for k in f))
"
        }
        Kind::CaptionOriginal | Kind::HaavCaption => {
            "
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, 'r') as f:
        n = sum(g['keys'].shape[0] for g in f.values())
        print(n, sum(len(g['captions'][()]) + len(g['sources'][()]) for g in f.values()))
"
        }
        Kind::Caption => {
            "
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, 'r') as f:
        n = f['keys'].shape[0]
        print(n, len(f['captions'][()]) + (len(f['sources'][()]) if 'sources' in f else n))
"
        }
        Kind::HaavVis => {
            "
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, 'r') as f:
        print(len(f), sum(f[k]['grid_features'][()].size + f[k]['pooled_features'][()].size
                          for k in f))
"
        }
    };
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = files.iter().map(|(p, ..)| p as _).collect();
    let out = test_support::run_python_code_with(python, code, &args);
    let lines: Vec<String> = out.lines().map(String::from).collect();
    assert_eq!(lines.len(), files.len());
    for ((p, lo, hi), line) in files.iter().zip(lines) {
        let n: u64 = line.split(' ').next().unwrap().parse().unwrap();
        assert!(*lo <= n && n <= *hi, "{}: {n} images, not {lo}..={hi}", p.display());
        let per_image = match kind {
            Kind::Txt | Kind::HaavTxt => 9,
            Kind::Vis => FDIM as u64,
            Kind::HaavVis => (TOKENS * GRID + POOLED) as u64,
            Kind::Caption | Kind::CaptionOriginal | Kind::HaavCaption => 2,
        };
        assert_eq!(line, format!("{n} {}", n * per_image), "{}", p.display());
    }
}

#[test]
fn every_power_cut_state_of_a_batch_synced_run_keeps_its_durable_batches() {
    let o = simulate(Kind::Txt, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 150, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_run_synced_at_its_end_rolls_back_to_its_last_sync() {
    let o = simulate(Kind::Txt, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 150, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_batch_synced_vis_run_keeps_its_durable_batches() {
    let o = simulate(Kind::Vis, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 100, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_vis_run_synced_at_its_end_rolls_back_to_its_last_sync() {
    let o = simulate(Kind::Vis, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_batch_synced_haav_txt_run_keeps_its_durable_batches() {
    let o = simulate(Kind::HaavTxt, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 100, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_batch_synced_caption_db_run_keeps_its_durable_batches() {
    let o = simulate(Kind::Caption, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 100, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_haav_txt_run_synced_at_its_end_rolls_back_to_its_last_sync() {
    let o = simulate(Kind::HaavTxt, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_caption_db_run_synced_at_its_end_rolls_back_to_its_last_sync() {
    let o = simulate(Kind::Caption, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_batch_synced_haav_vis_run_keeps_its_durable_batches() {
    let o = simulate(Kind::HaavVis, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 100, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_haav_vis_run_synced_at_its_end_rolls_back_to_its_last_sync() {
    let o = simulate(Kind::HaavVis, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_batch_synced_original_caption_db_run_keeps_its_durable_batches() {
    let o = simulate(Kind::CaptionOriginal, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 60, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_an_original_caption_db_run_synced_at_its_end_rolls_back() {
    let o = simulate(Kind::CaptionOriginal, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

#[test]
fn every_power_cut_state_of_a_batch_synced_haav_caption_db_run_keeps_its_durable_batches() {
    let o = simulate(Kind::HaavCaption, SyncPolicy::Batch);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 60, "{} states", o.states);
}

#[test]
fn every_power_cut_state_of_a_haav_caption_db_run_synced_at_its_end_rolls_back() {
    let o = simulate(Kind::HaavCaption, SyncPolicy::End);
    println!("{} states, {} with fewer batches than committed", o.states, o.fewer);
    assert!(o.states > 30, "{} states", o.states);
    assert!(o.fewer > 0, "no state lost a batch committed after the last sync");
}

/// The test's ids, all integers.
fn integers(ids: Vec<ctx_store::ImageId>) -> Vec<u64> {
    ids.iter().map(|id| id.as_u64().expect("an integer id")).collect()
}
