//! Image ids that are not integers (a folder's `dog_01`, webdataset's zero-padded `000010001`)
//! are group names stored as they are: written, read back by name, listed by `keys()`, seen by
//! h5py as `f["000010001"]`, merged and resumed. `000010001` and `10001` are two images: a
//! reader or writer that parsed names as integers would lose the zeros and mix them up.

use std::path::Path;

use ctx_store::{
    Error, HaavTxtCtxReader, HaavTxtCtxWriter, HaavVisCtxReader, HaavVisCtxWriter, ImageId,
    Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry, View, ViewEntry, VisCtxReader, VisCtxWriter,
    merge, summarize,
};
use test_support::{Rng, run_python_code};

/// Names in the writers' order (a source's order), and the order `keys()` gives them.
const NAMES: [&str; 5] = ["dog_01", "000010001", "10001", "7", "cat.b"];
const SORTED: [&str; 5] = ["7", "10001", "000010001", "cat.b", "dog_01"];

fn prov() -> Provenance {
    Provenance::new("names-test", "{}")
}

fn view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * k);
    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    let texts = (0..crops * k).map(|i| format!("text {i} {}", rng.below(50))).collect();
    ViewEntry { crops, k, d, features: rng.vec_f32(crops * k * d), scores, texts }
}

fn entry(name: &str, seed: u64, ks: [usize; 3], d: usize) -> TxtEntry {
    let mut rng = Rng::new(seed);
    TxtEntry {
        id: ImageId::from(name),
        whole: view(&mut rng, 1, ks[0], d),
        five: view(&mut rng, 5, ks[1], d),
        nine: view(&mut rng, 9, ks[2], d),
    }
}

fn entries() -> Vec<TxtEntry> {
    NAMES.iter().zip(1..).map(|(n, seed)| entry(n, seed, [3, 3, 3], 4)).collect()
}

fn names(ids: &[ImageId]) -> Vec<&str> {
    ids.iter().map(ImageId::as_str).collect()
}

/// h5py's `sorted(f.keys())` and, for each name, `f[name]`'s first float (`features[0]` of a
/// vis_ctx, `whole/scores[0]` of a txt_ctx).
fn h5py_view(path: &Path, txt: bool) -> serde_json::Value {
    let code = "import sys, json, h5py\n\
        f = h5py.File(sys.argv[1], 'r')\n\
        txt = sys.argv[2] == 'txt'\n\
        out = {n: float((f[n]['whole/scores'] if txt else f[n])[0]) for n in f.keys()}\n\
        print(json.dumps({'keys': sorted(f.keys()), 'first': out}))\n";
    let out = run_python_code(code, &[&path, &(if txt { "txt" } else { "vis" })]);
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

#[test]
fn vis_ctx_names_round_trip_through_ctx_store_and_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vis.h5");
    let rows: Vec<f32> = (0..NAMES.len() * 2).map(|i| i as f32).collect();
    let mut w = VisCtxWriter::create(&path, 2, &prov(), false).unwrap();
    w.write_batch(&NAMES, &rows).unwrap();
    w.finish().unwrap();

    let r = VisCtxReader::open(&path).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    for (i, name) in NAMES.iter().enumerate() {
        assert_eq!(r.get(*name).unwrap(), rows[2 * i..2 * i + 2], "{name}");
    }
    // The integer-looking name and the zero-padded one are two images.
    assert_eq!(r.get(10001).unwrap(), vec![4.0, 5.0]);
    assert_eq!(r.get("000010001").unwrap(), vec![2.0, 3.0]);
    assert_eq!(r.get(7).unwrap(), vec![6.0, 7.0]);
    let all = r.preload().unwrap();
    assert_eq!(names(&all.ids), SORTED);
    assert_eq!(all.row(2), [2.0, 3.0]);
    // ids() is for integer files: the error names the file and the first other name.
    let e = r.ids().unwrap_err().to_string();
    assert!(e.contains("vis.h5") && e.contains("\"000010001\""), "{e}");
    let s = summarize(&path).unwrap();
    assert_eq!(s.id_range, Some((ImageId::from(7_u64), ImageId::from("dog_01"))));

    let seen = h5py_view(&path, false);
    let mut want: Vec<&str> = NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(seen["keys"], serde_json::json!(want));
    assert_eq!(seen["first"]["000010001"], 2.0);
    assert_eq!(seen["first"]["10001"], 4.0);
}

