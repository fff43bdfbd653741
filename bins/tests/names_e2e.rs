//! Images whose ids are not integers keep their names through the image steps: a folder's file
//! stems (`dog_01`, `000010001`, and `10001` beside it: a step that parsed names as integers
//! would lose the zeros and write one image twice) and img2dataset's zero-padded keys. The
//! vectors and phrases are those of the same images read from the COCO layout; a killed run
//! resumes by name, shards merge by name, `--format json` keys lines by name, `--on-error skip`
//! records the name, and h5py reads `f["000010001"]`.

mod steps;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ctx_store::{ImageId, TxtCtxReader, TxtEntry, VisCtxReader};
use steps::*;
use test_support::run_python_code;

/// The folder's files (in the folder's sorted order) and the COCO image (by position in the
/// COCO layout's order) each one copies.
const FOLDER: [(&str, usize); 4] =
    [("000010001.jpg", 0), ("10001.jpg", 1), ("cats/tabby_02.jpg", 2), ("dog_01.jpg", 3)];
/// The names the files give, as `keys()` orders them (integers first).
const KEYS: [&str; 4] = ["10001", "000010001", "dog_01", "tabby_02"];

fn coco_images(s: &Sample) -> Vec<(u64, PathBuf)> {
    datasets::karpathy_images(&s.coco()).unwrap().into_iter().map(|i| (i.id, i.path)).collect()
}

/// `args` (made for `--dataset-root`) reading `source` instead.
fn with_source(args: Vec<String>, source: &str) -> Vec<String> {
    let at = args.iter().position(|a| a == "--dataset-root").unwrap();
    let mut out = args;
    out.splice(at..at + 2, ["--images".to_owned(), source.to_owned()]);
    out
}

fn names(ids: &[ImageId]) -> Vec<&str> {
    ids.iter().map(ImageId::as_str).collect()
}

fn vis_by_id(path: &Path) -> HashMap<ImageId, Vec<f32>> {
    let v = VisCtxReader::open(path).unwrap().preload().unwrap();
    v.ids.iter().enumerate().map(|(i, id)| (id.clone(), v.row(i).to_vec())).collect()
}

fn txt_by_id(path: &Path) -> HashMap<ImageId, TxtEntry> {
    let all = TxtCtxReader::open(path).unwrap().preload().unwrap();
    all.into_iter().map(|e| (e.id.clone(), e)).collect()
}

/// Writes tar shards as img2dataset does (`KEY.jpg`, `KEY.json`, `KEY.txt`), two samples a
/// shard; returns the brace pattern.
fn write_shards(dir: &Path, samples: &[(String, PathBuf)]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let code = r#"
import io, json, sys, tarfile
out, items = sys.argv[1], sys.argv[2:]
for s in range(0, len(items), 2):
    with tarfile.open(f"{out}/{s // 2:05d}.tar", "w") as t:
        for item in items[s:s + 2]:
            key, path = item.split("=", 1)
            for ext, data in (("jpg", open(path, "rb").read()), ("json", json.dumps({"key": key}).encode()), ("txt", b"x")):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
"#;
    let spec: Vec<String> = samples.iter().map(|(k, p)| format!("{k}={}", p.display())).collect();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&dir];
    spec.iter().for_each(|s| args.push(s));
    run_python_code(code, &args);
    format!("{}/{{00000..{:05}}}.tar", dir.display(), samples.len().div_ceil(2) - 1)
}

