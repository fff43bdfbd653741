//! Writers killed with SIGKILL inside a batch write leave a file that h5py and ctx-store open,
//! holding every batch that was finished, and `append` continues it to the bytes (as h5py shows
//! them) of an uninterrupted run.
//!
//! The writer is a separate binary (`tests/support/crash_writer.rs`) that stops at a named point
//! of a batch write (the `ctx_store::testing` hook: an entry created, a group of floats written,
//! just before HDF5's flush, just after it), says so on stdout and waits; the test checks that it
//! is still running there and kills it. `flush@B` kills right after HDF5's flush of batch B
//! started instead, while it writes the batch's metadata.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use ctx_store::{
    CaptionDb, HaavCaptionDb, HaavTxtCtxReader, HaavVisCtxReader, TxtCtxReader, VisCtxReader, check,
};
use serde_json::Value;
use test_support::run_python_json;

/// Entries per batch of the writer (its `BATCH`).
const BATCH: u64 = 40;

fn writer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ctx-store-crash-writer"))
}

/// What the killed writer had said: the batches it reported finished, and the lines it printed
/// after the one the test waited for.
struct Killed {
    finished: u64,
    after: Vec<String>,
}

/// Runs the writer with `stop` (`POINT@BATCH`), waits until it reports being there, checks that
/// it is still running and kills it with SIGKILL.
fn run_and_kill(kind: &str, path: &Path, stop: &str) -> Killed {
    let (point, batch) = stop.split_once('@').unwrap();
    let wanted = if point == "flush" {
        format!("flushing {batch}")
    } else {
        format!("stopped at {point} in batch {batch}")
    };
    let mut child = writer()
        .args([kind, &path.display().to_string(), "run", stop])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut finished = 0;
    loop {
        let Some(line) = lines.next() else {
            panic!("{kind} {stop}: the writer ended before the point: {:?}", child.wait());
        };
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("batch ") {
            finished = n.parse::<u64>().unwrap() + 1;
        }
        if line == wanted {
            break;
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "{kind} {stop}: the writer had already ended");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{kind} {stop}: {status:?} is not our SIGKILL");
    Killed { finished, after: lines.map(Result::unwrap).collect() }
}

/// h5py opens the file and counts its entries.
fn h5py_len(path: &Path) -> u64 {
    h5py_len_or_error(path).unwrap_or_else(|| panic!("h5py cannot read {}", path.display()))
}

/// Like [`h5py_len`]; `None` where h5py fails.
fn h5py_len_or_error(path: &Path) -> Option<u64> {
    let code = "
import sys, h5py
with h5py.File(sys.argv[1], 'r') as f:
    if 'captions' in f:
        print(len(f['captions']))
    elif f.attrs['xctx_kind'] in ('caption_db', 'haav_caption_db'):
        print(sum(len(g['captions']) for g in f.values()))
    else:
        print(len(f))
";
    let out = std::process::Command::new(test_support::python())
        .args(["-c", code])
        .arg(path)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

/// Everything h5py shows of the file, values as SHA-256 digests.
fn h5py_digest(path: &Path) -> Value {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h5py_tool.py");
    run_python_json(&tool, &[&"digest", &path])
}

/// Everything ctx-store reads of the file.
fn content(kind: &str, path: &Path) -> String {
    match kind {
        "txt" => {
            let r = TxtCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        "vis" => {
            let r = VisCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        "haav-txt" => {
            let r = HaavTxtCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        "haav-vis" => {
            let r = HaavVisCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        "haav-caption" => {
            let db = HaavCaptionDb::open(path).unwrap();
            format!("{:?} {:?}", db.load().unwrap(), db.provenance().unwrap())
        }
        _ => {
            let db = CaptionDb::open(path).unwrap();
            let prov = db.provenance().unwrap();
            format!("{:?} {} {:?} {prov:?}", db.layout(), db.batches(), db.load().unwrap())
        }
    }
}

/// Writes (once) an uninterrupted file of `total` batches of `kind` in `dir`.
fn uninterrupted(dir: &Path, kind: &str, total: u64) -> PathBuf {
    let path = dir.join(format!("uninterrupted-{kind}-{total}.h5"));
    if !path.exists() {
        let o = writer()
            .args([kind, &path.display().to_string(), "write", &total.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    path
}

/// Kills a `kind` writer at each stop and checks the file with [`readable_and_resumable`].
fn kill_check_resume(kind: &str, stops: &[&str], held: impl Fn(&str, &Killed) -> Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    for (i, stop) in stops.iter().enumerate() {
        let path = dir.path().join(format!("{kind}-{i}.h5"));
        let killed = run_and_kill(kind, &path, stop);
        readable_and_resumable(dir.path(), kind, &path, stop, &held(stop, &killed));
    }
}

/// h5py opens the file with the entries of `held` batches (one of them), ctx-store finds no
/// violation, and a resumed run of a few more batches equals an uninterrupted one, as ctx-store
/// and as h5py see them.
fn readable_and_resumable(dir: &Path, kind: &str, path: &Path, stop: &str, held: &[u64]) {
    let n = h5py_len(path);
    let allowed: Vec<u64> = held.iter().map(|b| b * BATCH).collect();
    assert!(allowed.contains(&n), "{kind} {stop}: h5py sees {n} entries, not {allowed:?}");
    let report = check(path).unwrap();
    assert!(report.violations.is_empty(), "{kind} {stop}: {report:?}");

    let total = (n / BATCH + 2).max(6);
    let o = resume(kind, path, total);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{kind} {stop}: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout.trim(), format!("found {n}"), "{kind} {stop}: resume found");
    let want = uninterrupted(dir, kind, total);
    assert_eq!(content(kind, path), content(kind, &want), "{kind} {stop}: ctx-store");
    // h5py's view of a long file takes a minute to digest; it was opened above.
    if total <= 10 {
        assert_eq!(h5py_digest(path), uninterrupted_digest(&want), "{kind} {stop}: h5py");
    }
}

/// [`h5py_digest`] of an uninterrupted file, computed once.
fn uninterrupted_digest(path: &Path) -> Value {
    static DIGESTS: Mutex<Vec<(PathBuf, Value)>> = Mutex::new(Vec::new());
    let mut digests = DIGESTS.lock().unwrap();
    if let Some((_, d)) = digests.iter().find(|(p, _)| p == path) {
        return d.clone();
    }
    let d = h5py_digest(path);
    digests.push((path.to_owned(), d.clone()));
    d
}

fn resume(kind: &str, path: &Path, total: u64) -> std::process::Output {
    writer()
        .args([kind, &path.display().to_string(), "resume", &total.to_string()])
        .output()
        .unwrap()
}

/// A stop before the flush of batch B leaves batches 0..B; one after it, 0..=B.
fn at_stop(stop: &str, killed: &Killed) -> Vec<u64> {
    let (point, batch) = stop.split_once('@').unwrap();
    let b: u64 = batch.parse().unwrap();
    let reported = if point == "between" { b + 1 } else { b };
    assert_eq!(killed.finished, reported, "{stop}: batches the writer reported finished");
    vec![if matches!(point, "flushed" | "between") { b + 1 } else { b }]
}

/// A kill right after HDF5's flush of batch B started leaves batches 0..B, or 0..=B if the
/// flush ended before the kill landed (then the writer may have said `flushed B`, or more).
fn in_flush(stop: &str, killed: &Killed) -> Vec<u64> {
    let b: u64 = stop.split_once('@').unwrap().1.parse().unwrap();
    assert_eq!(killed.finished, b, "{stop}: batches the writer reported finished");
    let later = killed.after.iter().filter_map(|l| l.strip_prefix("batch ")?.parse::<u64>().ok());
    let reported = later.max().map_or(b, |last| last + 1);
    if killed.after.iter().any(|l| *l == format!("flushed {b}")) {
        vec![reported.max(b + 1)]
    } else {
        vec![reported, reported + 1]
    }
}

#[test]
fn txt_writer_killed_inside_batch_writes() {
    // txt_ctx is written without the HDF5 library: entry0/entry23/entry39: the first, half, all
    // of the batch's images appended; before-flush: the same, the root group's index next;
    // index: the new index written, the superblock that commits it not yet (batch 0: the first
    // batch of a new file). The last stop comes after 3,200 images, the root group's B-tree
    // three levels deep.
    let stops = [
        "entry0@2",
        "entry23@2",
        "entry39@3",
        "before-flush@1",
        "index@0",
        "index@3",
        "flushed@4",
        "between@0",
    ];
    kill_check_resume("txt", &stops, at_stop);
    kill_check_resume("txt", &["index@80"], at_stop);
}

#[test]
fn vis_writer_killed_inside_batch_writes() {
    // vis_ctx is written without the HDF5 library too: entry10/entry39: images laid out, the
    // batch's one write not made yet; before-flush: the write made, the root group's index
    // next; index: the index written, not its superblock.
    let stops = ["entry10@2", "entry39@0", "before-flush@3", "index@0", "index@2", "flushed@1"];
    kill_check_resume("vis", &stops, at_stop);
    kill_check_resume("vis", &["between@1"], at_stop);
}

#[test]
fn haav_writers_killed_inside_batch_writes() {
    // HAAV's files are written without the HDF5 library too: entryN: images laid out (their
    // chunks compressed), the batch's one write not made yet; before-flush: the write made, the
    // root group's index next; index: the index written, not its superblock.
    let stops = ["entry0@2", "entry39@1", "before-flush@3", "index@0", "index@2", "flushed@1"];
    kill_check_resume("haav-txt", &stops, at_stop);
    kill_check_resume("haav-vis", &stops, at_stop);
    kill_check_resume("haav-vis", &["between@1"], at_stop);
}

#[test]
fn caption_writers_killed_inside_batch_writes() {
    let stops = ["entry0@2", "entry1@2", "entry2@1", "before-flush@2", "flushed@3"];
    kill_check_resume("caption", &stops, at_stop);
    kill_check_resume("caption-original", &["entry1@2", "before-flush@1", "flushed@2"], at_stop);
}

/// Kills at unplanned moments of the txt writer's commits (its index and superblock writes,
/// or whatever comes next): every file must read, check clean and resume to an uninterrupted
/// run's content, holding the batches before the commit or including it. (Through the HDF5
/// library, a kill inside its flush could tear the root group's index; the writer without it
/// commits with one superblock write.)
#[test]
fn txt_writer_killed_at_unplanned_moments_of_its_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut before, kills) = (0, 8);
    for i in 0..kills {
        let b = 1 + i % 4;
        let stop = format!("flush@{b}");
        let path = dir.path().join(format!("txt-{i}.h5"));
        let killed = run_and_kill("txt", &path, &stop);
        let held = in_flush(&stop, &killed);
        if h5py_len_or_error(&path) == Some(b * BATCH) {
            before += 1; // batch b was not committed yet
        }
        readable_and_resumable(dir.path(), "txt", &path, &stop, &held);
    }
    println!("{before} of {kills} kills landed before their batch's commit");
}

/// Kills `kills` writers of `kind` (seeded) at random instants of a run of 20 batches (vis_ctx
/// and caption_db, whose batches take a fraction of a millisecond: 100, for the run to outlast
/// the process's start; caption_db's 4,000 rows then fill two chunks), and checks that every file opens in h5py and ctx-store, holds whole batches, and
/// resumes to the uninterrupted run. Returns the kills that left a file with at least one batch.
#[allow(clippy::print_stdout)] // its figures, as the tests' own lines
fn killed_at_random_instants(kind: &str, kills: u64, seed: u64) -> u64 {
    let total: u64 = if kind == "txt" || kind == "haav-txt" { 20 } else { 100 };
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let want = uninterrupted(dir.path(), kind, total);
    let run_time = start.elapsed();
    let mut rng = test_support::Rng::new(seed);
    let (mut with_batches, mut before_first) = (0, 0);
    for i in 0..kills {
        let path = dir.path().join(format!("killed-{i}.h5"));
        let mut child = writer()
            .args([kind, &path.display().to_string(), "write", &total.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let delay = run_time.mul_f64(rng.below(1000) as f64 / 1000.0 * 1.1);
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let at = format!("kill {i} after {delay:?} ({status:?})");
        let Some(n) = h5py_len_or_error(&path) else {
            // Killed before the new file's first commit: no batch was written.
            let r = resume(kind, &path, total);
            assert!(!r.status.success() || content(kind, &path) == content(kind, &want), "{at}");
            before_first += 1;
            continue;
        };
        assert!(n.is_multiple_of(BATCH), "{at}: {n} images");
        with_batches += u64::from(n > 0);
        let report = check(&path).unwrap();
        assert!(report.violations.is_empty(), "{at}: {report:?}");
        let o = resume(kind, &path, total);
        assert!(o.status.success(), "{at}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(content(kind, &path), content(kind, &want), "{at}: resumed");
        std::fs::remove_file(&path).unwrap();
    }
    println!(
        "{kind}: {kills} kills, {with_batches} after a batch's commit, {before_first} before the \
         file's first commit, the rest after its creation; every file opened in h5py and passed \
         check, and resumed equal to the uninterrupted run"
    );
    with_batches
}

#[test]
fn txt_writer_killed_at_seeded_random_instants() {
    let with_batches = killed_at_random_instants("txt", 6, 1);
    assert!(with_batches >= 2, "only {with_batches} of 6 kills came after a batch");
}

/// The kills of the long runs: 300, or `XCTX_CRASH_KILLS`.
fn long_run_kills() -> u64 {
    std::env::var("XCTX_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// The long run of the same: `cargo test -p ctx-store --test crash -- --ignored`.
#[test]
#[ignore = "300 kills: minutes"]
fn txt_writer_killed_at_300_seeded_random_instants() {
    let kills = long_run_kills();
    let with_batches = killed_at_random_instants("txt", kills, 2);
    assert!(with_batches >= kills / 2, "only {with_batches} of {kills} kills came after a batch");
}

#[test]
fn vis_writer_killed_at_seeded_random_instants() {
    // The native writer's whole run is short next to a process start on a loaded machine:
    // most kills may land before the first commit, but some must land after one.
    let with_batches = killed_at_random_instants("vis", 20, 3);
    assert!(with_batches >= 2, "only {with_batches} of 20 kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn vis_writer_killed_at_300_seeded_random_instants() {
    let kills = long_run_kills();
    let with_batches = killed_at_random_instants("vis", kills, 4);
    assert!(with_batches >= kills / 3, "only {with_batches} of {kills} kills came after a batch");
}

#[test]
fn haav_writers_killed_at_seeded_random_instants() {
    // As the vis writer's: most kills may land before the first commit of a short run.
    let with_batches = killed_at_random_instants("haav-txt", 6, 5);
    assert!(with_batches >= 2, "haav-txt: only {with_batches} of 6 kills came after a batch");
    let with_batches = killed_at_random_instants("haav-vis", 20, 6);
    assert!(with_batches >= 2, "haav-vis: only {with_batches} of 20 kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn haav_txt_writer_killed_at_300_seeded_random_instants() {
    let kills = long_run_kills();
    let with_batches = killed_at_random_instants("haav-txt", kills, 7);
    assert!(with_batches >= kills / 2, "only {with_batches} of {kills} kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn haav_vis_writer_killed_at_300_seeded_random_instants() {
    let kills = long_run_kills();
    let with_batches = killed_at_random_instants("haav-vis", kills, 8);
    assert!(with_batches >= kills / 3, "only {with_batches} of {kills} kills came after a batch");
}

#[test]
fn caption_writer_killed_at_seeded_random_instants() {
    let with_batches = killed_at_random_instants("caption", 20, 5);
    assert!(with_batches >= 2, "only {with_batches} of 20 kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn caption_writer_killed_at_300_seeded_random_instants() {
    let with_batches = killed_at_random_instants("caption", 300, 6);
    assert!(with_batches >= 100, "only {with_batches} of 300 kills came after a batch");
}

#[test]
fn original_caption_writer_killed_at_seeded_random_instants() {
    let with_batches = killed_at_random_instants("caption-original", 20, 7);
    assert!(with_batches >= 2, "only {with_batches} of 20 kills came after a batch");
}

#[test]
fn haav_caption_writer_killed_at_seeded_random_instants() {
    let with_batches = killed_at_random_instants("haav-caption", 20, 9);
    assert!(with_batches >= 2, "only {with_batches} of 20 kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn haav_caption_writer_killed_at_300_seeded_random_instants() {
    let kills = long_run_kills();
    let with_batches = killed_at_random_instants("haav-caption", kills, 10);
    assert!(with_batches >= kills / 3, "only {with_batches} of {kills} kills came after a batch");
}

#[test]
#[ignore = "300 kills: minutes"]
fn original_caption_writer_killed_at_300_seeded_random_instants() {
    let with_batches = killed_at_random_instants("caption-original", 300, 8);
    assert!(with_batches >= 100, "only {with_batches} of 300 kills came after a batch");
}
