//! The compact txt_ctx layout: written from full entries (each hit found as its caption database
//! row), read back joined as the same entries, bit for bit, in both profiles; resumed, merged,
//! inspected; refused with the wrong caption database; a planted wrong row is caught. Images
//! named otherwise than by integers (a folder's stems) are held by name, read by h5py as `str`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Captions, CompactIds, CompactTxtWriter, Error,
    FileKind, HaavCaptionDb, HaavCaptionDbWriter, HaavTxtCtxReader, HaavTxtCtxWriter, ImageId,
    Profile, Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry, View, ViewEntry, check,
    compact_info, detect, merge, summarize,
};
use test_support::Rng;

const KD: usize = 4;
const D: usize = 8;
const PHRASES: usize = 300;

fn prov() -> Provenance {
    Provenance::new("compact-test", "{}")
}

/// The phrases of a caption database: row 250 repeats row 7's phrase with another feature (told
/// apart by it), row 251 repeats row 9's phrase and feature (either row joins the same).
fn phrases(seed: u64) -> (Vec<f32>, Vec<f32>, Vec<String>) {
    let mut rng = Rng::new(seed);
    let keys = rng.vec_f32(PHRASES * KD);
    let mut features = rng.vec_f32(PHRASES * D);
    let mut texts: Vec<String> = (0..PHRASES).map(|i| format!("phrase {i} of {seed}")).collect();
    texts[250] = texts[7].clone();
    texts[251] = texts[9].clone();
    let nine: Vec<f32> = features[9 * D..10 * D].to_vec();
    features[251 * D..252 * D].copy_from_slice(&nine);
    (keys, features, texts)
}

fn caption_db(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let (keys, features, texts) = phrases(seed);
    let mut w =
        CaptionDbWriter::create(&path, CaptionLayout::Contiguous, KD, D, &prov(), false).unwrap();
    w.write_batch(&keys[..100 * KD], &features[..100 * D], &texts[..100]).unwrap();
    w.write_batch(&keys[100 * KD..], &features[100 * D..], &texts[100..]).unwrap();
    w.finish().unwrap();
    path
}

fn haav_caption_db(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let (keys, features, texts) = phrases(seed);
    let mut w = HaavCaptionDbWriter::create(&path, KD, D, &prov(), false).unwrap();
    w.write_batch(&keys, &features, &texts).unwrap();
    w.finish().unwrap();
    path
}

/// One view whose hits are rows of `c` (their features and phrases), scores descending.
fn view(rng: &mut Rng, c: &Captions, crops: usize, k: usize) -> (ViewEntry, Vec<usize>) {
    let rows: Vec<usize> = (0..crops * k).map(|_| rng.below(PHRASES)).collect();
    let mut scores = rng.vec_f32(crops * k);
    scores.chunks_mut(k).for_each(|r| r.sort_by(|a, b| b.total_cmp(a)));
    let d = c.feature_dim;
    let features = rows.iter().flat_map(|&r| c.features[r * d..(r + 1) * d].to_vec()).collect();
    let texts = rows.iter().map(|&r| c.captions[r].clone()).collect();
    (ViewEntry { crops, k, d, features, scores, texts }, rows)
}

/// Images `ids` with `[whole, five, nine]` texts per crop `ks` (`None`: whole alone).
fn entries(c: &Captions, ids: &[u64], ks: Option<[usize; 3]>, k_whole: usize) -> Vec<TxtEntry> {
    ids.iter()
        .map(|&id| {
            let mut rng = Rng::new(id);
            let whole = view(&mut rng, c, 1, ks.map_or(k_whole, |k| k[0])).0;
            let (five, nine) = match ks {
                Some(k) => (view(&mut rng, c, 5, k[1]).0, view(&mut rng, c, 9, k[2]).0),
                None => (ViewEntry::absent(D), ViewEntry::absent(D)),
            };
            TxtEntry { id: id.into(), whole, five, nine }
        })
        .collect()
}

fn load(db: &Path) -> Arc<Captions> {
    Arc::new(CaptionDb::open(db).unwrap().load().unwrap())
}

fn write_full(path: &Path, all: &[TxtEntry]) {
    let mut w = TxtCtxWriter::create(path, &prov(), false).unwrap();
    for batch in all.chunks(4) {
        w.write_batch(batch).unwrap();
    }
    w.finish().unwrap();
}

