//! The three steps on every image source and text database of `scripts/make_sources.py` against
//! the Python mirror of the original generalised to read them (tests/mirror/original_pipeline.py
//! `--images`, `--texts`): the same images in the same order, and the three files within the
//! parity bounds of docs/parity.md. A planted reordering, a wrong id, a swapped row or a wrong
//! source fails the comparison.

mod steps;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use ctx_store::{CaptionDb, Captions, ImageId, TxtCtxReader, TxtEntry, VisCtx, VisCtxReader};
use steps::*;
use test_support::{max_row_rel, run_python, run_python_json, tiny_clip, workspace_root};

/// Retrieved texts a crop: no more than the smallest database's texts. (A database that holds
/// one text twice ties its scores, and tied ranks are not compared: only the text file's does,
/// where more than half of the ranks stay separated; JSON Lines' is read with `--dedup`.)
const K: &str = "3";

/// One source and the text database it is paired with.
struct Case {
    name: &'static str,
    /// `--images` and the flags that go with it (the same spelling for the mirror).
    images: Vec<String>,
    /// encode-captions' text flags (the mirror spells `--split` of the texts `--text-split`).
    texts: Vec<String>,
    /// Whether the source holds an image that does not decode (`--on-error skip` on both sides).
    skip: bool,
    /// The ids make_sources.py lists for the source, in order (what either side must read).
    want: Vec<String>,
}

