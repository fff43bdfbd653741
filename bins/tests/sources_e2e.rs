//! The image steps on other image sources (`--images`): the bundled sample's COCO images listed
//! as a list file, a Karpathy split file and webdataset shards give the vectors and phrases the
//! COCO layout (`--dataset-root`) gives, resume, shard by whole tar files and merge; bad sources
//! are one-line errors.

mod steps;

use std::path::{Path, PathBuf};

use ctx_store::{TxtCtxReader, VisCtxReader};
use steps::*;
use test_support::run_python_code;

/// The sample's images in the COCO layout's order, as (id, path).
fn coco_images(s: &Sample) -> Vec<(u64, PathBuf)> {
    datasets::karpathy_images(&s.coco()).unwrap().into_iter().map(|i| (i.id, i.path)).collect()
}

/// `args` (made for `--dataset-root`) reading `source` instead.
fn with_source(args: Vec<String>, source: &[String]) -> Vec<String> {
    let at = args.iter().position(|a| a == "--dataset-root").unwrap();
    let mut out = args;
    out.splice(at..at + 2, source.iter().cloned());
    out
}

/// Writes the images into tar shards as img2dataset does (`KEY.jpg` + `KEY.json` + `KEY.txt`),
/// `per` samples a shard; returns the brace pattern.
fn write_shards(dir: &Path, images: &[(u64, PathBuf)], per: usize) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let spec: Vec<String> = images.iter().map(|(id, p)| format!("{id}={}", p.display())).collect();
    let code = r#"
import io, json, sys, tarfile
out, per, items = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for s in range(0, len(items), per):
    with tarfile.open(f"{out}/{s // per:05d}.tar", "w") as t:
        for item in items[s:s + per]:
            key, path = item.split("=", 1)
            meta = json.dumps({"key": key}).encode()
            for ext, data in (("jpg", open(path, "rb").read()), ("json", meta), ("txt", b"x")):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
"#;
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&dir, &"0"];
    let per = per.to_string();
    args[1] = &per;
    for s in &spec {
        args.push(s);
    }
    run_python_code(code, &args);
    let n = images.len().div_ceil(per.parse::<usize>().unwrap());
    format!("{}/{{00000..{:05}}}.tar", dir.display(), n - 1)
}

fn vis(path: &Path) -> ctx_store::VisCtx {
    VisCtxReader::open(path).unwrap().preload().unwrap()
}

fn txt(path: &Path) -> Vec<ctx_store::TxtEntry> {
    TxtCtxReader::open(path).unwrap().preload().unwrap()
}