#[test]
fn named_images_keep_their_names_through_every_step() {
    let s = Sample::new();
    let coco = full_run(&s, "coco");
    let db = coco.join("caption_db.hdf5");
    let images = coco_images(&s);
    let want_vis = vis_by_id(&coco.join("vis_ctx.hdf5"));
    let want_txt = txt_by_id(&coco.join("txt_ctx.hdf5"));
    let coco_id = |i: usize| ImageId::from(images[i].0);

    let folder = s.dir.path().join("named");
    for (file, i) in FOLDER {
        let to = folder.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&images[i].1, to).unwrap();
    }
    let stem = |f: &str| Path::new(f).file_stem().unwrap().to_str().unwrap().to_owned();
    let source = format!("folder:{}", folder.display());

    // encode-images: the vectors of the COCO images, under the files' names.
    let out = s.out("named/vis_ctx.hdf5");
    ok("encode-images", &with_source(s.args("encode-images", &out, &db), &source));
    let r = VisCtxReader::open(&out).unwrap();
    assert_eq!(names(&r.keys().unwrap()), KEYS);
    let got = vis_by_id(&out);
    for (file, i) in FOLDER {
        assert_eq!(got[&ImageId::from(stem(file))], want_vis[&coco_id(i)], "{file}");
    }

    // retrieve-captions killed after its first batch, then resumed: the phrases of the COCO
    // images under the files' names, each image once.
    let out = s.out("named/txt_ctx.hdf5");
    let args = with_source(s.args("retrieve-captions", &out, &db), &source);
    let o = run("retrieve-captions", &args, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success(), "the first run is killed");
    let partial = TxtCtxReader::open(&out).unwrap().keys().unwrap();
    assert_eq!(names(&partial), ["10001", "000010001"], "the folder's first batch");
    ok("retrieve-captions", &args);
    let r = TxtCtxReader::open(&out).unwrap();
    assert_eq!(names(&r.keys().unwrap()), KEYS);
    let got = txt_by_id(&out);
    for (file, i) in FOLDER {
        let want = TxtEntry { id: ImageId::from(stem(file)), ..want_txt[&coco_id(i)].clone() };
        assert_eq!(got[&want.id], want, "{file}");
    }

    // --format json: lines keyed by the names, in the folder's order.
    let json = s.out("named/txt_ctx.jsonl");
    let mut args = with_source(s.args("retrieve-captions", &json, &db), &source);
    args.extend(["--format".into(), "json".into()]);
    ok("retrieve-captions", &args);
    let text = std::fs::read_to_string(&json).unwrap();
    let keys: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect();
    assert_eq!(keys, FOLDER.map(|(f, _)| stem(f)));

    // --on-error skip: an undecodable image is recorded by its name.
    std::fs::write(folder.join("broken_03.jpg"), b"not a jpeg").unwrap();
    let out = s.out("named-skip/vis_ctx.hdf5");
    let mut args = with_source(s.args("encode-images", &out, &db), &source);
    args.extend(["--on-error".into(), "skip".into()]);
    let o = run("encode-images", &args, &[]);
    assert!(!o.status.success(), "a skipped image makes the exit non-zero");
    let failures = std::fs::read_to_string(out.with_file_name("vis_ctx.hdf5.failures.jsonl"))
        .expect("the failures file");
    assert!(failures.contains(r#""item":"broken_03""#), "{failures}");
    assert_eq!(names(&VisCtxReader::open(&out).unwrap().keys().unwrap()), KEYS);
}

#[test]
fn zero_padded_webdataset_keys_shard_merge_and_read_in_h5py() {
    let s = Sample::new();
    let coco = full_run(&s, "coco");
    let db = coco.join("caption_db.hdf5");
    let images = coco_images(&s);
    let want_vis = vis_by_id(&coco.join("vis_ctx.hdf5"));
    // img2dataset's keys: shard number and index, zero-padded.
    let samples: Vec<(String, PathBuf)> = images
        .iter()
        .take(4)
        .enumerate()
        .map(|(i, (_, p))| (format!("{:09}", 10001 + i), p.clone()))
        .collect();
    let pattern = write_shards(&s.dir.path().join("wds"), &samples);
    let source = format!("wds:{pattern}");

    let out = s.out("wds/vis_ctx.hdf5");
    let mut parts = Vec::new();
    for i in 0..2 {
        let mut args = with_source(s.args("encode-images", &out, &db), &source);
        args.extend(["--shard".into(), format!("{i}/2")]);
        ok("encode-images", &args);
        parts
            .push(out.with_file_name(format!("vis_ctx.shard-{i}-of-2.hdf5")).display().to_string());
    }
    let mut args = vec![out.display().to_string()];
    args.extend(parts);
    ok("ctx-merge", &args);
    let r = VisCtxReader::open(&out).unwrap();
    let keys: Vec<&str> = samples.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names(&r.keys().unwrap()), keys, "zero-padded keys stay as they are");
    assert!(r.ids().is_err(), "the keys are not integers");
    for (i, (key, _)) in samples.iter().enumerate() {
        assert_eq!(r.get(key.as_str()).unwrap(), want_vis[&ImageId::from(images[i].0)], "{key}");
    }

    // h5py sees the names, and f["000010001"] is the first sample's vector.
    let code = "import sys, json, h5py\n\
        f = h5py.File(sys.argv[1], 'r')\n\
        print(json.dumps({'keys': sorted(f.keys()), 'first': f['000010001'][:4].tolist(), \
        'plain': '10001' in f}))\n";
    let seen: serde_json::Value =
        serde_json::from_str(run_python_code(code, &[&out]).lines().last().unwrap()).unwrap();
    assert_eq!(seen["keys"], serde_json::json!(keys));
    assert_eq!(seen["plain"], false);
    let first = &want_vis[&ImageId::from(images[0].0)][..4];
    let got: Vec<f32> =
        seen["first"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(got, first);
}
