//! ctx-store against h5py, both ways. The h5py side is `h5py_tool.py` beside this file: it
//! writes files with exactly the original pipeline's calls and dumps what h5py shows of a file.

use std::path::{Path, PathBuf};

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, HaavCaptionDbWriter, HaavTxtCtxWriter,
    HaavVisCtxWriter, Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry, View, ViewEntry,
    VisCtxReader, VisCtxWriter, schema,
};
use serde_json::{Value, json};
use test_support::{Rng, old_h5py_python, run_python, run_python_json, run_python_json_with};

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h5py_tool.py")
}

const TEXTS: &[&str] = &[
    "white dog",
    "man riding horse",
    "café au lait ☕",
    "日本語のテキスト",
    "dog 🐕 on a sofa",
    "",
    "a  double  space",
    "line\nbreak",
    "tab\tinside",
    "quote \" and 'apostrophe'",
];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn view_entry(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * k);
    for row in scores.chunks_mut(k) {
        row.sort_by(|a, b| b.total_cmp(a));
    }
    ViewEntry {
        crops,
        k,
        d,
        features: rng.vec_f32(crops * k * d),
        scores,
        texts: (0..crops * k).map(|_| TEXTS[rng.below(TEXTS.len())].to_owned()).collect(),
    }
}

fn txt_entries(seed: u64, ids: &[u64], k: usize, d: usize) -> Vec<TxtEntry> {
    let mut rng = Rng::new(seed);
    ids.iter()
        .map(|&id| TxtEntry {
            id: id.into(),
            whole: view_entry(&mut rng, 1, k, d),
            five: view_entry(&mut rng, 5, k, d),
            nine: view_entry(&mut rng, 9, k, d),
        })
        .collect()
}

fn view_json(v: &ViewEntry) -> Value {
    json!({"crops": v.crops, "k": v.k, "d": v.d, "features": bits(&v.features),
           "scores": bits(&v.scores), "texts": v.texts})
}

fn write_original_txt(dir: &Path, entries: &[TxtEntry]) -> PathBuf {
    let spec = json!({"entries": entries.iter().map(|e| json!({
        "id": e.id.as_u64(), "whole": view_json(&e.whole), "five": view_json(&e.five), "nine": view_json(&e.nine)
    })).collect::<Vec<_>>()});
    write_original(dir, "txt", &spec)
}

fn write_original(dir: &Path, kind: &str, spec: &Value) -> PathBuf {
    let spec_path = dir.join(format!("{kind}-spec.json"));
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = dir.join(format!("{kind}-original.h5"));
    run_python(&tool(), &[&"write-original", &kind, &spec_path, &out]);
    out
}

fn dump(path: &Path) -> Value {
    run_python_json(&tool(), &[&"dump", &path])
}

/// Our dump minus the provenance and kind attributes, which the original's files do not have.
fn without_provenance(mut v: Value) -> Value {
    let attrs = v["/"]["attrs"].as_object_mut().unwrap();
    for name in [
        schema::PROVENANCE_TOOL,
        schema::PROVENANCE_VERSION,
        schema::PROVENANCE_ARGUMENTS,
        schema::KIND,
    ] {
        let a = attrs.remove(name).unwrap_or_else(|| panic!("provenance attribute {name} missing"));
        assert_eq!(a["string"], json!(["utf-8", null]), "{name} is a variable-length UTF-8 str");
    }
    v
}

fn assert_same_entry(got: &TxtEntry, want: &TxtEntry) {
    assert_eq!(got.id, want.id);
    for view in View::ALL {
        let (g, w) = (got.view(view), want.view(view));
        assert_eq!((g.crops, g.k, g.d), (w.crops, w.k, w.d), "{} {view}", want.id);
        assert_eq!(bits(&g.features), bits(&w.features), "{} {view} features", want.id);
        assert_eq!(bits(&g.scores), bits(&w.scores), "{} {view} scores", want.id);
        assert_eq!(g.texts, w.texts, "{} {view} texts", want.id);
    }
}