fn write_compact(path: &Path, db: &Path, c: Arc<Captions>, profile: Profile, all: &[TxtEntry]) {
    let mut w = CompactTxtWriter::create(path, profile, db, c, &prov(), false).unwrap();
    for batch in all.chunks(4) {
        w.write_batch(batch).unwrap();
    }
    w.finish().unwrap();
}

/// Every image of both files, preloaded and one by one, the same bits.
fn assert_same(full: &TxtCtxReader, compact: &TxtCtxReader) {
    let ids = full.ids().unwrap();
    assert_eq!(compact.ids().unwrap(), ids);
    let a = full.preload().unwrap();
    let b = compact.preload().unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    for e in &a {
        assert_eq!(&compact.get(&e.id).unwrap(), e);
        assert_eq!(compact.views(&e.id).unwrap(), full.views(&e.id).unwrap());
        let bits = |v: &ViewEntry| v.features.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for view in e.views() {
            let (x, y) = (full.view(&e.id, view, Some(0), Some(2)).unwrap(), {
                compact.view(&e.id, view, Some(0), Some(2)).unwrap()
            });
            assert_eq!(bits(&x), bits(&y));
            assert_eq!(x, y);
        }
    }
}

#[test]
fn compact_reads_as_the_full_file_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 1);
    let c = load(&db);
    let ids: Vec<u64> = vec![42, 7, 531912, 100, 3, 9, 11, 12, 13];
    let all = entries(&c, &ids, Some([4, 4, 4]), 4);
    let (full, compact) = (dir.path().join("full.hdf5"), dir.path().join("compact.hdf5"));
    write_full(&full, &all);
    write_compact(&compact, &db, c.clone(), Profile::Original, &all);

    assert_same(&TxtCtxReader::open(&full).unwrap(), &TxtCtxReader::open(&compact).unwrap());
    let r = TxtCtxReader::open_with_caption_db(&compact, &db).unwrap();
    assert_eq!(r.caption_db(), Some(db.as_path()));
    assert_same(&TxtCtxReader::open(&full).unwrap(), &r);
    assert!(TxtCtxReader::open(&full).unwrap().compact().is_none());

    // What it is, and how small.
    assert_eq!(detect(&compact).unwrap(), FileKind::TxtCtx);
    let info = compact_info(&compact).unwrap().unwrap();
    assert_eq!(info.profile, Profile::Original);
    assert_eq!(info.images, ids.len());
    assert_eq!(info.caption_db.name, "caption_db.hdf5");
    assert_eq!(info.caption_db.bytes, std::fs::metadata(&db).unwrap().len());
    assert_eq!((info.caption_db.rows, info.caption_db.d), (PHRASES, D));
    assert_eq!(info.views, vec![(View::Whole, 4), (View::Five, 4), (View::Nine, 4)]);
    assert_eq!(compact_info(&full).unwrap(), None);
    let s = summarize(&compact).unwrap();
    assert_eq!(
        (s.count, s.k, s.d, s.id_range),
        (ids.len(), Some(4), Some(D), Some((3.into(), 531912.into())))
    );
    let report = check(&compact).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.entries, ids.len());
}

#[test]
fn whole_view_only_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 2);
    let c = load(&db);
    let all = entries(&c, &[5, 6, 7], None, 3);
    let (full, compact) = (dir.path().join("full.hdf5"), dir.path().join("compact.hdf5"));
    write_full(&full, &all);
    write_compact(&compact, &db, c.clone(), Profile::Original, &all);
    let r = TxtCtxReader::open(&compact).unwrap();
    assert_same(&TxtCtxReader::open(&full).unwrap(), &r);
    assert_eq!(r.views(5).unwrap(), vec![View::Whole]);
    assert!(matches!(r.view(5, View::Five, None, None), Err(Error::Missing { .. })));
    assert!(matches!(r.get(8), Err(Error::Missing { .. })));

    let empty = dir.path().join("empty.hdf5");
    write_compact(&empty, &db, c, Profile::Original, &[]);
    assert_eq!(detect(&empty).unwrap(), FileKind::TxtCtx);
    let r = TxtCtxReader::open(&empty).unwrap();
    assert!(r.ids().unwrap().is_empty());
    assert!(r.preload().unwrap().is_empty());
    assert_eq!(summarize(&empty).unwrap().count, 0);
}

