//! `retrieve-captions --txt-layout compact` and `ctx-convert`: the compact txt_ctx of a run reads
//! as the full file of the same run, converts both ways to equal entries, resumes after a kill,
//! passes `--check`, and is refused where its caption database is not beside it.

mod steps;

use std::path::Path;

use ctx_store::{TxtCtxReader, TxtEntry};
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