fn prov() -> Provenance {
    Provenance::new("h5py_compat", r#"{"test": true}"#)
}

#[test]
fn txt_ctx_written_by_h5py_reads_identically() {
    let dir = tempfile::tempdir().unwrap();
    let entries = txt_entries(1, &[9, 531912, 100, 42], 4, 6);
    let path = write_original_txt(dir.path(), &entries);

    let r = TxtCtxReader::open(&path).unwrap();
    assert_eq!(r.ids().unwrap(), vec![9, 42, 100, 531912]);
    assert_eq!(r.provenance().unwrap(), None);
    for e in &entries {
        assert_same_entry(&r.get(&e.id).unwrap(), e);
    }
    // f["531912/five/features"][2, :3] and friends.
    let v = r.view(531912, View::Five, Some(2), Some(3)).unwrap();
    let want = entries[1].five.select(Some(2), Some(3)).unwrap();
    assert_eq!(v, want);
    assert_eq!(v.features_shape(), vec![3, 6]);
    assert_eq!(v.texts, entries[1].five.texts[8..11].to_vec());
    // A top_k above k keeps k, as Python slicing does.
    assert_eq!(r.view(9, View::Whole, None, Some(99)).unwrap().k, 4);

    let mut pre = r.preload().unwrap();
    pre.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want = entries.clone();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(pre.len(), want.len(), "preload returned {} of {} images", pre.len(), want.len());
    for (g, w) in pre.iter().zip(&want) {
        assert_same_entry(g, w);
    }
}

#[test]
fn txt_ctx_we_write_is_what_h5py_sees_in_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let entries = txt_entries(2, &[531912, 7, 123], 3, 5);
    let original = write_original_txt(dir.path(), &entries);

    let ours = dir.path().join("ours.h5");
    let mut w = TxtCtxWriter::create(&ours, &prov(), false).unwrap();
    w.write_batch(&entries[..2]).unwrap();
    w.write_batch(&entries[2..]).unwrap();
    w.finish().unwrap();

    let (a, b) = (without_provenance(dump(&ours)), dump(&original));
    assert_eq!(a, b, "h5py's view of our txt_ctx differs from the original's");
    // The string type, spelled out: h5py returns bytes of a variable-length UTF-8 dataset.
    let texts = &a["531912/five/texts"];
    assert_eq!(texts["string"], json!(["utf-8", null]));
    assert_eq!(texts["value"]["types"], json!(["bytes"]));
    assert_eq!(a["531912/nine/features"]["dtype"], json!("float32"));
    assert_eq!(a["531912/nine/features"]["shape"], json!([9, 3, 5]));

    let r = TxtCtxReader::open(&ours).unwrap();
    assert_eq!(r.provenance().unwrap(), Some(prov()));
}

#[test]
fn vis_ctx_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let fdim = 12;
    let ids = [531912u64, 1, 77];
    let mut rng = Rng::new(3);
    let features = rng.vec_f32(ids.len() * fdim);
    let spec = json!({"fdim": fdim, "entries": ids.iter().enumerate().map(|(i, id)| json!({
        "id": id, "features": bits(&features[i * fdim..(i + 1) * fdim])
    })).collect::<Vec<_>>()});
    let original = write_original(dir.path(), "vis", &spec);

    let r = VisCtxReader::open(&original).unwrap();
    assert_eq!(r.fdim(), fdim);
    assert_eq!(r.ids().unwrap(), vec![1, 77, 531912]);
    assert_eq!(bits(&r.get(531912).unwrap()), bits(&features[..fdim]));
    let all = r.preload().unwrap();
    assert_eq!(all.ids, vec![1, 77, 531912]);
    assert_eq!(bits(all.row(0)), bits(&features[fdim..2 * fdim]));

    let ours = dir.path().join("vis-ours.h5");
    let mut w = VisCtxWriter::create(&ours, fdim, &prov(), false).unwrap();
    w.write_batch(&ids[..1], &features[..fdim]).unwrap();
    w.write_batch(&ids[1..], &features[fdim..]).unwrap();
    w.finish().unwrap();
    let (a, b) = (without_provenance(dump(&ours)), dump(&original));
    assert_eq!(a, b, "h5py's view of our vis_ctx differs from the original's");
    assert_eq!(a["/"]["attrs"]["fdim"]["dtype"], json!("int64"));
    assert_eq!(a["/"]["attrs"]["fdim"]["shape"], json!([]));
}

fn caption_batches(
    seed: u64,
    sizes: &[usize],
    dk: usize,
    d: usize,
) -> Vec<(Vec<f32>, Vec<f32>, Vec<String>)> {
    let mut rng = Rng::new(seed);
    sizes
        .iter()
        .map(|&n| {
            let mut keys = rng.vec_f32(n * dk);
            for row in keys.chunks_mut(dk) {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                row.iter_mut().for_each(|x| *x /= norm);
            }
            let caps = (0..n).map(|i| format!("{} {i}", TEXTS[rng.below(TEXTS.len())])).collect();
            (keys, rng.vec_f32(n * d), caps)
        })
        .collect()
}

