//! `retrieve-captions --txt-layout compact` and `ctx-convert`: the compact txt_ctx of a run reads
//! as the full file of the same run, converts both ways to equal entries, resumes after a kill,
//! passes `--check`, and is refused where its caption database is not beside it. A folder of
//! integer stems and names gives a compact file of names, equal to the full file after the join;
//! `ctx-convert` with the wrong caption database leaves no file.

mod steps;

use std::path::{Path, PathBuf};

use ctx_store::{CompactIds, TxtCtxReader, TxtEntry};
use steps::*;

fn txt(path: &Path) -> Vec<TxtEntry> {
    TxtCtxReader::open(path).unwrap().preload().unwrap()
}

fn compact_args(s: &Sample, out: &Path, db: &Path) -> Vec<String> {
    let mut args = s.args("retrieve-captions", out, db);
    args.extend(["--txt-layout".into(), "compact".into()]);
    args
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn compact_layout_reads_converts_and_resumes_as_the_full_file() {
    let sample = Sample::new();
    let dir = full_run(&sample, "coco");
    let db = dir.join("caption_db.hdf5");
    let full = txt(&dir.join("txt_ctx.hdf5"));
    assert!(!full.is_empty() && full.iter().all(|e| e.whole.k == 5));

    // Written beside its caption database, it reads as the full file of the same inputs.
    let compact = dir.join("txt_ctx.compact.hdf5");
    ok("retrieve-captions", &compact_args(&sample, &compact, &db));
    assert!(ctx_store::compact_info(&compact).unwrap().is_some());
    assert_eq!(txt(&compact), full);
    // (Its size against the full file's is a benchmark at COCO's k and d: with the sample's tiny
    // features the HDF5 structure outweighs the floats.)
    ok("ctx-inspect", &[s(&compact), "--check".into()]);

    // Killed after a batch, the same command resumes it to the same entries.
    let killed = dir.join("txt_ctx.killed.hdf5");
    let args = compact_args(&sample, &killed, &db);
    let o = run("retrieve-captions", &args, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success());
    assert!(TxtCtxReader::open(&killed).unwrap().ids().unwrap().len() < full.len());
    ok("retrieve-captions", &args);
    assert_eq!(txt(&killed), full);

    // ctx-convert: compact to full and back, equal entries each way.
    let back = dir.join("txt_ctx.back.hdf5");
    ok("ctx-convert", &[s(&compact), s(&back), "--quiet".into()]);
    assert!(ctx_store::compact_info(&back).unwrap().is_none());
    assert_eq!(txt(&back), full);
    let again = dir.join("txt_ctx.again.hdf5");
    let o = run("ctx-convert", &[s(&back), s(&again)], &[]);
    assert!(!o.status.success(), "to compact without --caption-db");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--caption-db"), "{o:?}");
    ok("ctx-convert", &[s(&back), s(&again), "--caption-db".into(), s(&db), "--quiet".into()]);
    assert!(ctx_store::compact_info(&again).unwrap().is_some());
    assert_eq!(txt(&again), full);

    // Away from its caption database it is refused with one line naming the database, by the
    // reader and by the inspector; given the database, it reads again.
    let away = sample.out("away/txt_ctx.hdf5");
    std::fs::create_dir_all(away.parent().unwrap()).unwrap();
    std::fs::copy(&compact, &away).unwrap();
    let err = TxtCtxReader::open(&away).err().expect("opened without its caption_db").to_string();
    assert!(err.contains("caption_db.hdf5"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = run("ctx-inspect", &[s(&away), "--check".into()], &[]);
    assert!(!o.status.success());
    let r = TxtCtxReader::open_with_caption_db(&away, &db).unwrap();
    assert_eq!(r.preload().unwrap(), full);

    // Another database of the same shape is not the one it was made with.
    let other = sample.out("other/caption_db.hdf5");
    let mut args = sample.args("encode-captions", &other, &other);
    let at = args.iter().position(|a| a == "--ann-dir").unwrap();
    args.splice(at..at + 2, ["--texts".into(), s(&write_texts(&sample))]);
    ok("encode-captions", &args);
    let err =
        TxtCtxReader::open_with_caption_db(&away, &other).err().expect("wrong db").to_string();
    assert!(err.contains("other"), "{err}");
}

/// A text database of other phrases than the sample's.
fn write_texts(sample: &Sample) -> std::path::PathBuf {
    let p = sample.out("other/texts.txt");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let texts: Vec<String> = (0..40).map(|i| format!("a phrase number {i}")).collect();
    std::fs::write(&p, texts.join("\n")).unwrap();
    p
}

/// A folder's files (sorted: integer stems first, then names; `000010001` is a name) and the
/// COCO image (by position in the COCO layout's order) each one copies.
const FOLDER: [(&str, usize); 5] =
    [("1.jpg", 0), ("22.jpg", 1), ("beach.jpg", 2), ("dog_01.jpg", 3), ("z/000010001.jpg", 4)];

/// `args` (made for `--dataset-root`) reading `source` instead.
fn with_source(args: Vec<String>, source: &str) -> Vec<String> {
    let at = args.iter().position(|a| a == "--dataset-root").unwrap();
    let mut out = args;
    out.splice(at..at + 2, ["--images".to_owned(), source.to_owned()]);
    out
}

fn keys(path: &Path) -> Vec<String> {
    TxtCtxReader::open(path).unwrap().keys().unwrap().iter().map(ToString::to_string).collect()
}

fn id_kind(path: &Path) -> CompactIds {
    ctx_store::compact_info(path).unwrap().expect("a compact txt_ctx").ids
}

#[test]
fn a_folder_of_integer_stems_and_names_in_the_compact_layout() {
    let sample = Sample::new();
    let dir = full_run(&sample, "coco");
    let db = dir.join("caption_db.hdf5");
    let coco = datasets::karpathy_images(&sample.coco()).unwrap();
    let folder = sample.dir.path().join("named");
    for (file, i) in FOLDER {
        let to = folder.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&coco[i].path, to).unwrap();
    }
    let source = format!("folder:{}", folder.display());
    let args = |out: &Path| with_source(sample.args("retrieve-captions", out, &db), &source);
    let compact_args = |out: &Path| {
        let mut a = args(out);
        a.extend(["--txt-layout".into(), "compact".into()]);
        a
    };

    // The full file of the run, and the compact file of the same run: the same names, entries.
    let full_path = dir.join("named.full.hdf5");
    ok("retrieve-captions", &args(&full_path));
    let full = txt(&full_path);
    let names = keys(&full_path);
    assert_eq!(names, ["1", "22", "000010001", "beach", "dog_01"]);
    let compact = dir.join("named.compact.hdf5");
    ok("retrieve-captions", &compact_args(&compact));
    assert_eq!(id_kind(&compact), CompactIds::Names);
    assert_eq!(keys(&compact), names);
    assert_eq!(txt(&compact), full);
    ok("ctx-inspect", &[s(&compact), "--check".into()]);
    let o = run("ctx-inspect", &[s(&compact)], &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("ids:        str (image names"), "{o:?}");

    // Killed after its first batch (the integer stems), resumed: names, the same entries.
    let killed = dir.join("named.killed.hdf5");
    let o = run("retrieve-captions", &compact_args(&killed), &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success());
    assert_eq!(keys(&killed), ["1", "22"]);
    assert_eq!(id_kind(&killed), CompactIds::Names, "decided from every image of the run");
    ok("retrieve-captions", &compact_args(&killed));
    assert_eq!(txt(&killed), full);

    // Two shards (the first holds the integer stems alone: int64), merged: names.
    let sharded = dir.join("named.sharded.hdf5");
    let mut parts = vec![s(&sharded)];
    for i in 0..2 {
        let mut a = compact_args(&sharded);
        a.extend(["--shard".into(), format!("{i}/2")]);
        ok("retrieve-captions", &a);
        parts.push(s(&dir.join(format!("named.sharded.shard-{i}-of-2.hdf5"))));
    }
    assert_eq!(id_kind(Path::new(&parts[1])), CompactIds::Integers);
    assert_eq!(id_kind(Path::new(&parts[2])), CompactIds::Names);
    ok("ctx-merge", &parts);
    assert_eq!(id_kind(&sharded), CompactIds::Names);
    assert_eq!(txt(&sharded), full);

    // ctx-convert both ways keeps the names.
    let back = dir.join("named.back.hdf5");
    ok("ctx-convert", &[s(&compact), s(&back), "--quiet".into()]);
    assert!(ctx_store::compact_info(&back).unwrap().is_none());
    assert_eq!(txt(&back), full);
    let again = dir.join("named.again.hdf5");
    ok("ctx-convert", &[s(&full_path), s(&again), "--caption-db".into(), s(&db), "--quiet".into()]);
    assert_eq!(id_kind(&again), CompactIds::Names);
    assert_eq!(txt(&again), full);

    // The wrong caption database: refused in one line naming it, before any OUT is made; an
    // OUT given with --overwrite is left as it was.
    let other = sample.out("other/caption_db.hdf5");
    let mut enc = sample.args("encode-captions", &other, &other);
    let at = enc.iter().position(|a| a == "--ann-dir").unwrap();
    enc.splice(at..at + 2, ["--texts".into(), s(&write_texts(&sample))]);
    ok("encode-captions", &enc);
    let wrong = dir.join("named.wrong.hdf5");
    for input in [&full_path, &compact] {
        let o = run("ctx-convert", &[s(input), s(&wrong), "--caption-db".into(), s(&other)], &[]);
        assert!(!o.status.success(), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&s(&other)), "{err}");
        assert!(!wrong.exists(), "{} left behind: {err}", wrong.display());
        assert!(!partial(&wrong).exists(), "{err}");
    }
    std::fs::copy(&back, &wrong).unwrap();
    let before = std::fs::read(&wrong).unwrap();
    let o = run(
        "ctx-convert",
        &[s(&full_path), s(&wrong), "--caption-db".into(), s(&other), "--overwrite".into()],
        &[],
    );
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&wrong).unwrap(), before);
    assert!(!partial(&wrong).exists());
}