/// What one side wrote, read back: the images in the order processed and the three files.
#[derive(Clone)]
struct Run {
    order: Vec<String>,
    vis: VisCtx,
    db: Captions,
    sources: Option<Vec<String>>,
    txt: Vec<TxtEntry>,
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn cases(dir: &Path) -> Vec<Case> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let listed = |key: &str, split: Option<&[&str]>| -> Vec<String> {
        manifest[key]["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i.get("decodes").is_none_or(|d| d == true))
            .filter(|i| split.is_none_or(|s| s.contains(&i["split"].as_str().unwrap())))
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let p = |f: &str| dir.join(f).display().to_string();
    let karpathy = format!("karpathy:{}", p("karpathy_coco.json"));
    vec![
        Case {
            name: "karpathy-coco",
            images: strings(&["--images", &karpathy, "--image-root", &p("coco")]),
            texts: strings(&["--texts", &karpathy, "--max-tokens", "6"]),
            skip: false,
            want: listed("karpathy_coco", None),
        },
        Case {
            name: "karpathy-flickr",
            images: strings(&[
                "--images",
                &format!("karpathy:{}", p("karpathy_flickr.json")),
                "--image-root",
                &p("flickr"),
                "--split",
                "train,test",
            ]),
            texts: strings(&["--texts", &p("texts.txt")]),
            skip: false,
            want: listed("karpathy_flickr", Some(&["train", "test"])),
        },
        Case {
            name: "coco-json",
            images: strings(&[
                "--images",
                &format!("coco-json:{}", p("image_info_test.json")),
                "--image-root",
                &p("test2014"),
            ]),
            texts: strings(&["--texts", &p("texts.jsonl"), "--dedup"]),
            skip: false,
            want: listed("coco_json", None),
        },
        Case {
            name: "folder",
            images: strings(&["--images", &format!("folder:{}", p("folder"))]),
            texts: strings(&["--texts", &karpathy, "--split", "train,restval"]),
            skip: false,
            want: listed("folder", None),
        },
        Case {
            name: "list",
            images: strings(&["--images", &format!("list:{}", p("list.txt"))]),
            texts: strings(&["--texts", &p("texts.txt"), "--dedup"]),
            skip: false,
            want: listed("list", None),
        },
        Case {
            name: "wds",
            images: strings(&["--images", &format!("wds:{}", p("wds/{00000..00001}.tar"))]),
            texts: strings(&["--texts", &karpathy]),
            skip: true,
            want: listed("wds", None),
        },
    ]
}

/// A step's arguments for `case`, writing `out`.
fn our_args(step: &str, case: &Case, model: &Path, out: &Path, db: &Path) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    let mut a = match step {
        "encode-captions" => {
            let mut a = case.texts.clone();
            a.extend(strings(&["--layout", "original"]));
            a
        }
        _ => {
            let mut a = case.images.clone();
            a.extend(strings(&["--batch-size", "2", "--num-workers", "2"]));
            if step == "retrieve-captions" {
                a.extend(strings(&["--caption-db", &s(db), "--k", K]));
            }
            if case.skip {
                a.extend(strings(&["--on-error", "skip"]));
            }
            a
        }
    };
    a.extend(strings(&["--profile", "original", "--model", &s(model), "--out", &s(out)]));
    a.extend(strings(&["--device", "cpu", "--quiet"]));
    a
}

/// Runs a step; with `--on-error skip` on a source holding a bad image, the step reports the
/// failure (non-zero exit) and records the image in its failures file.
fn step(step: &str, case: &Case, args: &[String], out: &Path) {
    if step == "encode-captions" || !case.skip {
        return ok(step, args);
    }
    let o = run(step, args, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("1 inputs failed"), "{}: {step}: {err}", case.name);
    let log = std::fs::read_to_string(format!("{}.failures.jsonl", out.display())).unwrap();
    let rec: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(rec["item"], "000000003", "{}: {step}: {log}", case.name);
}

/// Our three steps on `case` into `dir`, and the order of the images (`--format json` writes one
/// image a line as it goes).
fn ours(case: &Case, model: &Path, dir: &Path) -> Run {
    let db = dir.join("caption_db.hdf5");
    for (name, file) in STEPS {
        let out = dir.join(file);
        step(name, case, &our_args(name, case, model, &out, &db), &out);
    }
    let json = dir.join("order.jsonl");
    let mut args = our_args("retrieve-captions", case, model, &json, &db);
    args.extend(strings(&["--format", "json", "--views", "whole"]));
    step("retrieve-captions", case, &args, &json);
    let order = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .skip(1) // the provenance line
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect();
    read(dir, order)
}

/// The mirror on `case` into `dir`.
fn mirror(case: &Case, model: &Path, dir: &Path) -> Run {
    let mut args: Vec<String> = vec!["-".into(), "-".into()];
    args.extend([model.display().to_string(), dir.display().to_string()]);
    args.extend(case.images.iter().cloned());
    let texts =
        case.texts.iter().map(|a| if a == "--split" { "--text-split".into() } else { a.clone() });
    args.extend(texts);
    args.extend(strings(&["--k", K]));
    if case.skip {
        args.extend(strings(&["--on-error", "skip"]));
    }
    let script = workspace_root().join("tests/mirror/original_pipeline.py");
    let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    let res = run_python_json(&script, &refs);
    let order =
        res["order"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().into()).collect();
    read(dir, order)
}

fn read(dir: &Path, order: Vec<String>) -> Run {
    let db = CaptionDb::open(dir.join("caption_db.hdf5")).unwrap();
    Run {
        order,
        vis: VisCtxReader::open(dir.join("vis_ctx.hdf5")).unwrap().preload().unwrap(),
        db: db.load().unwrap(),
        sources: db.sources().unwrap(),
        txt: TxtCtxReader::open(dir.join("txt_ctx.hdf5")).unwrap().preload().unwrap(),
    }
}

/// Ours against the mirror's, within docs/parity.md's bounds (panics naming the difference).
fn compare(a: &Run, b: &Run) {
    // The same images, in the same order.
    assert_eq!(a.order, b.order, "order");
    // Visual context: same ids, cosine >= 0.999999 (the same pixels).
    assert_eq!(a.vis.ids, b.vis.ids, "vis_ctx ids");
    for i in 0..a.vis.ids.len() {
        let c = cosine(a.vis.row(i), b.vis.row(i));
        assert!(c >= 0.999999, "vis_ctx image {}: cosine {c}", a.vis.ids[i]);
    }
    // Caption database: the same rows and sources; features and keys within 1e-5 a row.
    assert_eq!(a.db.captions, b.db.captions, "caption_db rows");
    assert_eq!(a.sources, b.sources, "caption_db sources");
    let f = max_row_rel(&a.db.features, &b.db.features, a.db.feature_dim);
    let k = max_row_rel(&a.db.keys, &b.db.keys, a.db.key_dim);
    assert!(f <= 1e-5 && k <= 1e-5, "caption_db features {f}, keys {k}");
    // Textual context: scores within 2e-3, texts equal where the scores are separated.
    let err = max_score_error(&a.txt, &b.txt);
    assert!(err < 2e-3, "txt_ctx score error {err}");
    let (compared, total) = separated_texts_equal(&a.txt, &b.txt, 2.0 * err);
    assert!(compared * 2 > total, "only {compared} of {total} ranks are separated enough");
}

#[test]
fn every_source_equals_the_python_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_python(&workspace_root().join("scripts/make_sources.py"), &[&dir.join("src")]);
    let model = tiny_clip("a");
    let mut planted = None;
    for case in cases(&dir.join("src")) {
        let (d_ours, d_theirs) = (dir.join(case.name).join("ours"), dir.join(case.name).join("py"));
        std::fs::create_dir_all(&d_ours).unwrap();
        let (a, b) = (ours(&case, &model, &d_ours), mirror(&case, &model, &d_theirs));
        // Both read what make_sources.py lists (the bad tar member left out).
        assert_eq!(b.order, case.want, "{}: the mirror's images", case.name);
        let result = catch_unwind(AssertUnwindSafe(|| compare(&a, &b)));
        assert!(result.is_ok(), "{}: ours differ from the mirror's", case.name);
        for f in ["vis_ctx.hdf5", "txt_ctx.hdf5", "caption_db.hdf5"] {
            assert_eq!(schema(&d_ours.join(f)), schema(&d_theirs.join(f)), "{}: {f}", case.name);
        }
        if case.name == "folder" {
            planted = Some((a, b));
        }
    }
    let (a, b) = planted.unwrap();
    the_comparison_bites(&a, &b);
}