#[test]
fn caption_db_both_layouts_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (dk, d) = (8, 6);
    let batches = caption_batches(4, &[512, 512, 37], dk, d);
    let spec = json!({"key_dim": dk, "feature_dim": d, "batches": batches.iter().map(|(k, f, c)| json!({
        "keys": bits(k), "features": bits(f), "captions": c
    })).collect::<Vec<_>>()});
    let original = write_original(dir.path(), "caption", &spec);

    let all_keys: Vec<f32> = batches.iter().flat_map(|b| b.0.clone()).collect();
    let all_features: Vec<f32> = batches.iter().flat_map(|b| b.1.clone()).collect();
    let all_captions: Vec<String> = batches.iter().flat_map(|b| b.2.clone()).collect();

    let db = CaptionDb::open(&original).unwrap();
    assert_eq!(db.layout(), CaptionLayout::Original);
    assert_eq!((db.len(), db.key_dim(), db.feature_dim(), db.batches()), (1061, dk, d, 3));
    let loaded = db.load().unwrap();
    assert_eq!(bits(&loaded.keys), bits(&all_keys));
    assert_eq!(bits(&loaded.features), bits(&all_features));
    assert_eq!(loaded.captions, all_captions);
    let one = db.get(1030).unwrap();
    assert_eq!(one.caption, all_captions[1030]);
    assert_eq!(bits(&one.key), bits(&all_keys[1030 * dk..1031 * dk]));

    for layout in [CaptionLayout::Original, CaptionLayout::Contiguous] {
        let ours = dir.path().join(format!("caption-{layout:?}.h5"));
        let mut w = CaptionDbWriter::create(&ours, layout, dk, d, &prov(), false).unwrap();
        for (k, f, c) in &batches {
            w.write_batch(k, f, c).unwrap();
        }
        w.finish().unwrap();
        let db = CaptionDb::open(&ours).unwrap();
        assert_eq!(db.layout(), layout);
        let got = db.load().unwrap();
        assert_eq!(bits(&got.keys), bits(&all_keys), "{layout:?}");
        assert_eq!(bits(&got.features), bits(&all_features), "{layout:?}");
        assert_eq!(got.captions, all_captions, "{layout:?}");
        assert_eq!(db.get(700).unwrap().caption, all_captions[700]);

        let seen = dump(&ours);
        match layout {
            // Same groups, dtypes, shapes, chunks, gzip level and values as h5py's own.
            CaptionLayout::Original => assert_eq!(without_provenance(seen), dump(&original)),
            CaptionLayout::Contiguous => {
                assert_eq!(seen["keys"]["shape"], json!([1061, dk]));
                assert_eq!(seen["keys"]["value"]["f32bits"], json!(bits(&all_keys)));
                assert_eq!(seen["captions"]["string"], json!(["utf-8", null]));
                assert_eq!(seen["captions"]["value"]["strings"], json!(all_captions));
                assert_eq!(
                    seen["/"]["attrs"]["layout"]["value"]["strings"],
                    json!([schema::LAYOUT_CONTIGUOUS])
                );
            }
        }
    }
}

#[test]
fn append_resumes_a_finished_or_interrupted_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txt.h5");
    let entries = txt_entries(5, &[1, 2, 3, 4, 5, 6], 2, 3);
    let mut w = TxtCtxWriter::create(&path, &prov(), false).unwrap();
    w.write_batch(&entries[..2]).unwrap();
    w.finish().unwrap();
    assert!(matches!(
        TxtCtxWriter::create(&path, &prov(), false),
        Err(ctx_store::Error::Exists { .. })
    ));
    let (mut w, done) = TxtCtxWriter::append(&path).unwrap();
    assert_eq!(done, vec![1, 2]);
    w.write_batch(&entries[2..]).unwrap();
    w.finish().unwrap();
    let r = TxtCtxReader::open(&path).unwrap();
    assert_eq!(r.ids().unwrap(), vec![1, 2, 3, 4, 5, 6]);
    for e in &entries {
        assert_same_entry(&r.get(&e.id).unwrap(), e);
    }

    let vpath = dir.path().join("vis.h5");
    let mut w = VisCtxWriter::create(&vpath, 2, &prov(), false).unwrap();
    w.write_batch(&[10], &[1.0, 2.0]).unwrap();
    drop(w);
    let (mut w, done) = VisCtxWriter::append(&vpath).unwrap();
    assert_eq!((done, w.fdim()), (vec![10.into()], 2));
    w.write_batch(&[11], &[3.0, 4.0]).unwrap();
    w.finish().unwrap();
    assert_eq!(VisCtxReader::open(&vpath).unwrap().get(11).unwrap(), vec![3.0, 4.0]);

    let cpath = dir.path().join("cap.h5");
    let batches = caption_batches(6, &[3, 2], 4, 4);
    let mut w =
        CaptionDbWriter::create(&cpath, CaptionLayout::Contiguous, 4, 4, &prov(), false).unwrap();
    w.write_batch(&batches[0].0, &batches[0].1, &batches[0].2).unwrap();
    w.finish().unwrap();
    let mut w = CaptionDbWriter::append(&cpath).unwrap();
    assert_eq!(w.rows(), 3);
    w.write_batch(&batches[1].0, &batches[1].1, &batches[1].2).unwrap();
    w.finish().unwrap();
    let got = CaptionDb::open(&cpath).unwrap().load().unwrap();
    assert_eq!(got.captions.len(), 5);
    assert_eq!(got.captions[3..], batches[1].2[..]);
}