#[test]
fn other_sources_equal_the_coco_layout() {
    let s = Sample::new();
    let whole = full_run(&s, "coco");
    let images = coco_images(&s);
    let dir = s.dir.path();

    // The same images as a list file (ID<TAB>PATH), in the COCO layout's order.
    let list = dir.join("images.txt");
    let lines: Vec<String> =
        images.iter().map(|(id, p)| format!("{id}\t{}", p.display())).collect();
    std::fs::write(&list, lines.join("\n")).unwrap();
    // As a Karpathy split file (COCO style: filepath and cocoid), in reverse order.
    let karpathy = dir.join("dataset_coco.json");
    let entries: Vec<serde_json::Value> = images
        .iter()
        .rev()
        .map(|(id, p)| {
            let folder = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
            serde_json::json!({"filepath": folder, "filename": p.file_name().unwrap().to_str().unwrap(),
                "cocoid": id, "split": "test", "sentences": [{"raw": "x"}]})
        })
        .collect();
    std::fs::write(&karpathy, serde_json::json!({ "images": entries }).to_string()).unwrap();
    // As webdataset shards of three samples.
    let pattern = write_shards(&dir.join("wds"), &images, 3);

    let sources: [(&str, Vec<String>); 3] = [
        ("list", vec!["--images".into(), format!("list:{}", list.display())]),
        (
            "karpathy",
            vec![
                "--images".into(),
                format!("karpathy:{}", karpathy.display()),
                "--image-root".into(),
                s.coco().display().to_string(),
                "--split".into(),
                "test".into(),
            ],
        ),
        ("wds", vec!["--images".into(), format!("wds:{pattern}")]),
    ];
    let db = whole.join("caption_db.hdf5");
    let want_vis = vis(&whole.join("vis_ctx.hdf5"));
    let want_txt = txt(&whole.join("txt_ctx.hdf5"));
    for (name, source) in &sources {
        let out = s.out(&format!("{name}/vis_ctx.hdf5"));
        ok("encode-images", &with_source(s.args("encode-images", &out, &db), source));
        // Same ids, same vectors (the files hold them by id, ascending).
        assert_eq!(vis(&out), want_vis, "{name}: vis_ctx");
        let out = s.out(&format!("{name}/txt_ctx.hdf5"));
        ok("retrieve-captions", &with_source(s.args("retrieve-captions", &out, &db), source));
        assert_eq!(txt(&out), want_txt, "{name}: txt_ctx");
    }

    // Two shards of the three tar files: whole tar files each (the first one tar, the second
    // two), merged into the single run's file; killed after a batch, the same command resumes.
    let (_, wds) = &sources[2];
    let out = s.out("wds-sharded/vis_ctx.hdf5");
    let mut parts = Vec::new();
    for i in 0..2 {
        let mut args = with_source(s.args("encode-images", &out, &db), wds);
        args.extend(["--shard".into(), format!("{i}/2")]);
        if i == 1 {
            let o = run("encode-images", &args, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
            assert!(!o.status.success());
        }
        ok("encode-images", &args);
        let part = out.with_file_name(format!("vis_ctx.shard-{i}-of-2.hdf5"));
        let n = VisCtxReader::open(&part).unwrap().ids().unwrap().len();
        assert_eq!(n, if i == 0 { 3 } else { images.len() - 3 }, "shard {i}: whole tar files");
        parts.push(part.display().to_string());
    }
    let mut args = vec![out.display().to_string()];
    args.extend(parts);
    ok("ctx-merge", &args);
    assert_eq!(vis(&out), want_vis, "merged wds shards");
}

#[test]
fn bad_sources_are_one_line_errors() {
    let s = Sample::new();
    let dir = s.dir.path();
    let db = dir.join("no-db.hdf5");
    let out = s.out("bad/vis_ctx.hdf5");
    let fails = |source: Vec<String>, want: &[&str]| {
        let o =
            run("encode-images", &with_source(s.args("encode-images", &out, &db), &source), &[]);
        assert!(!o.status.success(), "{source:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        let line = err.lines().last().unwrap_or_default().to_owned();
        for w in want {
            assert!(line.contains(w), "{source:?}: {err}");
        }
        assert!(!out.exists(), "{source:?}: an output was created");
    };
    let images = coco_images(&s);

    // Malformed JSON; a Karpathy entry without filename.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"images\": [}").unwrap();
    let root = s.coco().display().to_string();
    let k = |f: &Path| {
        vec![
            "--images".into(),
            format!("karpathy:{}", f.display()),
            "--image-root".into(),
            root.clone(),
        ]
    };
    fails(k(&bad), &[&bad.display().to_string(), ":1:"]);
    std::fs::write(&bad, r#"{"images": [{"filename": "a.jpg"}, {"cocoid": 5}]}"#).unwrap();
    fails(k(&bad), &[&bad.display().to_string(), "images[1]: no `filename`"]);

    // An empty folder; ids that cannot name an HDF5 group, and one id given to two images.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails(vec!["--images".into(), format!("folder:{}", empty.display())], &["no images"]);
    std::fs::copy(&images[0].1, empty.join("cat.jpg")).unwrap();
    let ids = dir.join("ids.txt");
    std::fs::write(&ids, "a/b\tempty/cat.jpg\n").unwrap();
    let list = vec!["--images".into(), format!("list:{}", ids.display())];
    fails(list.clone(), &["cat.jpg", "\"a/b\"", "'/'"]);
    std::fs::write(&ids, "5\tempty/cat.jpg\n5\tempty/cat.jpg\n").unwrap();
    fails(list, &["cat.jpg", "id 5 is both"]);

    // Flags the source does not take.
    let folder = format!("folder:{}", empty.display());
    fails(vec!["--images".into(), folder.clone(), "--split".into(), "test".into()], &["--split"]);
    fails(vec!["--images".into(), folder, "--image-root".into(), root.clone()], &["--image-root"]);

    // A tar cut inside a member.
    let pattern = write_shards(&dir.join("wds"), &images[..2], 2);
    let tar = dir.join("wds/00000.tar");
    let len = std::fs::metadata(&tar).unwrap().len();
    let bytes = std::fs::read(&tar).unwrap();
    std::fs::write(&tar, &bytes[..(len as usize) / 2]).unwrap();
    fails(
        vec!["--images".into(), format!("wds:{pattern}")],
        &[&tar.display().to_string(), "truncated"],
    );

    // A listed image that is not there: with --on-error fail the run stops naming it.
    let list = dir.join("list.txt");
    std::fs::write(&list, "9\tnot-there.jpg\n").unwrap();
    let o = run(
        "encode-images",
        &with_source(
            s.args("encode-images", &out, &db),
            &["--images".into(), format!("list:{}", list.display())],
        ),
        &[],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not-there.jpg"));
}

#[test]
fn text_databases_encode_their_texts() {
    let s = Sample::new();
    let dir = s.dir.path().join("sources");
    test_support::run_python(
        &test_support::workspace_root().join("scripts/make_sources.py"),
        &[&dir],
    );
    let encode = |texts: &[&str], out: &str| {
        let out = s.out(out);
        ok("encode-captions", &with_texts(s.args("encode-captions", &out, &out), texts));
        ctx_store::CaptionDb::open(&out).unwrap().load().unwrap()
    };
    let p = |f: &str| dir.join(f).display().to_string();

    // JSON Lines, one of each text, sorted; the same texts as a text file give the same rows.
    let db = encode(&["--texts", &p("texts.jsonl"), "--dedup"], "jsonl.hdf5");
    assert_eq!(db.captions, ["a bird on a branch", "a man riding a wave", "a plate of food"]);
    std::fs::write(dir.join("same.txt"), db.captions.join("\n")).unwrap();
    let again = encode(&["--texts", &p("same.txt")], "same.hdf5");
    assert_eq!((&again.keys, &again.captions), (&db.keys, &db.captions));

    // Karpathy's captions of two splits, in the file's order, the long ones left out.
    let k = format!("karpathy:{}", p("karpathy_coco.json"));
    let db = encode(&["--texts", &k, "--split", "train,restval"], "karpathy.hdf5");
    assert_eq!(
        db.captions,
        [
            "Closeup of bins of food.",
            "A meal in a lunch box.",
            "A woman cutting a large cake.",
            "A giraffe eating leaves."
        ]
    );
    let db =
        encode(&["--texts", &k, "--split", "train,restval", "--max-tokens", "5"], "short.hdf5");
    assert_eq!(db.captions, ["A giraffe eating leaves."]);
}

/// `args` (made for `--ann-dir`) reading `texts` instead.
fn with_texts(args: Vec<String>, texts: &[&str]) -> Vec<String> {
    let at = args.iter().position(|a| a == "--ann-dir").unwrap();
    let mut out = args;
    out.splice(at..at + 2, texts.iter().map(|t| t.to_string()));
    out
}

#[test]
fn a_bad_tar_member_fails_or_is_skipped_and_haav_reads_sources_too() {
    let s = Sample::haav();
    let images = coco_images(&s);
    let dir = s.dir.path();
    // Image 42's bytes cut to a third inside its shard (the tar itself is whole).
    let cut = dir.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let mut listed = images.clone();
    for (id, path) in &mut listed {
        if *id == 42 {
            let bytes = std::fs::read(&*path).unwrap();
            let p = cut.join("42.jpg");
            std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
            *path = p;
        }
    }
    let pattern = write_shards(&dir.join("wds"), &listed, 4);
    let source = vec!["--images".into(), format!("wds:{pattern}")];
    let db = s.out("caption_db.hdf5");
    ok("encode-captions", &s.args("encode-captions", &db, &db));

    let out = s.out("fail/vis_ctx.hdf5");
    let o = run("encode-images", &with_source(s.args("encode-images", &out, &db), &source), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("image 42") && err.contains("00000.tar/42.jpg"), "{err}");

    let out = s.out("skip/vis_ctx.hdf5");
    let mut args = with_source(s.args("encode-images", &out, &db), &source);
    args.extend(["--on-error".into(), "skip".into()]);
    let o = run("encode-images", &args, &[]);
    assert!(!o.status.success());
    let log = std::fs::read_to_string(format!("{}.failures.jsonl", out.display())).unwrap();
    let rec: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(rec["item"], "42");
    assert!(rec["path"].as_str().unwrap().ends_with("00000.tar/42.jpg"), "{rec}");
    let ids = ctx_store::HaavVisCtxReader::open(&out).unwrap().ids().unwrap();
    assert_eq!(ids, vec![9, 25, 30, 73, 74, 531912]);

    // HAAV's profile: the good images' entries equal the COCO layout's (image 42 left out, so
    // batches differ: equal to float rounding).
    let coco = s.out("coco/vis_ctx.hdf5");
    ok("encode-images", &s.args("encode-images", &coco, &db));
    let a = ctx_store::HaavVisCtxReader::open(&out).unwrap();
    let b = ctx_store::HaavVisCtxReader::open(&coco).unwrap();
    for id in ids {
        let (x, y) = (a.get(id).unwrap(), b.get(id).unwrap());
        assert_eq!((x.tokens, x.grid.len()), (y.tokens, y.grid.len()), "image {id}");
        let most =
            |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(u, v)| (u - v).abs()).fold(0f32, f32::max);
        assert!(most(&x.grid, &y.grid) < 1e-4, "image {id}: {}", most(&x.grid, &y.grid));
        assert!(most(&x.pooled, &y.pooled) < 1e-5, "image {id}: {}", most(&x.pooled, &y.pooled));
    }
}

#[test]
fn json_output_holds_the_hdf5_texts_and_scores_and_resumes() {
    let s = Sample::new();
    let whole = full_run(&s, "coco");
    let db = whole.join("caption_db.hdf5");
    let out = s.out("json/txt_ctx.jsonl");
    let mut args = s.args("retrieve-captions", &out, &db);
    args.extend(["--format".into(), "json".into()]);
    ok("retrieve-captions", &args);
    let read = |p: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let lines = read(&out);
    assert!(lines[0].get("xctx_provenance").is_some());
    let want = txt(&whole.join("txt_ctx.hdf5"));
    assert_eq!(lines.len(), want.len() + 1);
    for (line, e) in lines[1..].iter().zip(&want) {
        let v = &line[e.id.to_string()];
        for (c, chunk) in v["five"].as_array().unwrap().iter().enumerate() {
            for (j, hit) in chunk.as_array().unwrap().iter().enumerate() {
                let i = c * e.five.k + j;
                assert_eq!(hit[0], e.five.texts[i].as_str(), "image {} five", e.id);
                assert_eq!(hit[1].as_f64().unwrap() as f32, e.five.scores[i]);
            }
        }
        let first = &v["whole"][0];
        assert_eq!(first[0], e.whole.texts[0].as_str());
        assert_eq!(v["nine"].as_array().unwrap().len(), 9);
    }

    // Killed after a batch, with a cut line at the end: the same command ends with the same
    // images and hits.
    let again = s.out("json/again.jsonl");
    let mut args = s.args("retrieve-captions", &again, &db);
    args.extend(["--format".into(), "json".into()]);
    let o = run("retrieve-captions", &args, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success());
    let mut bytes = std::fs::read(&again).unwrap();
    bytes.extend_from_slice(b"{\"42\": {\"whole\": [[\"cut");
    std::fs::write(&again, bytes).unwrap();
    ok("retrieve-captions", &args);
    let mut a = read(&again)[1..].to_vec();
    let mut b = lines[1..].to_vec();
    let key = |v: &serde_json::Value| {
        v.as_object().unwrap().keys().next().unwrap().parse::<u64>().unwrap()
    };
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
}
