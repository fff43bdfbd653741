//! `merge` joins shards, empty ones included, into what a single writer writes: equal as
//! ctx-store reads it and as h5py shows it; inputs that cannot join are refused before anything
//! is written.

use std::path::{Path, PathBuf};

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Error, FileKind, Provenance, TxtCtxReader,
    TxtCtxWriter, TxtEntry, ViewEntry, VisCtxReader, VisCtxWriter, detect, merge, summarize,
};
use serde_json::Value;
use test_support::{Rng, run_python_json};

fn prov() -> Provenance {
    Provenance::new("merge-test", r#"{"shard": null}"#)
}

fn dump(path: &Path) -> Value {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h5py_tool.py");
    run_python_json(&tool, &[&"dump", &path])
}

fn view(rng: &mut Rng, crops: usize, k: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * k);
    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    let texts = (0..crops * k).map(|i| format!("text {i} {}", rng.below(50))).collect();
    ViewEntry { crops, k, d: 3, features: rng.vec_f32(crops * k * 3), scores, texts }
}

fn txt_entry(id: u64, k: usize) -> TxtEntry {
    let mut rng = Rng::new(id);
    TxtEntry {
        id: id.into(),
        whole: view(&mut rng, 1, k),
        five: view(&mut rng, 5, k),
        nine: view(&mut rng, 9, k),
    }
}

/// The batches of one run, and how four shards split them (shards 0 and 2 empty).
const BATCH: usize = 3;
const SHARD_BATCHES: [std::ops::Range<usize>; 4] = [0..0, 0..2, 2..2, 2..3];
const IDS: [u64; 8] = [4, 9, 25, 30, 42, 73, 74, 531912];

fn batches() -> Vec<&'static [u64]> {
    IDS.chunks(BATCH).collect()
}

/// Writes the batches `range` of `kind` to `path` with the same calls a step makes.
fn write(kind: &str, path: &Path, range: std::ops::Range<usize>) {
    let b = batches();
    match kind {
        "txt" => {
            let mut w = TxtCtxWriter::create(path, &prov(), false).unwrap();
            for ids in &b[range] {
                w.write_batch(&ids.iter().map(|&i| txt_entry(i, 4)).collect::<Vec<_>>()).unwrap();
            }
            w.finish().unwrap();
        }
        "vis" => {
            let mut w = VisCtxWriter::create(path, 5, &prov(), false).unwrap();
            for ids in &b[range] {
                let rows: Vec<f32> = ids.iter().flat_map(|&i| Rng::new(i).vec_f32(5)).collect();
                w.write_batch(ids, &rows).unwrap();
            }
            w.finish().unwrap();
        }
        _ => {
            let layout =
                if kind == "caption" { CaptionLayout::Contiguous } else { CaptionLayout::Original };
            let mut w = CaptionDbWriter::create(path, layout, 4, 2, &prov(), false).unwrap();
            for (i, ids) in b.iter().enumerate().filter(|(i, _)| range.contains(i)) {
                let mut rng = Rng::new(i as u64);
                let caps: Vec<String> = ids.iter().map(|id| format!("phrase {id}")).collect();
                w.write_batch(&rng.vec_f32(ids.len() * 4), &rng.vec_f32(ids.len() * 2), &caps)
                    .unwrap();
            }
            w.finish().unwrap();
        }
    }
}

fn content(path: &Path) -> String {
    match detect(path).unwrap() {
        FileKind::VisCtx => format!("{:?}", VisCtxReader::open(path).unwrap().preload().unwrap()),
        FileKind::TxtCtx => format!("{:?}", TxtCtxReader::open(path).unwrap().preload().unwrap()),
        FileKind::CaptionDb(l) => {
            let db = CaptionDb::open(path).unwrap();
            format!("{l:?} {} {:?}", db.batches(), db.load().unwrap())
        }
        other => panic!("this test writes no {other} (tests/haav.rs merges HAAV's files)"),
    }
}

