//! Caption databases whose texts came with sources: the `sources` dataset beside `captions` in
//! both layouts and HAAV's profile, read back row-aligned, resumed, merged, and h5py's view of
//! the other datasets unchanged.

use std::path::Path;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, HaavCaptionDb, HaavCaptionDbWriter, Provenance,
    merge,
};
use test_support::run_python_code;

const D: usize = 4;

fn prov() -> Provenance {
    Provenance::new("test", "{}")
}

/// Batch `b` of `n` rows: keys, features, captions, sources.
fn batch(b: usize, n: usize) -> (Vec<f32>, Vec<f32>, Vec<String>, Vec<String>) {
    let keys = (0..n * D).map(|i| (b * 100 + i) as f32).collect();
    let feats = (0..n * D).map(|i| -((b * 100 + i) as f32)).collect();
    let caps = (0..n).map(|i| format!("caption {b}.{i} ☕")).collect();
    let srcs = (0..n).map(|i| format!("img-{}", (b * n + i) / 2)).collect();
    (keys, feats, caps, srcs)
}

fn expected(batches: &[usize], n: usize) -> (Vec<String>, Vec<String>) {
    let (mut caps, mut srcs) = (Vec::new(), Vec::new());
    for &b in batches {
        let (_, _, c, s) = batch(b, n);
        caps.extend(c);
        srcs.extend(s);
    }
    (caps, srcs)
}

/// What h5py shows: the names of every dataset and, per dataset, shape and first value.
fn h5py_view(path: &Path) -> serde_json::Value {
    let code = r#"
import h5py, json, sys
out = {}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset):
        v = obj[()]
        first = v[0] if len(v) else None
        if isinstance(first, bytes): first = first.decode()
        elif first is not None: first = [float(x) for x in first]
        out[name] = [list(obj.shape), first]
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(visit)
print(json.dumps(out))
"#;
    serde_json::from_str(&run_python_code(code, &[&path])).unwrap()
}

fn write_original(path: &Path, layout: CaptionLayout, batches: &[usize], with_sources: bool) {
    let mut w = CaptionDbWriter::create(path, layout, D, D, &prov(), true).unwrap();
    for &b in batches {
        let (k, f, c, s) = batch(b, 3);
        w.write_batch_with_sources(&k, &f, &c, with_sources.then_some(&s[..])).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn original_layouts_store_sources_row_aligned_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [CaptionLayout::Original, CaptionLayout::Contiguous] {
        let path = dir.path().join(format!("{layout:?}.h5"));
        write_original(&path, layout, &[0, 1], true);
        // Resume: two more batches, the sources continuing in row order.
        let mut w = CaptionDbWriter::append(&path).unwrap();
        for b in [2, 3] {
            let (k, f, c, s) = batch(b, 3);
            w.write_batch_with_sources(&k, &f, &c, Some(&s)).unwrap();
        }
        // A batch without sources is refused once the file has them.
        let (k, f, c, _) = batch(4, 3);
        let err = w.write_batch(&k, &f, &c).unwrap_err().to_string();
        assert!(err.contains("without sources"), "{err}");
        w.finish().unwrap();

        let db = CaptionDb::open(&path).unwrap();
        let (caps, srcs) = expected(&[0, 1, 2, 3], 3);
        assert!(db.has_sources());
        assert_eq!(db.load().unwrap().captions, caps, "{layout:?}");
        assert_eq!(db.sources().unwrap().unwrap(), srcs, "{layout:?}");

        // h5py sees the datasets it always saw, with `sources` beside `captions`.
        let view = h5py_view(&path);
        let names: Vec<&String> = view.as_object().unwrap().keys().collect();
        match layout {
            CaptionLayout::Contiguous => {
                assert_eq!(names, ["captions", "features", "keys", "sources"]);
                assert_eq!(view["captions"][0], serde_json::json!([12]));
                assert_eq!(view["sources"][0], serde_json::json!([12]));
                assert_eq!(view["sources"][1], serde_json::json!("img-0"));
            }
            _ => {
                assert_eq!(names.len(), 16, "{names:?}");
                assert_eq!(view["1/captions"][1], serde_json::json!("caption 1.0 ☕"));
                assert_eq!(view["1/sources"][1], serde_json::json!(srcs[3]));
                assert_eq!(view["1/keys"][1], serde_json::json!([100.0, 101.0, 102.0, 103.0]));
            }
        }
    }
}

#[test]
fn databases_without_sources_read_none_and_refuse_a_batch_with_them() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [CaptionLayout::Original, CaptionLayout::Contiguous] {
        let path = dir.path().join(format!("{layout:?}.h5"));
        write_original(&path, layout, &[0], false);
        let db = CaptionDb::open(&path).unwrap();
        assert!(!db.has_sources());
        assert_eq!(db.sources().unwrap(), None);
        drop(db);
        assert!(!h5py_view(&path).as_object().unwrap().keys().any(|k| k.contains("sources")));
        let mut w = CaptionDbWriter::append(&path).unwrap();
        let (k, f, c, s) = batch(1, 3);
        let err = w.write_batch_with_sources(&k, &f, &c, Some(&s)).unwrap_err().to_string();
        assert!(err.contains("with sources"), "{err}");
    }
}

#[test]
fn haav_stores_sources_resumes_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |name: &str, batches: &[usize]| {
        let path = dir.path().join(name);
        let mut w = HaavCaptionDbWriter::create(&path, D, D, &prov(), true).unwrap();
        let (k, f, c, s) = batch(batches[0], 3);
        w.write_batch_with_sources(&k, &f, &c, Some(&s)).unwrap();
        w.finish().unwrap();
        let mut w = HaavCaptionDbWriter::append(&path).unwrap();
        for &b in &batches[1..] {
            let (k, f, c, s) = batch(b, 3);
            w.write_batch_with_sources(&k, &f, &c, Some(&s)).unwrap();
        }
        w.finish().unwrap();
        path
    };
    let a = shard("a.h5", &[0, 1]);
    let b = shard("b.h5", &[2]);
    let db = HaavCaptionDb::open(&a).unwrap();
    assert_eq!(db.sources().unwrap().unwrap(), expected(&[0, 1], 3).1);
    let view = h5py_view(&a);
    assert_eq!(view["1/sources"][1], serde_json::json!("img-1"));
    assert_eq!(view["1/values"][1], serde_json::json!([-100.0, -101.0, -102.0, -103.0]));

    let out = dir.path().join("merged.h5");
    merge(&[&a, &b], &out, &prov(), false).unwrap();
    let m = HaavCaptionDb::open(&out).unwrap();
    let (caps, srcs) = expected(&[0, 1, 2], 3);
    assert_eq!(m.load().unwrap().captions, caps);
    assert_eq!(m.sources().unwrap().unwrap(), srcs);
}

#[test]
fn merge_keeps_sources_and_refuses_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [CaptionLayout::Original, CaptionLayout::Contiguous] {
        let a = dir.path().join("a.h5");
        let b = dir.path().join("b.h5");
        let c = dir.path().join("c.h5");
        write_original(&a, layout, &[0, 1], true);
        write_original(&b, layout, &[2], true);
        write_original(&c, layout, &[3], false);
        let out = dir.path().join("merged.h5");
        merge(&[&a, &b], &out, &prov(), true).unwrap();
        let m = CaptionDb::open(&out).unwrap();
        assert_eq!(m.sources().unwrap().unwrap(), expected(&[0, 1, 2], 3).1, "{layout:?}");
        let err = merge(&[&a, &c], &out, &prov(), true).unwrap_err().to_string();
        assert!(err.contains("has no sources"), "{err}");
    }
}