#[test]
fn txt_ctx_names_round_trip_both_ways_of_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txt.h5");
    let all = entries();
    let mut w = TxtCtxWriter::create(&path, &prov(), false).unwrap();
    w.write_batch(&all[..2]).unwrap();
    w.write_batch(&all[2..]).unwrap();
    w.finish().unwrap();

    let r = TxtCtxReader::open(&path).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    for e in &all {
        assert_eq!(&r.get(&e.id).unwrap(), e, "{}", e.id);
        assert_eq!(r.get(e.id.as_str()).unwrap().id, e.id);
    }
    assert_eq!(r.get(10001).unwrap(), all[2]);
    let five = r.view("000010001", View::Five, Some(1), Some(2)).unwrap();
    assert_eq!(five, all[1].five.select(Some(1), Some(2)).unwrap());
    assert_eq!(r.views("dog_01").unwrap(), View::ALL.to_vec());
    let order: Vec<&str> = vec!["cat.b", "000010001", "7"];
    let native = r.preload_without_hdf5(&order).expect("h5py's default format");
    let library = r.preload_through_hdf5(&order).unwrap();
    assert_eq!(native, library);
    assert_eq!(native.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), order);
    assert_eq!(
        names(&r.preload().unwrap().iter().map(|e| e.id.clone()).collect::<Vec<_>>()),
        SORTED
    );
    assert!(matches!(r.get("dog_02"), Err(Error::Missing { .. })));
    assert!(ctx_store::check(&path).unwrap().violations.is_empty());

    let seen = h5py_view(&path, true);
    assert_eq!(seen["first"]["000010001"], f64::from(all[1].whole.scores[0]));
    assert_eq!(seen["first"]["10001"], f64::from(all[2].whole.scores[0]));
}

#[test]
fn resume_keeps_names_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries();
    // txt_ctx: a run stopped after its first batch (the writer dropped without finishing).
    let path = dir.path().join("txt.h5");
    let mut w = TxtCtxWriter::create(&path, &prov(), false).unwrap();
    w.write_batch(&all[..2]).unwrap();
    drop(w);
    let (mut w, done) = TxtCtxWriter::append(&path).unwrap();
    assert_eq!(names(&done), ["000010001", "dog_01"]);
    let todo: Vec<TxtEntry> = all.iter().filter(|e| !done.contains(&e.id)).cloned().collect();
    assert_eq!(todo.len(), 3, "10001 is not 000010001");
    w.write_batch(&todo).unwrap();
    w.finish().unwrap();
    let r = TxtCtxReader::open(&path).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    for e in &all {
        assert_eq!(&r.get(&e.id).unwrap(), e);
    }

    // vis_ctx the same way.
    let path = dir.path().join("vis.h5");
    let mut w = VisCtxWriter::create(&path, 1, &prov(), false).unwrap();
    w.write_batch(&NAMES[..2], &[1.0, 2.0]).unwrap();
    drop(w);
    let (mut w, done) = VisCtxWriter::append(&path).unwrap();
    assert_eq!(names(&done), ["000010001", "dog_01"]);
    w.write_batch(&NAMES[2..], &[3.0, 4.0, 5.0]).unwrap();
    w.finish().unwrap();
    let r = VisCtxReader::open(&path).unwrap();
    assert_eq!(r.get("000010001").unwrap(), [2.0]);
    assert_eq!(r.get("10001").unwrap(), [3.0]);
}

