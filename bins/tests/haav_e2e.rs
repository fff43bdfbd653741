//! `--profile haav`: the three steps on the bundled sample (images with the B/32-shaped tiny
//! checkpoint, captions and queries with the L/14-shaped one, as HAAV) against the Python mirror
//! of HAAV's scripts (tests/mirror/haav_pipeline.py, run here), read by HAAV's training-code
//! readers, resumed, sharded, and refused where a file of the other profile is given.

mod steps;

use std::path::{Path, PathBuf};

use ctx_store::{HaavCaptionDb, HaavTxtCtxReader, HaavVisCtxReader, TxtEntry, View};
use serde_json::Value;
use steps::*;
use test_support::{max_row_rel, run_python_json, workspace_root};

/// HAAV's k of these runs: 8k = 40 of the sample's 45 phrases for the whole image.
const K: usize = 5;

fn haav_run(s: &Sample, dir: &str) -> PathBuf {
    let out = s.out(dir);
    let db = out.join("caption_db.hdf5");
    for (step, file) in STEPS {
        let mut args = s.args(step, &out.join(file), &db);
        if step == "encode-captions" {
            // HAAV's batches of 512 phrases (one group here), as the mirror writes them.
            args = without_batch_size(args);
        }
        ok(step, &with_k(args, K));
    }
    out
}

/// `args` with `--k k` where it has a `--k`.
fn with_k(mut args: Vec<String>, k: usize) -> Vec<String> {
    if let Some(at) = args.iter().position(|a| a == "--k") {
        args[at + 1] = k.to_string();
    }
    args
}

fn without_batch_size(mut args: Vec<String>) -> Vec<String> {
    let at = args.iter().position(|a| a == "--batch-size").unwrap();
    args.drain(at..at + 2);
    args
}

/// Runs the mirror of HAAV's scripts into `out`; `plant` makes one of its known mistakes.
fn mirror(s: &Sample, out: &Path, plant: &str) -> Value {
    let script = workspace_root().join("tests/mirror/haav_pipeline.py");
    let k = K.to_string();
    let args: [&dyn AsRef<std::ffi::OsStr>; 10] = [
        &s.coco(),
        &s.vg(),
        &s.model,
        &out,
        &"--vis-model",
        &s.vis_model,
        &"--k",
        &k,
        &"--plant",
        &plant,
    ];
    run_python_json(&script, &args)
}

fn txt(path: &Path) -> Vec<TxtEntry> {
    let e = HaavTxtCtxReader::open(path).unwrap().preload().unwrap();
    assert!(!e.is_empty(), "{}: no entries", path.display());
    e
}

/// The smallest cosine between rows of `width` of `a` and `b`.
fn min_row_cosine(a: &[f32], b: &[f32], width: usize) -> f64 {
    assert_eq!(a.len(), b.len());
    let c = a.chunks(width).zip(b.chunks(width)).map(|(x, y)| cosine(x, y));
    c.fold(f64::INFINITY, |m, v| if v.is_nan() { f64::NEG_INFINITY } else { m.min(v) })
}

/// Whether the sample's image `id` is a PNG (behind its `.jpg` name).
fn is_png(s: &Sample, id: u64) -> bool {
    let name = |split: &str| s.coco().join(format!("{split}2014/COCO_{split}2014_{id:012}.jpg"));
    let path = [name("train"), name("val")].into_iter().find(|p| p.exists()).unwrap();
    std::fs::read(path).unwrap().starts_with(b"\x89PNG")
}

/// The largest row-relative error of the caption database's keys and of its values.
fn caption_errors(ours: &Path, theirs: &Path) -> (f64, f64) {
    let a = HaavCaptionDb::open(ours).unwrap().load().unwrap();
    let b = HaavCaptionDb::open(theirs).unwrap().load().unwrap();
    assert_eq!(a.captions, b.captions);
    assert!(!a.captions.is_empty());
    (max_row_rel(&a.keys, &b.keys, a.key_dim), max_row_rel(&a.features, &b.features, a.feature_dim))
}

