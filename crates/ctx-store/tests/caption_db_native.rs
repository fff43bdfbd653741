//! `caption_db.hdf5` in both layouts, written by the native writer: h5py (both pinned
//! versions) sees what it saw in the HDF5 library's file, ctx-store reads it equal, a resumed
//! file (the native writer's or the HDF5 library's) continues to the uninterrupted run's
//! content, and `ctx-inspect`'s commit state is atomic.

use std::path::Path;

use ctx_store::{CaptionDb, CaptionDbWriter, CaptionLayout, CommitState, Provenance, commit_state};
use test_support::Rng;

const KD: usize = 3;
const FD: usize = 5;

fn provenance() -> Provenance {
    Provenance::new("caption-db-native-test", "{}")
}

/// Batch `b` of `n` rows: keys, features, captions and sources.
fn batch(b: usize, n: usize) -> (Vec<f32>, Vec<f32>, Vec<String>, Vec<String>) {
    let mut rng = Rng::new(b as u64 + 11);
    let captions = (0..n).map(|i| format!("phrase {b}/{i} ☃").repeat(i % 3)).collect();
    let sources = (0..n).map(|i| format!("{}", 1000 + (b * 7 + i) % 13)).collect();
    (rng.vec_f32(n * KD), rng.vec_f32(n * FD), captions, sources)
}

/// Writes batches `sizes` (numbered from `first`) with `w`, with sources or not.
fn write(w: &mut CaptionDbWriter, first: usize, sizes: &[usize], sources: bool) {
    for (i, &n) in sizes.iter().enumerate() {
        let (k, f, c, s) = batch(first + i, n);
        w.write_batch_with_sources(&k, &f, &c, sources.then_some(&s[..])).unwrap();
    }
}

fn create(path: &Path, hdf5: bool) -> CaptionDbWriter {
    create_in(path, CaptionLayout::Contiguous, hdf5)
}

fn create_in(path: &Path, layout: CaptionLayout, hdf5: bool) -> CaptionDbWriter {
    if hdf5 {
        CaptionDbWriter::create_through_hdf5(path, layout, KD, FD, &provenance(), true).unwrap()
    } else {
        CaptionDbWriter::create(path, layout, KD, FD, &provenance(), true).unwrap()
    }
}

/// Everything ctx-store reads of a caption database.
fn content(path: &Path) -> String {
    let db = CaptionDb::open(path).unwrap();
    let c = db.load().unwrap();
    let (sources, prov) = (db.sources().unwrap(), db.provenance().unwrap());
    format!("{} {} {c:?} {sources:?} {prov:?}", db.len(), db.batches())
}

/// What h5py sees of a file: attributes, and every object's kind, dtype, shape, maximum
/// shape, chunks, compression and values.
const DESCRIBE: &str = r#"
import sys, h5py, json, hashlib
def describe(path):
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: str(v) for k, v in f.attrs.items()}
        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                data = o[()]
                digest = hashlib.sha256(repr(data.tolist()).encode()).hexdigest()
                out[name] = [str(o.dtype), o.shape, o.maxshape, o.chunks, o.compression,
                             o.compression_opts, o.shuffle, o.fillvalue is None, digest,
                             {k: str(v) for k, v in o.attrs.items()}]
            else:
                out[name] = ["group", {k: str(v) for k, v in o.attrs.items()}]
        f.visititems(visit)
    return out
print(json.dumps([describe(p) for p in sys.argv[1:]]))
"#;

/// h5py's view of each file, from both pinned versions (equal between them).
fn h5py_views(paths: &[&Path]) -> Vec<serde_json::Value> {
    let mut views = Vec::new();
    for python in [test_support::python(), test_support::old_h5py_python()] {
        let args: Vec<&dyn AsRef<std::ffi::OsStr>> = paths.iter().map(|p| p as _).collect();
        let out = test_support::run_python_code_with(&python, DESCRIBE, &args);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        views.push(v);
    }
    views
}

/// Batches crossing the float datasets' 2048-row chunks, an empty batch among them.
const SIZES: [usize; 5] = [1000, 1500, 0, 3, 2100];