/// The root group of a file written without the HDF5 library, thousands of images in scrambled
/// order (its B-tree three levels deep, leaves split all over): h5py (both versions) lists every
/// image in its order, and HDF5 can change the file (copy an image group, delete another), after
/// which ctx-store reads the result.
#[test]
fn a_root_group_of_thousands_reads_everywhere_and_takes_hdf5_edits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txt.h5");
    // Distinct ids (an odd multiplier modulo 2^32), in no order.
    let ids: Vec<u64> = (1..=10_000u64).map(|i| i * 2_654_435_761 % (1 << 32)).collect();
    let entries = txt_entries(21, &ids, 1, 1);
    let mut w = TxtCtxWriter::create(&path, &prov(), false).unwrap();
    for batch in entries.chunks(500) {
        w.write_batch(batch).unwrap();
    }
    w.finish().unwrap();
    let mut names: Vec<String> = ids.iter().map(u64::to_string).collect();
    names.sort_unstable(); // HDF5's order: by name, bytewise
    let first = entries.iter().find(|e| e.id.to_string() == names[0]).unwrap();
    for python in [test_support::python(), old_h5py_python()] {
        let got = run_python_json_with(&python, &tool(), &[&"root-keys", &path]);
        assert_eq!(got["keys"], json!(names), "{}", python.display());
        assert_eq!(got["texts"], json!(first.whole.texts), "{}", python.display());
    }
    let r = TxtCtxReader::open(&path).unwrap();
    for e in entries.iter().step_by(997) {
        assert_same_entry(&r.get(&e.id).unwrap(), e);
    }
    drop(r);

    let (from, new, drop_id) = (ids[7], 1u64 << 40, ids[8]);
    let edit = run_python_json(
        &tool(),
        &[&"root-edit", &path, &from.to_string(), &new.to_string(), &drop_id.to_string()],
    );
    assert_eq!(edit["before"], json!(names));
    let mut after = names.clone();
    after.retain(|n| *n != drop_id.to_string());
    after.push(new.to_string());
    after.sort_unstable();
    assert_eq!(edit["after"], json!(after));
    let r = TxtCtxReader::open(&path).unwrap();
    let mut want: Vec<u64> = ids.iter().copied().filter(|&i| i != drop_id).chain([new]).collect();
    want.sort_unstable();
    assert_eq!(r.ids().unwrap(), want);
    let copied = TxtEntry { id: new.into(), ..entries[7].clone() };
    assert_same_entry(&r.get(new).unwrap(), &copied);
    assert_same_entry(&r.get(&entries[9].id).unwrap(), &entries[9]);
}

/// Resuming a file the original wrote (h5py) appends to it without the HDF5 library: h5py then
/// sees exactly what it sees in a file the original wrote with every image.
#[test]
fn appending_to_a_file_h5py_wrote_gives_the_file_h5py_would_have_written() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let entries = txt_entries(9, &[5, 3, 80, 1, 44], 2, 3);
    let path = write_original_txt(a.path(), &entries[..2]);
    let (mut w, done) = TxtCtxWriter::append(&path).unwrap();
    assert_eq!(done, vec![3, 5]);
    w.write_batch(&entries[2..4]).unwrap();
    w.write_batch(&entries[4..]).unwrap();
    w.finish().unwrap();
    let whole = write_original_txt(b.path(), &entries);
    assert_eq!(dump(&path), dump(&whole));
    let r = TxtCtxReader::open(&path).unwrap();
    assert_eq!(r.ids().unwrap(), vec![1, 3, 5, 44, 80]);
    assert_same_entry(&r.get(80).unwrap(), &entries[2]);
}

