//! Retrieval options: texts with sources (`encode-captions --texts FILE.jsonl` stores each
//! text's source in caption_db, and `retrieve-captions --exclude-source` leaves out the hits
//! whose source is the query image, still keeping k per view and crop), and `--format json`'s
//! single object (`--json-object`).

mod steps;

use std::collections::HashMap;
use std::path::Path;

use ctx_store::{CaptionDb, TxtCtxReader, TxtEntry, ViewEntry};
use steps::*;

fn txt(path: &Path) -> Vec<TxtEntry> {
    TxtCtxReader::open(path).unwrap().preload().unwrap()
}

/// `args` (made for `--ann-dir`) reading `texts` instead.
fn with_texts(args: Vec<String>, texts: &Path) -> Vec<String> {
    let at = args.iter().position(|a| a == "--ann-dir").unwrap();
    let mut out = args;
    out.splice(at..at + 2, ["--texts".to_string(), texts.display().to_string()]);
    out
}

fn with_k(mut args: Vec<String>, k: usize) -> Vec<String> {
    let at = args.iter().position(|a| a == "--k").unwrap();
    args[at + 1] = k.to_string();
    args
}

/// Each crop's texts of a view.
fn crops(v: &ViewEntry) -> Vec<&[String]> {
    v.texts.chunks(v.k).collect()
}