#[test]
fn h5py_sees_the_native_file_as_the_hdf5_librarys() {
    let dir = tempfile::tempdir().unwrap();
    for sources in [false, true] {
        let (native, hdf5) = (dir.path().join("native.h5"), dir.path().join("hdf5.h5"));
        for (path, through) in [(&native, false), (&hdf5, true)] {
            let mut w = create(path, through);
            write(&mut w, 0, &SIZES, sources);
            w.finish().unwrap();
        }
        assert_eq!(content(&native), content(&hdf5), "sources {sources}");
        let views = h5py_views(&[&native, &hdf5]);
        for v in &views {
            assert_eq!(v[0], v[1], "sources {sources}: h5py's view of the two files");
            assert_eq!(v[0]["keys"][1], serde_json::json!([4603, KD]), "{v}");
        }
        assert_eq!(views[0], views[1], "the two h5py versions");
        assert_eq!(
            commit_state(&native).unwrap(),
            CommitState::Atomic { synced: true, finished: true }
        );
    }
}

#[test]
fn strings_cross_their_chunks_and_collections() {
    let dir = tempfile::tempdir().unwrap();
    let (native, hdf5) = (dir.path().join("native.h5"), dir.path().join("hdf5.h5"));
    // 16,384 strings a chunk; over 65,535 strings in one batch take two collections.
    let sizes = [16_000, 70_000];
    for (path, through) in [(&native, false), (&hdf5, true)] {
        let mut w = create(path, through);
        write(&mut w, 0, &sizes, true);
        w.finish().unwrap();
    }
    assert_eq!(content(&native), content(&hdf5));
    let views = h5py_views(&[&native, &hdf5]);
    assert_eq!(views[0][0], views[0][1]);
    assert_eq!(views[1][0], views[0][0]);
}

#[test]
fn a_resumed_file_continues_to_the_uninterrupted_runs_content() {
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("want.h5");
    let mut w = create(&want, false);
    write(&mut w, 0, &SIZES, true);
    w.finish().unwrap();
    let want = content(&want);
    for (split, through) in [(1, false), (2, false), (4, false), (2, true), (4, true)] {
        let path = dir.path().join(format!("resumed-{split}-{through}.h5"));
        let mut w = create(&path, through);
        write(&mut w, 0, &SIZES[..split], true);
        w.finish().unwrap();
        let mut w = CaptionDbWriter::append(&path).unwrap();
        let rows: usize = SIZES[..split].iter().sum();
        assert_eq!(w.rows(), rows);
        write(&mut w, split, &SIZES[split..], true);
        w.finish().unwrap();
        assert_eq!(content(&path), want, "split after {split}, first part through HDF5 {through}");
        let state = commit_state(&path).unwrap();
        // A file the HDF5 library created has no sync record: continued natively, it is
        // still committed atomically, but not recorded so.
        assert!(
            through || state == CommitState::Atomic { synced: true, finished: true },
            "{state:?}"
        );
    }
    // A resumed batch must agree with the file's sources.
    let path = dir.path().join("resumed-1-false.h5");
    let mut w = CaptionDbWriter::append(&path).unwrap();
    let (k, f, c, _) = batch(9, 2);
    let err = w.write_batch(&k, &f, &c).expect_err("refused").to_string();
    assert!(err.contains("without sources"), "{err}");
}