#[test]
fn haav_steps_equal_the_python_mirror_of_haavs_scripts() {
    let s = Sample::haav();
    let ours = haav_run(&s, "ours");
    let theirs = s.out("mirror");
    let report = mirror(&s, &theirs, "none");
    // Some of the sample's inputs take other pixels under the two centre-crop roundings, so the
    // planted rounding below can show.
    assert!(report["crop_rounding_differs"].as_u64().unwrap() > 0, "{report}");

    // Visual context: same ids; per image every token's grid row and the pooled embedding
    // within cosine 0.999999 (the same pixels on both sides, JPEGs included).
    let a = HaavVisCtxReader::open(ours.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
    let b = HaavVisCtxReader::open(theirs.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
    let dims = |v: &ctx_store::HaavVisCtx| (v.ids.clone(), v.tokens, v.fdim_grid, v.fdim_pooled);
    assert_eq!(dims(&a), dims(&b));
    let (mut pngs, mut jpegs) = (0, 0);
    for (i, id) in a.ids.iter().enumerate() {
        let (x, y) = (a.grid_row(i), b.grid_row(i));
        let c = min_row_cosine(x, y, a.fdim_grid).min(cosine(a.pooled_row(i), b.pooled_row(i)));
        assert!(c >= 0.999999, "image {id}: a grid row's or the pooled cosine {c}");
        if is_png(&s, id.as_u64().unwrap()) { pngs += 1 } else { jpegs += 1 }
    }
    assert!(pngs >= 1 && jpegs >= 1, "the sample has {pngs} PNGs and {jpegs} JPEGs");

    // Caption database: same phrases, keys and values within 1e-5 relative per row.
    let (keys, values) =
        caption_errors(&ours.join("caption_db.hdf5"), &theirs.join("caption_db.hdf5"));
    assert!(keys <= 1e-5 && values <= 1e-5, "keys {keys}, values {values}");

    // Textual context: 8k / 2k / k texts, equal to the mirror's wherever scores separate, with
    // the features of the texts' values.
    let (a, b) = (txt(&ours.join("txt_ctx.hdf5")), txt(&theirs.join("txt_ctx.hdf5")));
    for v in View::ALL {
        assert_eq!((a[0].view(v).k, a[0].view(v).crops), (v.haav_factor() * K, v.crops()), "{v:?}");
    }
    let err = max_score_error(&a, &b);
    assert!(err < 2e-3, "score error {err}");
    let (compared, total) = separated_texts_equal(&a, &b, 2.0 * err);
    assert!(
        compared * 2 > total,
        "only {compared} of {total} ranks are separated enough to compare"
    );
    let db = HaavCaptionDb::open(ours.join("caption_db.hdf5")).unwrap().load().unwrap();
    let d = db.feature_dim;
    for e in &a {
        for v in View::ALL {
            let view = e.view(v);
            for (r, text) in view.texts.iter().enumerate() {
                let id = db.captions.iter().position(|c| c == text).unwrap();
                assert_eq!(&view.features[r * d..(r + 1) * d], &db.features[id * d..(id + 1) * d]);
            }
        }
    }

    // h5py sees HAAV's schema.
    for f in ["vis_ctx.hdf5", "txt_ctx.hdf5", "caption_db.hdf5"] {
        assert_eq!(schema(&ours.join(f)), schema(&theirs.join(f)), "{f}");
    }

    // The comparisons above fail on the planted mistakes: the original's crop rounding moves
    // scores past the tolerance; the post-layer-norm text output instead of `values` moves the
    // values (and the txt features with them).
    let planted = s.out("planted-crop");
    mirror(&s, &planted, "original-crop");
    let err = max_score_error(&a, &txt(&planted.join("txt_ctx.hdf5")));
    assert!(err >= 2e-3, "the original's crop rounding gives scores within {err}");
    let planted = s.out("planted-values");
    mirror(&s, &planted, "post-ln-values");
    let (keys, values) =
        caption_errors(&ours.join("caption_db.hdf5"), &planted.join("caption_db.hdf5"));
    assert!(keys <= 1e-5 && values > 1e-5, "post-layer-norm values: keys {keys}, values {values}");
}

/// HAAV's `TxtCtxField` / `VisCtxField` logic (crates/ctx-store/tests/haav_tool.py `fields`)
/// on the steps' files, with the file's k and a smaller training k, preload off and on: the
/// tensors it builds hold the first 8k / 2k / k rows of each view as ctx-store reads them.
#[test]
fn haavs_training_readers_load_the_steps_files() {
    let s = Sample::haav();
    let out = haav_run(&s, "ours");
    let (txt_path, vis_path) = (out.join("txt_ctx.hdf5"), out.join("vis_ctx.hdf5"));
    let entries = txt(&txt_path);
    let vis = HaavVisCtxReader::open(&vis_path).unwrap().preload().unwrap();
    let ids: Vec<u64> = entries.iter().rev().take(3).map(|e| e.id.as_u64().unwrap()).collect();
    let tool = workspace_root().join("crates/ctx-store/tests/haav_tool.py");
    let bits = |v: &[f32]| v.iter().map(|x| Value::from(x.to_bits())).collect::<Vec<_>>();
    for k in [K, 2] {
        let mut args: Vec<String> =
            vec!["fields".into(), txt_path.display().to_string(), vis_path.display().to_string()];
        args.push(k.to_string());
        args.extend(ids.iter().map(u64::to_string));
        let refs: Vec<&dyn AsRef<std::ffi::OsStr>> =
            args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect();
        let got = run_python_json(&tool, &refs);
        for preload in ["no_preload", "preload"] {
            let g = &got[preload];
            let what = format!("k = {k}, {preload}");
            let fdim = entries[0].whole.d;
            assert_eq!(g["fdim"], fdim, "{what}");
            for v in View::ALL {
                let n = v.haav_factor() * k;
                let mut want = Vec::new();
                for id in &ids {
                    let e = entries.iter().find(|e| e.id == *id).unwrap().view(v);
                    for c in 0..v.crops() {
                        let at = c * e.k * e.d;
                        want.extend(bits(&e.features[at..at + n * e.d]));
                    }
                }
                let t = &g["txt"][v.to_string()]["embed"];
                assert_eq!(
                    t["shape"],
                    serde_json::json!([ids.len(), v.crops() * n, fdim]),
                    "{what} {v:?}"
                );
                assert_eq!(t["values"].as_array().unwrap(), &want, "{what} {v:?}");
            }
            let grid: Vec<Value> = ids
                .iter()
                .flat_map(|id| bits(vis.grid_row(vis.ids.iter().position(|x| x == id).unwrap())))
                .collect();
            assert_eq!(g["vis"]["grid"]["values"].as_array().unwrap(), &grid, "{what}");
            assert_eq!(
                (g["fdim_grid"].as_u64(), g["fdim_pooled"].as_u64()),
                (Some(vis.fdim_grid as u64), Some(vis.fdim_pooled as u64))
            );
        }
    }
}

#[test]
fn haav_steps_resume_shard_and_write_vis_in_one_pass() {
    let s = Sample::haav();
    let whole = haav_run(&s, "whole");
    let db = whole.join("caption_db.hdf5");
    let args = |step: &str, out: &Path| with_k(s.args(step, out, &db), K);
    for (step, file) in STEPS {
        let want = content(&whole.join(file));
        // Killed after the first batch, then resumed.
        let out = s.out(&format!("killed/{file}"));
        let mut a = args(step, &out);
        if step == "encode-captions" {
            a = with_batch_size(a, 16); // 45 phrases in 3 groups; the uninterrupted run wrote 1
        }
        let o = run(step, &a, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
        assert!(!o.status.success(), "{step} was not stopped");
        ok(step, &a);
        if step == "encode-captions" {
            // Other groups (batches of 16), the same phrases, keys and values.
            let load = |p: &Path| HaavCaptionDb::open(p).unwrap().load().unwrap();
            assert_eq!(load(&out), load(&whole.join(file)));
            continue;
        }
        assert_eq!(content(&out), want, "{step} killed, then resumed");
        // Two shards merged.
        let out = s.out(&format!("sharded/{file}"));
        let mut parts = vec![out.display().to_string()];
        for i in 0..2 {
            let mut a = args(step, &out);
            a.extend(["--shard".into(), format!("{i}/2")]);
            ok(step, &a);
            let stem = file.trim_end_matches(".hdf5");
            parts.push(
                out.with_file_name(format!("{stem}.shard-{i}-of-2.hdf5")).display().to_string(),
            );
        }
        ok("ctx-merge", &parts);
        assert_eq!(content(&out), want, "{step}: merged shards");
    }

    // --vis-out: HAAV's vis_ctx from retrieve-captions' model and forward pass equals
    // encode-images' with that model (ids, provenance; values within cosine 0.999999), and both
    // files resume together.
    let (t, v) = (s.out("one/txt_ctx.hdf5"), s.out("one/vis_ctx.hdf5"));
    let mut a = args("retrieve-captions", &t);
    a.extend(["--vis-out".into(), v.display().to_string()]);
    let o = run("retrieve-captions", &a, &[("XCTX_ABORT_AFTER_BATCHES", "2")]);
    assert!(!o.status.success());
    ok("retrieve-captions", &a);
    assert_eq!(content(&t), content(&whole.join("txt_ctx.hdf5")));
    let alone = s.out("alone/vis_ctx.hdf5");
    let mut e = args("encode-images", &alone);
    let at = e.iter().position(|x| x == "--model").unwrap();
    e[at + 1] = s.model.display().to_string();
    ok("encode-images", &e);
    let (x, y) = (HaavVisCtxReader::open(&v).unwrap(), HaavVisCtxReader::open(&alone).unwrap());
    assert_eq!(x.provenance().unwrap(), y.provenance().unwrap());
    let (x, y) = (x.preload().unwrap(), y.preload().unwrap());
    assert_eq!((&x.ids, x.tokens), (&y.ids, y.tokens));
    let c = min_row_cosine(&x.grid, &y.grid, x.fdim_grid).min(min_row_cosine(
        &x.pooled,
        &y.pooled,
        x.fdim_pooled,
    ));
    assert!(c >= 0.999999, "cosine {c}");
}

/// A file of one profile given to a step of the other: a one-line error naming both.
#[test]
fn files_of_the_other_profile_are_refused() {
    let (haav, original) = (Sample::haav(), Sample::new());
    let dir = haav_run(&haav, "haav");
    let fail = |step: &str, args: &[String], says: &[&str]| {
        let o = run(step, args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{step} {args:?} succeeded");
        for s in says {
            assert!(err.contains(s), "{step}: {err}");
        }
        assert_eq!(err.trim().lines().count(), 1, "{step}: {err}");
    };
    // HAAV's caption database as the original's retrieval input, and back.
    let db = dir.join("caption_db.hdf5");
    let out = original.out("o/txt_ctx.hdf5");
    fail(
        "retrieve-captions",
        &original.args("retrieve-captions", &out, &db),
        &["haav profile", "--profile original"],
    );
    let orig_db = original.out("o/caption_db.hdf5");
    ok("encode-captions", &original.args("encode-captions", &orig_db, &orig_db));
    let out = haav.out("h/txt_ctx.hdf5");
    fail(
        "retrieve-captions",
        &haav.args("retrieve-captions", &out, &orig_db),
        &["original profile", "--profile haav"],
    );
    // Resuming an output of the other profile.
    let vis = dir.join("vis_ctx.hdf5");
    fail(
        "encode-images",
        &original.args("encode-images", &vis, &db),
        &["haav profile", "--profile haav", "--overwrite"],
    );
    // HAAV's caption database has one layout; 8k must fit in the database.
    let mut a = haav.args("encode-captions", &haav.out("x/caption_db.hdf5"), &db);
    a.extend(["--layout".into(), "original".into()]);
    fail("encode-captions", &a, &["--layout"]);
    let a = with_k(haav.args("retrieve-captions", &haav.out("x/txt_ctx.hdf5"), &db), 6);
    fail("retrieve-captions", &a, &["45 phrases", "--k 6", "48"]);
}