#[test]
fn the_wrong_or_a_missing_caption_db_is_refused_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 3);
    let c = load(&db);
    let all = entries(&c, &[1, 2, 3], Some([2, 2, 2]), 2);
    let compact = dir.path().join("compact.hdf5");
    write_compact(&compact, &db, c, Profile::Original, &all);

    // Same size, other phrases: the content hash tells.
    let other_dir = tempfile::tempdir().unwrap();
    let other = caption_db(other_dir.path(), "caption_db.hdf5", 4);
    let refused = |r: Result<TxtCtxReader, Error>, want: &str, db: &Path| {
        let e = r.err().expect("refused");
        let text = e.to_string();
        assert!(matches!(e, Error::CaptionDb { .. }), "{text}");
        assert!(text.contains(&compact.display().to_string()), "{text}");
        assert!(text.contains(&db.display().to_string()), "{text}");
        assert!(text.contains(want), "{text}");
        assert!(!text.contains('\n'), "{text}");
    };
    if std::fs::metadata(&other).unwrap().len() == std::fs::metadata(&db).unwrap().len() {
        refused(TxtCtxReader::open_with_caption_db(&compact, &other), "content hash", &other);
    }
    // Another size.
    let mut w = CaptionDbWriter::create(
        other_dir.path().join("small.hdf5"),
        CaptionLayout::Contiguous,
        KD,
        D,
        &prov(),
        false,
    )
    .unwrap();
    w.write_batch(&[0.5; KD], &[0.5; D], &["one".to_owned()]).unwrap();
    w.finish().unwrap();
    let small = other_dir.path().join("small.hdf5");
    refused(TxtCtxReader::open_with_caption_db(&compact, &small), "bytes", &small);
    // The same bytes in a file of the recorded size but other content (a copy, one phrase
    // changed in place).
    let copy = other_dir.path().join("copy.hdf5");
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes.windows(9).position(|w| w == b"phrase 12").expect("phrase in the file");
    bytes[at + 7] = b'3';
    std::fs::write(&copy, bytes).unwrap();
    refused(TxtCtxReader::open_with_caption_db(&compact, &copy), "content hash", &copy);
    // Missing beside the file.
    std::fs::rename(&db, dir.path().join("moved.hdf5")).unwrap();
    refused(TxtCtxReader::open(&compact), "No such file", &db);
    assert!(TxtCtxReader::open_with_caption_db(&compact, dir.path().join("moved.hdf5")).is_ok());
}

#[test]
fn a_planted_wrong_row_fails_the_equality() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 5);
    let c = load(&db);
    let all = entries(&c, &[10, 20, 30], Some([3, 3, 3]), 3);
    let (full, compact) = (dir.path().join("full.hdf5"), dir.path().join("compact.hdf5"));
    write_full(&full, &all);
    write_compact(&compact, &db, c, Profile::Original, &all);
    let full = TxtCtxReader::open(&full).unwrap();
    assert_eq!(full.preload().unwrap(), TxtCtxReader::open(&compact).unwrap().preload().unwrap());
    {
        let f = hdf5::File::open_rw(&compact).unwrap();
        let ds = f.dataset("five/rows").unwrap();
        let mut rows: Vec<i32> = ds.read_raw().unwrap();
        rows[17] = (rows[17] + 1) % PHRASES as i32;
        ds.write_raw(&rows).unwrap();
    }
    let planted = TxtCtxReader::open(&compact).unwrap().preload().unwrap();
    assert_ne!(full.preload().unwrap(), planted);
    // A row past the database is refused on open.
    {
        let f = hdf5::File::open_rw(&compact).unwrap();
        let ds = f.dataset("whole/rows").unwrap();
        let mut rows: Vec<i32> = ds.read_raw().unwrap();
        rows[0] = PHRASES as i32;
        ds.write_raw(&rows).unwrap();
    }
    let e = TxtCtxReader::open(&compact).err().unwrap().to_string();
    assert!(e.contains("whole/rows") && e.contains("300 phrases"), "{e}");
}