/// The original layout: a gzip group per batch, chunks of h5py's `guess_chunk` (B-trees of
/// more than 64 chunks: `tests/caption_db_parallel.rs`).
#[test]
fn h5py_sees_the_native_original_layout_as_the_hdf5_librarys_and_it_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [1500, 1, 700, 2];
    for sources in [false, true] {
        let (native, hdf5) = (dir.path().join("native.h5"), dir.path().join("hdf5.h5"));
        for (path, through) in [(&native, false), (&hdf5, true)] {
            let mut w = create_in(path, CaptionLayout::Original, through);
            write(&mut w, 0, &sizes, sources);
            w.finish().unwrap();
        }
        assert_eq!(content(&native), content(&hdf5), "sources {sources}");
        let views = h5py_views(&[&native, &hdf5]);
        for v in &views {
            assert_eq!(v[0], v[1], "sources {sources}: h5py's view of the two files");
            assert_eq!(v[0]["0/keys"][1], serde_json::json!([1500, KD]), "{v}");
        }
        assert_eq!(views[0], views[1], "the two h5py versions");
        assert_eq!(
            commit_state(&native).unwrap(),
            CommitState::Atomic { synced: true, finished: true }
        );
        // Resumed after two batches: the same content.
        let resumed = dir.path().join("resumed.h5");
        let mut w = create_in(&resumed, CaptionLayout::Original, false);
        write(&mut w, 0, &sizes[..2], sources);
        w.finish().unwrap();
        let mut w = CaptionDbWriter::append(&resumed).unwrap();
        assert_eq!((w.batches(), w.rows()), (2, 1501));
        write(&mut w, 2, &sizes[2..], sources);
        w.finish().unwrap();
        assert_eq!(content(&resumed), content(&native));
    }
    // An empty batch is refused, the file unchanged.
    let path = dir.path().join("native.h5");
    let before = content(&path);
    let mut w = CaptionDbWriter::append(&path).unwrap();
    let err = w.write_batch_with_sources(&[], &[], &[], Some(&[])).expect_err("refused");
    assert!(err.to_string().contains("empty"), "{err}");
    drop(w);
    assert_eq!(content(&path), before);
}

/// HAAV's caption database (gzip groups with `keys`, `values`, `captions`): the same as the
/// HDF5 library's file in h5py and ctx-store, and resumed to the same content.
#[test]
fn haav_caption_db_is_the_hdf5_librarys_in_h5py_and_resumes() {
    use ctx_store::{HaavCaptionDb, HaavCaptionDbWriter};
    let dir = tempfile::tempdir().unwrap();
    let sizes = [600, 1, 0, 9];
    let write = |w: &mut HaavCaptionDbWriter, first: usize, sizes: &[usize]| {
        for (i, &n) in sizes.iter().enumerate() {
            let (k, f, c, s) = batch(first + i, n);
            w.write_batch_with_sources(&k, &f, &c, Some(&s)).unwrap();
        }
    };
    let haav_content = |path: &Path| {
        let db = HaavCaptionDb::open(path).unwrap();
        format!("{:?} {:?}", db.load().unwrap(), db.sources().unwrap())
    };
    let (native, hdf5) = (dir.path().join("native.h5"), dir.path().join("hdf5.h5"));
    let mut w = HaavCaptionDbWriter::create(&native, KD, FD, &provenance(), true).unwrap();
    write(&mut w, 0, &sizes);
    w.finish().unwrap();
    let mut w =
        HaavCaptionDbWriter::create_through_hdf5(&hdf5, KD, FD, &provenance(), true).unwrap();
    write(&mut w, 0, &sizes);
    w.finish().unwrap();
    assert_eq!(haav_content(&native), haav_content(&hdf5));
    let views = h5py_views(&[&native, &hdf5]);
    for v in &views {
        assert_eq!(v[0], v[1], "h5py's view of the two files");
        assert_eq!(v[0]["0/values"][1], serde_json::json!([600, FD]), "{v}");
    }
    assert_eq!(views[0], views[1], "the two h5py versions");
    assert_eq!(
        commit_state(&native).unwrap(),
        CommitState::Atomic { synced: true, finished: true }
    );
    // Resumed: a file of ours, and one of the HDF5 library's.
    for through in [false, true] {
        let resumed = dir.path().join(format!("resumed-{through}.h5"));
        let mut w = if through {
            HaavCaptionDbWriter::create_through_hdf5(&resumed, KD, FD, &provenance(), true)
        } else {
            HaavCaptionDbWriter::create(&resumed, KD, FD, &provenance(), true)
        }
        .unwrap();
        write(&mut w, 0, &sizes[..2]);
        w.finish().unwrap();
        let mut w = HaavCaptionDbWriter::append(&resumed).unwrap();
        assert_eq!((w.batches(), w.rows()), (2, 601));
        write(&mut w, 2, &sizes[2..]);
        w.finish().unwrap();
        assert_eq!(haav_content(&resumed), haav_content(&native), "through HDF5 {through}");
    }
}