/// The preload that reads the file format itself runs on `r` (files in h5py's default format)
/// and gives exactly what the HDF5 library's gives, in the order asked (here reversed).
fn assert_preloads_agree(r: &TxtCtxReader, ids: &[u64], what: &str) {
    let ids: Vec<u64> = ids.iter().rev().copied().collect();
    let native = r.preload_without_hdf5(&ids).unwrap_or_else(|| panic!("{what}: not read"));
    let library = r.preload_through_hdf5(&ids).unwrap();
    assert_eq!(native.len(), ids.len(), "{what}");
    for (n, l) in native.iter().zip(&library) {
        assert_same_entry(n, l);
    }
}

/// A random phrase: 0 to 40 characters from ASCII, Latin-1, CJK, emoji (four UTF-8 bytes),
/// combining marks, whitespace and quotes; one in eight is empty.
fn random_text(rng: &mut Rng) -> String {
    const POOL: &[char] = &[
        'a', 'z', 'Q', '0', ' ', ' ', '\t', '\n', '"', '\'', '\\', 'é', 'ß', 'ø', '☕', '日', '本',
        '語', '🐕', '😀', '\u{301}', '\u{200d}', 'ω', 'Ж', '\u{7f}', '~',
    ];
    if rng.below(8) == 0 {
        return String::new();
    }
    (0..rng.below(41)).map(|_| POOL[rng.below(POOL.len())]).collect()
}