/// Where `ctx-convert` writes OUT until it is whole.
fn partial(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", out.display()))
}

/// A full txt_ctx whose first batch of images converts and whose last image holds a hit the
/// caption database does not: `ctx-convert` fails after writing part of OUT, and leaves none.
#[test]
fn ctx_convert_leaves_no_file_when_it_fails_to_finish() {
    use ctx_store::{CaptionDbWriter, CaptionLayout, Provenance, TxtCtxWriter, ViewEntry};
    let dir = tempfile::tempdir().unwrap();
    let prov = Provenance::new("compact-e2e", "{}");
    let (kd, d, phrases) = (2, 3, 10);
    let feature = |r: usize| (0..d).map(|j| (r * d + j) as f32 * 0.25).collect::<Vec<f32>>();
    let texts: Vec<String> = (0..phrases).map(|r| format!("phrase {r}")).collect();
    let db = dir.path().join("caption_db.hdf5");
    let mut w =
        CaptionDbWriter::create(&db, CaptionLayout::Contiguous, kd, d, &prov, false).unwrap();
    let features: Vec<f32> = (0..phrases).flat_map(feature).collect();
    w.write_batch(&vec![0.5; phrases * kd], &features, &texts).unwrap();
    w.finish().unwrap();

    // 300 images (the converter's first batch is 256), whole view, two hits each.
    let full = dir.path().join("full.hdf5");
    let mut w = TxtCtxWriter::create(&full, &prov, false).unwrap();
    let entries: Vec<TxtEntry> = (0..300_usize)
        .map(|i| {
            let rows = [i % phrases, (i + 3) % phrases];
            let mut features: Vec<f32> = rows.iter().flat_map(|&r| feature(r)).collect();
            if i == 299 {
                features[0] += 1.0; // no longer the database's feature
            }
            let whole = ViewEntry {
                crops: 1,
                k: 2,
                d,
                features,
                scores: vec![0.9, 0.1],
                texts: rows.iter().map(|&r| texts[r].clone()).collect(),
            };
            let (five, nine) = (ViewEntry::absent(d), ViewEntry::absent(d));
            TxtEntry { id: ctx_store::ImageId::from(format!("img_{i:03}")), whole, five, nine }
        })
        .collect();
    w.write_batch(&entries).unwrap();
    w.finish().unwrap();

    let out = dir.path().join("compact.hdf5");
    let o = run("ctx-convert", &[s(&full), s(&out), "--caption-db".into(), s(&db)], &[]);
    assert!(!o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("img_299"), "{err}");
    assert!(!out.exists(), "{} left behind", out.display());
    assert!(!partial(&out).exists(), "{} left behind", partial(&out).display());
    // The first 299 images convert.
    let part = dir.path().join("part.hdf5");
    let mut w = TxtCtxWriter::create(&part, &prov, false).unwrap();
    w.write_batch(&entries[..299]).unwrap();
    w.finish().unwrap();
    ok("ctx-convert", &[s(&part), s(&out), "--caption-db".into(), s(&db), "--quiet".into()]);
    assert_eq!(txt(&out), entries[..299].to_vec());
}