#[test]
fn merge_joins_shards_of_names() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries();
    let shards: Vec<_> = (0..2).map(|i| dir.path().join(format!("txt-{i}.h5"))).collect();
    for (i, part) in [&all[..3], &all[3..]].iter().enumerate() {
        let mut w = TxtCtxWriter::create(&shards[i], &prov(), false).unwrap();
        w.write_batch(part).unwrap();
        w.finish().unwrap();
    }
    let out = dir.path().join("txt.h5");
    let merged = merge(&shards, &out, &prov(), false).unwrap();
    assert_eq!(merged.entries, NAMES.len());
    let r = TxtCtxReader::open(&out).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    for e in &all {
        assert_eq!(&r.get(&e.id).unwrap(), e);
    }
    // The same name in two shards is refused, naming it.
    let e = merge(&[&shards[0], &shards[0]], dir.path().join("twice.h5"), &prov(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("image") && e.contains("also in"), "{e}");

    let vis: Vec<_> = (0..2).map(|i| dir.path().join(format!("vis-{i}.h5"))).collect();
    for (i, part) in [&NAMES[..3], &NAMES[3..]].iter().enumerate() {
        let mut w = VisCtxWriter::create(&vis[i], 1, &prov(), false).unwrap();
        let rows: Vec<f32> = part.iter().map(|n| n.len() as f32).collect();
        w.write_batch(part, &rows).unwrap();
        w.finish().unwrap();
    }
    let out = dir.path().join("vis.h5");
    merge(&vis, &out, &prov(), false).unwrap();
    let r = VisCtxReader::open(&out).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    assert_eq!(r.get("000010001").unwrap(), [9.0]);
    assert_eq!(r.get("10001").unwrap(), [5.0]);
}

#[test]
fn haav_files_hold_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haav-vis.h5");
    let (tokens, width, pooled) = (2, 3, 2);
    let grid: Vec<f32> = (0..NAMES.len() * tokens * width).map(|i| i as f32).collect();
    let pool: Vec<f32> = (0..NAMES.len() * pooled).map(|i| -(i as f32)).collect();
    let mut w = HaavVisCtxWriter::create(&path, width, pooled, &prov(), false).unwrap();
    w.write_batch(&NAMES[..2], tokens, &grid[..12], &pool[..4]).unwrap();
    drop(w);
    let (mut w, done) = HaavVisCtxWriter::append(&path).unwrap();
    assert_eq!(names(&done), ["000010001", "dog_01"]);
    w.write_batch(&NAMES[2..], tokens, &grid[12..], &pool[4..]).unwrap();
    w.finish().unwrap();
    let r = HaavVisCtxReader::open(&path).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    assert_eq!(r.get("000010001").unwrap().pooled, [-2.0, -3.0]);
    assert_eq!(r.get(10001).unwrap().pooled, [-4.0, -5.0]);
    assert_eq!(names(&r.preload().unwrap().ids), SORTED);

    let path = dir.path().join("haav-txt.h5");
    let k = 1;
    let all: Vec<TxtEntry> =
        NAMES.iter().zip(1..).map(|(n, seed)| entry(n, seed, [8 * k, 2 * k, k], 4)).collect();
    let mut w = HaavTxtCtxWriter::create(&path, 4, &prov(), false).unwrap();
    w.write_batch(&all[..2]).unwrap();
    drop(w);
    let (mut w, done) = HaavTxtCtxWriter::append(&path).unwrap();
    assert_eq!(names(&done), ["000010001", "dog_01"]);
    w.write_batch(&all[2..]).unwrap();
    w.finish().unwrap();
    let r = HaavTxtCtxReader::open(&path).unwrap();
    assert_eq!(names(&r.keys().unwrap()), SORTED);
    for e in &all {
        assert_eq!(&r.get(&e.id).unwrap(), e);
    }
    assert_eq!(r.view_rows("000010001").unwrap(), [8, 2, 1]);
}

#[test]
fn names_hdf5_cannot_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", ".", "a/b", "a\0b"] {
        let path = dir.path().join("vis.h5");
        let mut w = VisCtxWriter::create(&path, 1, &prov(), true).unwrap();
        let e = w.write_batch(&[bad], &[1.0]).unwrap_err();
        assert!(matches!(e, Error::Input { .. }), "{bad:?}: {e}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        drop(w);

        let path = dir.path().join("txt.h5");
        let mut w = TxtCtxWriter::create(&path, &prov(), true).unwrap();
        let e = w.write_batch(&[entry(bad, 1, [1, 1, 1], 2)]).unwrap_err();
        assert!(matches!(e, Error::Input { .. }), "{bad:?}: {e}");
        drop(w);
        // Nothing was written: the file holds no image.
        assert!(TxtCtxReader::open(&path).unwrap().keys().unwrap().is_empty());
    }
}