/// Randomised round trips (a property test with a fixed generator): random image counts and
/// ids, k, d, batch splits and phrases (multi-byte UTF-8, empty strings). Every file reads back
/// equal through `get` and `preload`, and h5py sees in ours exactly what it sees in the same
/// entries written with the original's h5py calls.
#[test]
fn random_entries_round_trip_and_match_h5py() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..16u64 {
        let mut rng = Rng::new(1000 + seed);
        let n = 1 + rng.below(9);
        let (k, d) = (1 + rng.below(7), 1 + rng.below(33));
        let mut ids: Vec<u64> = Vec::new();
        while ids.len() < n {
            let id = match rng.below(3) {
                0 => rng.below(1000) as u64,
                1 => rng.next_u64() >> 1, // large ids: up to 2^63
                _ => 581_929 - rng.below(100) as u64,
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut entries = txt_entries(seed, &ids, k, d);
        for e in &mut entries {
            for view in View::ALL {
                let v = match view {
                    View::Whole => &mut e.whole,
                    View::Five => &mut e.five,
                    View::Nine => &mut e.nine,
                };
                v.texts.iter_mut().for_each(|t| *t = random_text(&mut rng));
            }
        }
        let what = format!("seed {seed}: {n} images, k {k}, d {d}");
        let ours = dir.path().join(format!("txt-{seed}.h5"));
        let mut w = TxtCtxWriter::create(&ours, &prov(), false).unwrap();
        let mut at = 0;
        while at < n {
            let step = 1 + rng.below(n - at);
            w.write_batch(&entries[at..at + step]).unwrap();
            at += step;
        }
        w.finish().unwrap();
        let r = TxtCtxReader::open(&ours).unwrap();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(r.ids().unwrap(), sorted, "{what}");
        for e in &entries {
            assert_same_entry(&r.get(&e.id).unwrap(), e);
        }
        let mut pre = r.preload().unwrap();
        pre.sort_by(|a, b| a.id.cmp(&b.id));
        let mut want = entries.clone();
        want.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(pre.len(), want.len(), "{what}: preload");
        for (g, w) in pre.iter().zip(&want) {
            assert_same_entry(g, w);
        }
        assert_preloads_agree(&r, &sorted, &what);
        // h5py against h5py: a quarter of the seeds (each costs a Python start).
        if seed % 4 == 0 {
            let sub = dir.path().join(format!("h5py-{seed}"));
            std::fs::create_dir_all(&sub).unwrap();
            let original = write_original_txt(&sub, &entries);
            assert_eq!(without_provenance(dump(&ours)), dump(&original), "{what}");
            let r = TxtCtxReader::open(&original).unwrap();
            assert_preloads_agree(&r, &sorted, &format!("{what}, h5py's file"));
        }
    }
}

/// The oldest h5py that has a wheel for the project's Python (3.8.0 on HDF5 1.12.2, or on Python
/// 3.12 and 3.13 3.10.0 / 3.12.1 on HDF5 1.14.2: the venv of `scripts/setup.sh --with-old-h5py`)
/// sees in every kind of file we write, in both profiles, exactly what the pinned h5py sees.
#[test]
fn older_h5py_on_an_older_hdf5_sees_what_the_pinned_one_sees() {
    let old = old_h5py_python();
    let versions = |python: &std::path::Path| {
        let out = std::process::Command::new(python)
            .args(["-c", "import h5py; print(h5py.version.version, h5py.version.hdf5_version)"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (h5py, hdf5) = out.split_once(' ').unwrap_or_else(|| panic!("{out:?}"));
        let parse = |v: &str| v.split('.').map(|n| n.parse::<u32>().unwrap()).collect::<Vec<_>>();
        (parse(h5py), parse(hdf5))
    };
    let (old_h5py, old_hdf5) = versions(&old);
    let (pinned_h5py, pinned_hdf5) = versions(&test_support::python());
    assert!(old_h5py < pinned_h5py, "{}: h5py {old_h5py:?}", old.display());
    assert!(old_hdf5 < pinned_hdf5, "{}: HDF5 {old_hdf5:?}", old.display());
    assert!(
        old_hdf5.starts_with(&[1, 12]) || old_hdf5.starts_with(&[1, 14]),
        "{}: HDF5 {old_hdf5:?}, expected 1.12 or 1.14",
        old.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let mut files = Vec::new();
    let (k, d) = (2, 4);
    let entries = txt_entries(7, &[3, 531912, 20], k, d);
    let mut w = TxtCtxWriter::create(path("txt.h5"), &prov(), false).unwrap();
    w.write_batch(&entries[..1]).unwrap();
    w.write_batch(&entries[1..]).unwrap();
    w.finish().unwrap();
    files.push(path("txt.h5"));
    let mut w = VisCtxWriter::create(path("vis.h5"), 3, &prov(), false).unwrap();
    w.write_batch(&[1, 2], &[0.5, -1.0, 2.0, 3.0, 4.0, -5.5]).unwrap();
    w.finish().unwrap();
    files.push(path("vis.h5"));
    let batches = caption_batches(8, &[5, 3], 4, 3);
    for layout in [CaptionLayout::Original, CaptionLayout::Contiguous] {
        let p = path(&format!("caption-{layout:?}.h5"));
        let mut w = CaptionDbWriter::create(&p, layout, 4, 3, &prov(), false).unwrap();
        for (keys, features, captions) in &batches {
            w.write_batch(keys, features, captions).unwrap();
        }
        w.finish().unwrap();
        files.push(p);
    }
    // HAAV's three files.
    let mut rng = Rng::new(9);
    let mut w = HaavVisCtxWriter::create(path("haav-vis.h5"), d, 3, &prov(), false).unwrap();
    w.write_batch(&[5, 6], 2, &rng.vec_f32(2 * 2 * d), &rng.vec_f32(2 * 3)).unwrap();
    w.finish().unwrap();
    files.push(path("haav-vis.h5"));
    let haav: Vec<TxtEntry> = [11u64, 12]
        .iter()
        .map(|&id| TxtEntry {
            id: id.into(),
            whole: view_entry(&mut rng, 1, 8 * k, d),
            five: view_entry(&mut rng, 5, 2 * k, d),
            nine: view_entry(&mut rng, 9, k, d),
        })
        .collect();
    let mut w = HaavTxtCtxWriter::create(path("haav-txt.h5"), d, &prov(), false).unwrap();
    w.write_batch(&haav).unwrap();
    w.finish().unwrap();
    files.push(path("haav-txt.h5"));
    let mut w = HaavCaptionDbWriter::create(path("haav-caption.h5"), 4, 3, &prov(), false).unwrap();
    for (keys, values, captions) in &batches {
        w.write_batch(keys, values, captions).unwrap();
    }
    w.finish().unwrap();
    files.push(path("haav-caption.h5"));

    for f in &files {
        let new = dump(f);
        let old = run_python_json_with(&old, &tool(), &[&"dump", f]);
        assert!(new.as_object().is_some_and(|o| o.len() > 2), "{}: {new}", f.display());
        assert_eq!(old, new, "{}: the old h5py against the pinned one", f.display());
    }
}