/// Each planted difference fails `compare`.
fn the_comparison_bites(ours: &Run, theirs: &Run) {
    type Plant = Box<dyn Fn(&mut Run)>;
    let swap_rows = |v: &mut Vec<f32>, d: usize| {
        let (first, rest) = v.split_at_mut(d);
        first.swap_with_slice(&mut rest[..d]);
    };
    let plants: Vec<(&str, Plant)> = vec![
        ("two images processed in the other order", Box::new(|r| r.order.swap(0, 1))),
        ("a wrong id", Box::new(|r| r.vis.ids[0] = ImageId::new("wrong"))),
        (
            "two images' vectors swapped",
            Box::new(move |r| swap_rows(&mut r.vis.features, r.vis.fdim)),
        ),
        ("two caption rows swapped", Box::new(|r| r.db.captions.swap(0, 1))),
        ("a wrong source", Box::new(|r| r.sources.as_mut().unwrap()[0] = "0".into())),
        ("no sources", Box::new(|r| r.sources = None)),
        ("a wrong txt_ctx id", Box::new(|r| r.txt[0].id = ImageId::new("wrong"))),
        (
            "each crop's hits in reverse order",
            Box::new(|r| {
                for e in &mut r.txt {
                    for v in [&mut e.whole, &mut e.five, &mut e.nine] {
                        v.texts.chunks_mut(v.k).for_each(|c| c.reverse());
                    }
                }
            }),
        ),
        ("a score off by 0.01", Box::new(|r| r.txt[0].whole.scores[0] += 0.01)),
    ];
    for (what, plant) in plants {
        let mut bad = ours.clone();
        plant(&mut bad);
        let caught = catch_unwind(AssertUnwindSafe(|| compare(&bad, theirs)));
        assert!(caught.is_err(), "{what}: not caught");
    }
}