#[test]
fn a_hit_the_caption_db_does_not_hold_is_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 6);
    let c = load(&db);
    let mut all = entries(&c, &[1], Some([2, 2, 2]), 2);
    all[0].nine.features[3] += 1.0; // hit 0's feature, no longer the database's
    let path = dir.path().join("compact.hdf5");
    let mut w = CompactTxtWriter::create(&path, Profile::Original, &db, c, &prov(), false).unwrap();
    let e = w.write_batch(&all).unwrap_err().to_string();
    assert!(e.contains("1/nine") && e.contains("hit 0"), "{e}");
}

#[test]
fn resume_and_merge_keep_the_compact_layout() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 7);
    let c = load(&db);
    let ids: Vec<u64> = (1..=20).collect();
    let all = entries(&c, &ids, Some([2, 2, 2]), 2);
    let full = dir.path().join("full.hdf5");
    write_full(&full, &all);

    // A run stopped after 8 images, resumed.
    let resumed = dir.path().join("resumed.hdf5");
    write_compact(&resumed, &db, c.clone(), Profile::Original, &all[..8]);
    let (mut w, done) = CompactTxtWriter::append(&resumed, &db, c.clone()).unwrap();
    assert_eq!(done, ids[..8].to_vec());
    assert!(w.write_batch(&all[7..9]).is_err(), "image 8 is in the file already");
    w.write_batch(&all[8..]).unwrap();
    w.finish().unwrap();
    let full_r = TxtCtxReader::open(&full).unwrap();
    assert_same(&full_r, &TxtCtxReader::open(&resumed).unwrap());

    // Resuming with another database is refused.
    let other_dir = tempfile::tempdir().unwrap();
    let other = caption_db(other_dir.path(), "caption_db.hdf5", 8);
    let e = CompactTxtWriter::append(&resumed, &other, load(&other)).err().unwrap();
    assert!(matches!(e, Error::CaptionDb { .. }), "{e}");

    // Shards (one empty) merged: compact, equal to the full file.
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("s{i}.hdf5"))).collect();
    write_compact(&shards[0], &db, c.clone(), Profile::Original, &all[..5]);
    write_compact(&shards[1], &db, c.clone(), Profile::Original, &[]);
    write_compact(&shards[2], &db, c.clone(), Profile::Original, &all[5..]);
    let merged = dir.path().join("merged.hdf5");
    let m = merge(&shards, &merged, &prov(), false).unwrap();
    assert_eq!((m.kind, m.entries), (FileKind::TxtCtx, 20));
    assert!(compact_info(&merged).unwrap().is_some());
    assert_same(&full_r, &TxtCtxReader::open(&merged).unwrap());

    // A compact shard of another database does not merge.
    let odd = dir.path().join("odd.hdf5");
    let oc = load(&other);
    let odd_entries = entries(&oc, &[99], Some([2, 2, 2]), 2);
    write_compact(&odd, &other, oc, Profile::Original, &odd_entries);
    let e = merge(&[&shards[0], &odd], dir.path().join("bad.hdf5"), &prov(), false).unwrap_err();
    assert!(matches!(e, Error::Merge { .. }), "{e}");
    // Nor does a full file after a compact one.
    let e = merge(&[&shards[0], &full], dir.path().join("bad.hdf5"), &prov(), false).unwrap_err();
    assert!(e.to_string().contains("full layout"), "{e}");
}

#[test]
fn haav_profile_compact_reads_as_haavs_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = haav_caption_db(dir.path(), "caption_db.hdf5", 9);
    let c = Arc::new(HaavCaptionDb::open(&db).unwrap().load().unwrap());
    let k = 2;
    let all = entries(&c, &[4, 2, 8], Some([8 * k, 2 * k, k]), 0);
    let (full, compact) = (dir.path().join("full.hdf5"), dir.path().join("compact.hdf5"));
    let mut w = HaavTxtCtxWriter::create(&full, D, &prov(), false).unwrap();
    w.write_batch(&all).unwrap();
    w.finish().unwrap();
    write_compact(&compact, &db, c.clone(), Profile::Haav, &all);

    assert_eq!(detect(&compact).unwrap(), FileKind::HaavTxtCtx);
    let (a, b) =
        (HaavTxtCtxReader::open(&full).unwrap(), HaavTxtCtxReader::open(&compact).unwrap());
    assert_eq!(b.fdim(), D);
    assert_eq!(a.preload().unwrap(), b.preload().unwrap());
    assert_eq!(a.view_rows(2).unwrap(), b.view_rows(2).unwrap());
    assert_eq!(a.get(8).unwrap(), b.get(8).unwrap());
    let s = summarize(&compact).unwrap();
    assert_eq!((s.k, s.view_rows, s.fdim), (Some(k), Some([16, 4, 2]), Some(D)));
    // The original profile's reader names the one to use.
    let e = TxtCtxReader::open(&compact).err().unwrap().to_string();
    assert!(e.contains("HaavTxtCtxReader"), "{e}");
    // HAAV's layout is enforced.
    let bad = entries(&c, &[1], Some([k, k, k]), 0);
    let path = dir.path().join("bad.hdf5");
    let mut w = CompactTxtWriter::create(&path, Profile::Haav, &db, c, &prov(), false).unwrap();
    assert!(w.write_batch(&bad).unwrap_err().to_string().contains("8k, 2k and k"));
}