#[test]
fn exclude_source_drops_the_images_own_captions_and_keeps_k() {
    let s = Sample::new();
    let vg = full_run(&s, "vg");
    let phrases = CaptionDb::open(vg.join("caption_db.hdf5")).unwrap().load().unwrap().captions;
    let plain = txt(&vg.join("txt_ctx.hdf5"));
    let ids: Vec<String> = plain.iter().map(|e| e.id.to_string()).collect();

    // Every phrase gets a source: the image whose best whole-image hit it is (a planted own
    // caption scoring top), else the images in turn.
    let mut source: HashMap<&str, String> = HashMap::new();
    for e in &plain {
        source.entry(e.whole.texts[0].as_str()).or_insert_with(|| e.id.to_string());
    }
    let planted: Vec<String> = plain
        .iter()
        .filter(|e| source[e.whole.texts[0].as_str()] == e.id.to_string())
        .map(|e| e.id.to_string())
        .collect();
    assert!(!planted.is_empty());
    let sources: Vec<String> = phrases
        .iter()
        .enumerate()
        .map(|(i, p)| source.get(p.as_str()).cloned().unwrap_or_else(|| ids[i % ids.len()].clone()))
        .collect();
    let jsonl = s.out("texts.jsonl");
    let lines: Vec<String> = phrases
        .iter()
        .zip(&sources)
        .map(|(t, s)| serde_json::json!({"text": t, "source": s}).to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    let source_of: HashMap<&str, &str> =
        phrases.iter().map(String::as_str).zip(sources.iter().map(String::as_str)).collect();

    let db = s.out("own/caption_db.hdf5");
    ok("encode-captions", &with_texts(s.args("encode-captions", &db, &db), &jsonl));
    let read = CaptionDb::open(&db).unwrap();
    assert_eq!(read.sources().unwrap().unwrap(), sources);
    assert_eq!(read.load().unwrap().captions, phrases);

    // Without the flag, each planted caption is its image's first hit (the test bites).
    let k = 5;
    let out = s.out("own/keep.hdf5");
    ok("retrieve-captions", &s.args("retrieve-captions", &out, &db));
    let kept = txt(&out);
    for e in &kept {
        if planted.contains(&e.id.to_string()) {
            assert_eq!(source_of[e.whole.texts[0].as_str()], e.id.to_string(), "image {}", e.id);
        }
    }

    // With it, no hit is the image's own, every crop still has k, and the hits are the first k
    // others of a search deep enough (k + the most captions of one source).
    let out = s.out("own/exclude.hdf5");
    let mut args = s.args("retrieve-captions", &out, &db);
    args.push("--exclude-source".into());
    ok("retrieve-captions", &args);
    let excluded = txt(&out);
    let most = sources.iter().fold(HashMap::new(), |mut m, s| {
        *m.entry(s).or_insert(0usize) += 1;
        m
    });
    let extra = most.values().copied().max().unwrap();
    let deep = s.out("own/deep.hdf5");
    ok("retrieve-captions", &with_k(s.args("retrieve-captions", &deep, &db), k + extra));
    let deep = txt(&deep);
    assert_eq!(excluded.len(), deep.len());
    for (e, d) in excluded.iter().zip(&deep) {
        let id = e.id.to_string();
        for (name, v, w, n) in [
            ("whole", &e.whole, &d.whole, 1),
            ("five", &e.five, &d.five, 5),
            ("nine", &e.nine, &d.nine, 9),
        ] {
            assert_eq!((v.k, v.crops, v.texts.len()), (k, n, n * k), "image {id} {name}");
            for (got, all) in crops(v).into_iter().zip(crops(w)) {
                let want: Vec<&String> =
                    all.iter().filter(|t| source_of[t.as_str()] != id).take(k).collect();
                assert_eq!(got.iter().collect::<Vec<_>>(), want, "image {id} {name}");
            }
        }
    }
}

#[test]
fn exclude_source_refuses_a_database_without_sources() {
    let s = Sample::new();
    let db = s.out("caption_db.hdf5");
    ok("encode-captions", &s.args("encode-captions", &db, &db));
    let out = s.out("txt_ctx.hdf5");
    let mut args = s.args("retrieve-captions", &out, &db);
    args.push("--exclude-source".into());
    let o = run("retrieve-captions", &args, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("records no sources") && err.contains("caption_db.hdf5"), "{err}");
    assert!(!out.exists());
}

#[test]
fn json_object_holds_every_line_as_one_object() {
    let s = Sample::new();
    let db = s.out("caption_db.hdf5");
    ok("encode-captions", &s.args("encode-captions", &db, &db));
    let lines = s.out("txt_ctx.jsonl");
    let object = s.out("txt_ctx.json");
    let mut args = s.args("retrieve-captions", &lines, &db);
    args.extend(["--format".into(), "json".into()]);
    let mut with_object = args.clone();
    with_object.extend(["--json-object".into(), object.display().to_string()]);
    // Killed after a batch: no object yet; the same command resumes and then writes it.
    let o = run("retrieve-captions", &with_object, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success());
    assert!(!object.exists());
    ok("retrieve-captions", &with_object);
    let text = std::fs::read_to_string(&lines).unwrap();
    let mut want = serde_json::Map::new();
    for line in text.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (id, hits) = v.as_object().unwrap().iter().next().unwrap();
        want.insert(id.clone(), hits.clone());
    }
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&object).unwrap()).unwrap();
    let got = got.as_object().unwrap();
    assert_eq!(got.len(), text.lines().count() - 1);
    assert!(got.len() > 1);
    assert_eq!(got, &want);
    let first = got.values().next().unwrap();
    assert_eq!(first["whole"].as_array().unwrap().len(), 5);
    assert_eq!(first["nine"].as_array().unwrap().len(), 9);
    // Byte for byte the lines' objects (the scores' digits as written, so that Python's
    // `json.load` gives the lines' floats), and every view in its order.
    let members: Vec<&str> = text.lines().skip(1).map(|l| &l[1..l.len() - 1]).collect();
    assert_eq!(std::fs::read_to_string(&object).unwrap(), format!("{{{}}}\n", members.join(",")));
    for line in text.lines().skip(1) {
        let at = |view: &str| line.find(&format!("\"{view}\":")).unwrap();
        assert!(at("whole") < at("five") && at("five") < at("nine"), "{line}");
    }

    // Only with --format json.
    let mut hdf5 = s.args("retrieve-captions", &s.out("t.hdf5"), &db);
    hdf5.extend(["--json-object".into(), object.display().to_string()]);
    let o = run("retrieve-captions", &hdf5, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--json-object is for --format json"));
}