#[test]
fn shards_with_empty_ones_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["txt", "vis", "caption", "caption-original"] {
        let single = dir.path().join(format!("{kind}-single.h5"));
        write(kind, &single, 0..batches().len());
        let shards: Vec<PathBuf> = SHARD_BATCHES
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let p = dir.path().join(format!("{kind}-shard-{i}.h5"));
                write(kind, &p, r.clone());
                p
            })
            .collect();
        // An empty shard is a file of its kind, with nothing in it.
        let kind_of_single = detect(&single).unwrap();
        for p in [&shards[0], &shards[2]] {
            assert_eq!(detect(p).unwrap(), kind_of_single, "{kind}: empty shard");
            assert_eq!(summarize(p).unwrap().count, 0, "{kind}");
            assert!(ctx_store::check(p).unwrap().violations.is_empty(), "{kind}");
        }
        let merged = dir.path().join(format!("{kind}-merged.h5"));
        let m = merge(&shards, &merged, &prov(), false).unwrap();
        assert_eq!((m.kind, m.entries), (kind_of_single, IDS.len()), "{kind}");
        assert_eq!(content(&merged), content(&single), "{kind}: merged shards");
        assert_eq!(dump(&merged), dump(&single), "{kind}: h5py's view");

        // Only empty shards: an empty file of the kind.
        let empty = dir.path().join(format!("{kind}-empty.h5"));
        let m = merge(&[&shards[0], &shards[2]], &empty, &prov(), false).unwrap();
        assert_eq!((m.kind, m.entries), (kind_of_single, 0));
        assert_eq!(summarize(&empty).unwrap().count, 0);
    }
}

fn merge_error(e: Error) -> (PathBuf, String) {
    match e {
        Error::Merge { path, message } => (path, message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn inputs_that_cannot_join_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    write("txt", &p("a.h5"), 0..2);
    write("txt", &p("b.h5"), 1..3); // batch 1 again
    write("vis", &p("v.h5"), 2..3);
    let out = p("out.h5");

    let (path, message) =
        merge_error(merge(&[p("a.h5"), p("b.h5")], &out, &prov(), false).unwrap_err());
    assert_eq!(path, p("b.h5"));
    assert!(message.contains("image 30") && message.contains("a.h5"), "{message}");
    let (path, message) =
        merge_error(merge(&[p("a.h5"), p("v.h5")], &out, &prov(), false).unwrap_err());
    assert_eq!(path, p("v.h5"));
    assert!(message.contains("vis_ctx") && message.contains("txt_ctx"), "{message}");
    assert!(!out.exists(), "a refused merge wrote its output");

    // Other sizes: k of txt_ctx, fdim of vis_ctx, widths of a caption database.
    let mut w = TxtCtxWriter::create(p("k.h5"), &prov(), false).unwrap();
    w.write_batch(&[txt_entry(1, 2)]).unwrap();
    w.finish().unwrap();
    let (path, message) =
        merge_error(merge(&[p("a.h5"), p("k.h5")], &out, &prov(), false).unwrap_err());
    assert!(path == p("k.h5") && message.contains("k = 2"), "{message}");
    VisCtxWriter::create(p("v6.h5"), 6, &prov(), false).unwrap().finish().unwrap();
    let (path, message) =
        merge_error(merge(&[p("v.h5"), p("v6.h5")], &out, &prov(), false).unwrap_err());
    assert!(path == p("v6.h5") && message.contains("fdim 6"), "{message}");
    write("caption", &p("c.h5"), 0..1);
    let mut w =
        CaptionDbWriter::create(p("c8.h5"), CaptionLayout::Contiguous, 8, 2, &prov(), false)
            .unwrap();
    w.write_batch(&[0.5; 8], &[0.5; 2], &["x".into()]).unwrap();
    w.finish().unwrap();
    let (path, message) =
        merge_error(merge(&[p("c.h5"), p("c8.h5")], &out, &prov(), false).unwrap_err());
    assert!(path == p("c8.h5") && message.contains("(8, 2)"), "{message}");

    // The output: not replaced without overwrite, never one of the inputs, some input needed.
    std::fs::write(&out, b"keep").unwrap();
    let e = merge(&[p("a.h5")], &out, &prov(), false).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }), "{e:?}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    let (path, _) = merge_error(merge(&[p("v.h5")], p("v.h5"), &prov(), true).unwrap_err());
    assert_eq!(path, p("v.h5"));
    assert_eq!(VisCtxReader::open(p("v.h5")).unwrap().ids().unwrap(), vec![74, 531912]);
    let none: [&Path; 0] = [];
    let (path, _) = merge_error(merge(&none, &out, &prov(), true).unwrap_err());
    assert_eq!(path, out);
}