/// A folder's stems, integers first then names (`000010001` is a name, beside `10001`).
const NAMED: [&str; 7] = ["7", "10001", "42", "beach", "000010001", "dog_01", "été 2"];

/// `entries` under the names `NAMED`.
fn named_entries(c: &Captions) -> Vec<TxtEntry> {
    let seeds: Vec<u64> = (1..=NAMED.len() as u64).collect();
    let mut all = entries(c, &seeds, Some([2, 3, 2]), 2);
    all.iter_mut().zip(NAMED).for_each(|(e, name)| e.id = ImageId::from(name));
    all
}

fn write_named(path: &Path, db: &Path, c: Arc<Captions>, all: &[TxtEntry]) {
    let ids = CompactIds::of(all.iter().map(|e| &e.id));
    let mut w =
        CompactTxtWriter::create_with_ids(path, Profile::Original, db, c, ids, &prov(), false)
            .unwrap();
    for batch in all.chunks(3) {
        w.write_batch(batch).unwrap();
    }
    w.finish().unwrap();
}

/// Both files: the same names in the same order, every image and view the same.
fn assert_same_named(full: &Path, compact: &Path) {
    let (a, b) = (TxtCtxReader::open(full).unwrap(), TxtCtxReader::open(compact).unwrap());
    let keys = a.keys().unwrap();
    assert_eq!(b.keys().unwrap(), keys);
    assert_eq!(b.ids().is_err(), a.ids().is_err());
    assert_eq!(a.preload().unwrap(), b.preload().unwrap());
    for id in &keys {
        assert_eq!(a.get(id).unwrap(), b.get(id).unwrap(), "{id}");
        assert_eq!(a.views(id).unwrap(), b.views(id).unwrap(), "{id}");
        let x = a.view(id, View::Five, Some(1), Some(2)).unwrap();
        assert_eq!(b.view(id, View::Five, Some(1), Some(2)).unwrap(), x, "{id}");
    }
}

#[test]
fn named_images_are_held_by_name_as_the_full_layout_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 11);
    let c = load(&db);
    let all = named_entries(&c);
    let (full, compact) = (dir.path().join("full.hdf5"), dir.path().join("compact.hdf5"));
    write_full(&full, &all);
    write_named(&compact, &db, c.clone(), &all);
    assert_same_named(&full, &compact);
    let r = TxtCtxReader::open(&compact).unwrap();
    let names: Vec<String> = r.keys().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["7", "42", "10001", "000010001", "beach", "dog_01", "été 2"]);
    assert!(r.get("0042").is_err() && r.get(42).is_ok() && r.get("000010001").is_ok());
    assert!(matches!(r.get(10002), Err(Error::Missing { .. })));
    let info = compact_info(&compact).unwrap().unwrap();
    assert_eq!((info.ids, info.images), (CompactIds::Names, NAMED.len()));
    let s = summarize(&compact).unwrap();
    assert_eq!(s.id_range, Some((ImageId::from("7"), ImageId::from("été 2"))));
    assert!(check(&compact).unwrap().violations.is_empty());
    // Integer ids alone stay int64.
    assert_eq!(CompactIds::of([7_u64, 42]), CompactIds::Integers);
    assert_eq!(CompactIds::of(["7", "042"]), CompactIds::Names);

    // h5py (both pinned versions) reads /ids as UTF-8 strings, in the order written.
    let code = "import sys, json, h5py\n\
        f = h5py.File(sys.argv[1], 'r')\n\
        ids = f['ids']\n\
        print(json.dumps({'encoding': h5py.check_string_dtype(ids.dtype).encoding, \
        'ids': [b.decode('utf-8') for b in ids[:]], 'rows': list(f['whole/rows'].shape)}))\n";
    for python in [test_support::python(), test_support::old_h5py_python()] {
        let out = test_support::run_python_code_with(&python, code, &[&compact]);
        let seen: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(seen["encoding"], "utf-8", "{}", python.display());
        assert_eq!(seen["ids"], serde_json::json!(NAMED), "{}", python.display());
        assert_eq!(seen["rows"], serde_json::json!([NAMED.len(), 2]));
    }
}

#[test]
fn named_ids_resume_merge_and_an_integer_file_refuses_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = caption_db(dir.path(), "caption_db.hdf5", 12);
    let c = load(&db);
    let all = named_entries(&c);
    let full = dir.path().join("full.hdf5");
    write_full(&full, &all);

    // Stopped after the first 5 images (integers and names), resumed: the names come back and
    // the file keeps its dtype.
    let resumed = dir.path().join("resumed.hdf5");
    let ids = CompactIds::of(all.iter().map(|e| &e.id));
    let mut w = CompactTxtWriter::create_with_ids(
        &resumed,
        Profile::Original,
        &db,
        c.clone(),
        ids,
        &prov(),
        false,
    )
    .unwrap();
    w.write_batch(&all[..5]).unwrap();
    drop(w);
    let (mut w, done) = CompactTxtWriter::append(&resumed, &db, c.clone()).unwrap();
    assert_eq!(w.ids(), CompactIds::Names);
    let mut want: Vec<ImageId> = all[..5].iter().map(|e| e.id.clone()).collect();
    want.sort();
    assert_eq!(done, want);
    assert!(w.write_batch(&all[4..6]).is_err(), "image 000010001 is in the file already");
    w.write_batch(&all[5..]).unwrap();
    w.finish().unwrap();
    assert_same_named(&full, &resumed);

    // An integer file given a name: one line naming the file and the image; nothing written.
    let ints = dir.path().join("ints.hdf5");
    let mut w =
        CompactTxtWriter::create(&ints, Profile::Original, &db, c.clone(), &prov(), false).unwrap();
    assert_eq!(w.ids(), CompactIds::Integers);
    w.write_batch(&all[..3]).unwrap();
    let e = w.write_batch(&all[3..5]).unwrap_err().to_string();
    assert!(e.contains("beach") && e.contains("int64") && e.contains("ints.hdf5"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    w.finish().unwrap();
    assert_eq!(TxtCtxReader::open(&ints).unwrap().ids().unwrap(), [7, 42, 10001]);
    let (mut w, _) = CompactTxtWriter::append(&ints, &db, c.clone()).unwrap();
    assert_eq!(w.ids(), CompactIds::Integers);
    assert!(w.write_batch(&all[5..6]).unwrap_err().to_string().contains("dog_01"));

    // Shards: integers in one (int64), names in another, an empty one: merged, names.
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("n{i}.hdf5"))).collect();
    write_named(&shards[0], &db, c.clone(), &all[..3]);
    write_named(&shards[1], &db, c.clone(), &[]);
    write_named(&shards[2], &db, c.clone(), &all[3..]);
    assert_eq!(compact_info(&shards[0]).unwrap().unwrap().ids, CompactIds::Integers);
    assert_eq!(compact_info(&shards[2]).unwrap().unwrap().ids, CompactIds::Names);
    let merged = dir.path().join("merged.hdf5");
    let m = merge(&shards, &merged, &prov(), false).unwrap();
    assert_eq!(m.entries, NAMED.len());
    assert_eq!(compact_info(&merged).unwrap().unwrap().ids, CompactIds::Names);
    assert_same_named(&full, &merged);
    // Integer shards alone merge to int64.
    let both = dir.path().join("both.hdf5");
    merge(&[&shards[0], &shards[1]], &both, &prov(), false).unwrap();
    assert_eq!(compact_info(&both).unwrap().unwrap().ids, CompactIds::Integers);
}
