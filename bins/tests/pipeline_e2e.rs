//! The three steps end to end on the bundled sample with a tiny checkpoint: against the Python
//! mirror of the original (tests/mirror/original_pipeline.py, run here), resumed after kills,
//! sharded and merged, with bad inputs and changed arguments.
#![allow(clippy::print_stderr)] // the CUDA tests print the errors they measure, for the GPU record

mod steps;

use std::path::Path;
use std::process::Command;

use ctx_store::{CaptionDb, TxtCtxReader, VisCtxReader};
use steps::*;
use test_support::{max_row_rel, run_python_json, tiny_clip, workspace_root};

#[test]
fn end_to_end_equals_the_python_mirror() {
    let s = Sample::new();
    // The original's batches of 512 phrases (one group here), as the mirror writes them.
    let ours = s.out("ours");
    let db = ours.join("caption_db.hdf5");
    for (step, file) in STEPS {
        let mut args = s.args(step, &ours.join(file), &db);
        if step == "encode-captions" {
            args.retain(|a| a != "--batch-size" && a != "8");
            args.extend(["--layout".into(), "original".into()]);
        }
        ok(step, &args);
    }
    let theirs = s.out("mirror");
    let script = workspace_root().join("tests/mirror/original_pipeline.py");
    run_python_json(&script, &[&s.coco(), &s.vg(), &s.model, &theirs, &"--k", &"5"]);

    // Visual context: same ids, cosine >= 0.999999 (the same pixels, JPEGs included).
    let a = VisCtxReader::open(ours.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
    let b = VisCtxReader::open(theirs.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
    assert_eq!(a.ids, b.ids);
    for i in 0..a.ids.len() {
        let c = cosine(a.row(i), b.row(i));
        assert!(c >= 0.999999, "image {}: cosine {c}", a.ids[i]);
    }

    // Phrase database identical; caption features and keys within 1e-5 relative per row.
    let a = CaptionDb::open(ours.join("caption_db.hdf5")).unwrap().load().unwrap();
    let b = CaptionDb::open(theirs.join("caption_db.hdf5")).unwrap().load().unwrap();
    assert_eq!(a.captions, b.captions);
    for (name, x, y, d) in [
        ("features", &a.features, &b.features, a.feature_dim),
        ("keys", &a.keys, &b.keys, a.key_dim),
    ] {
        for (r, (u, v)) in x.chunks(d).zip(y.chunks(d)).enumerate() {
            let num: f64 =
                u.iter().zip(v).map(|(p, q)| f64::from(p - q).powi(2)).sum::<f64>().sqrt();
            let den: f64 = v.iter().map(|q| f64::from(*q).powi(2)).sum::<f64>().sqrt();
            assert!(num / den <= 1e-5, "{name} row {r} ({}): {}", a.captions[r], num / den);
        }
    }

    // Textual context: texts equal to the mirror's exact search wherever its scores are
    // separated by more than the measured score error.
    let a = TxtCtxReader::open(ours.join("txt_ctx.hdf5")).unwrap().preload().unwrap();
    let b = TxtCtxReader::open(theirs.join("txt_ctx.hdf5")).unwrap().preload().unwrap();
    assert_eq!(
        a.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        b.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    let err = max_score_error(&a, &b);
    assert!(err < 2e-3, "score error {err}");
    let tol = 2.0 * err;
    let (compared, total) = separated_texts_equal(&a, &b, tol);
    assert!(
        compared * 2 > total,
        "only {compared} of {total} ranks are separated enough to compare"
    );

    // h5py sees the original's schema.
    for f in ["vis_ctx.hdf5", "txt_ctx.hdf5", "caption_db.hdf5"] {
        assert_eq!(schema(&ours.join(f)), schema(&theirs.join(f)), "{f}");
    }

    // --caption-db takes the original's file too: retrieval over the mirror's database gives
    // our texts wherever the scores are separated, as above.
    let from_theirs = s.out("from-mirror-db/txt_ctx.hdf5");
    ok(
        "retrieve-captions",
        &s.args("retrieve-captions", &from_theirs, &theirs.join("caption_db.hdf5")),
    );
    let c = TxtCtxReader::open(&from_theirs).unwrap().preload().unwrap();
    separated_texts_equal(&c, &a, tol);
}

#[test]
fn killed_steps_resume_to_the_uninterrupted_result() {
    let s = Sample::new();
    let whole = full_run(&s, "whole");
    let db = whole.join("caption_db.hdf5");
    for (step, file) in STEPS {
        let want = content(&whole.join(file));
        for after in ["1", "2", "3"] {
            let out = s.out(&format!("killed-{after}/{file}"));
            let args = s.args(step, &out, &db);
            let o = run(step, &args, &[("XCTX_ABORT_AFTER_BATCHES", after)]);
            assert!(!o.status.success(), "{step} was not stopped after {after} batches");
            ok(step, &args);
            assert_eq!(content(&out), want, "{step} killed after {after} batches, then resumed");
        }
        // A SIGKILL at an arbitrary moment: 5 ms into the run, then at a tenth, a quarter and
        // two fifths of the time the command takes after that first kill (all the work: little
        // was done in 5 ms), each time followed by the same command. The child must still be
        // running when the kill is sent, else the kill tested nothing.
        let mut run_s = None;
        for fraction in [None, Some(0.1), Some(0.25), Some(0.4)] {
            let delay_s = fraction.zip(run_s).map_or(0.005, |(f, t): (f64, f64)| f * t);
            let out = s.out(&format!("sigkill-{}/{file}", (delay_s * 1000.0) as u64));
            let args = s.args(step, &out, &db);
            let mut child = Command::new(bin(step))
                .args(&args)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_secs_f64(delay_s));
            let running = child.try_wait().unwrap().is_none();
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert!(
                running,
                "{step} had ended {delay_s:.3} s into the run ({run_s:?} s): {status}"
            );
            let started = std::time::Instant::now();
            ok(step, &args);
            run_s.get_or_insert(started.elapsed().as_secs_f64());
            assert_eq!(content(&out), want, "{step} killed at {delay_s:.3} s, then resumed");
        }
    }
}

#[test]
fn four_shards_merge_to_one_run() {
    let s = Sample::new();
    let whole = full_run(&s, "whole");
    let db = whole.join("caption_db.hdf5");
    for (step, file) in STEPS {
        let out = s.out(&format!("sharded/{file}"));
        let mut parts = Vec::new();
        for i in 0..4 {
            let mut args = s.args(step, &out, &db);
            args.extend(["--shard".into(), format!("{i}/4")]);
            ok(step, &args);
            let stem = file.trim_end_matches(".hdf5");
            parts.push(
                out.with_file_name(format!("{stem}.shard-{i}-of-4.hdf5")).display().to_string(),
            );
        }
        parts.reverse(); // any order
        let mut args = vec![out.display().to_string()];
        args.extend(parts);
        ok("ctx-merge", &args);
        assert_eq!(content(&out), content(&whole.join(file)), "{step}: merged shards");
    }
}

#[test]
fn empty_shards_inspect_and_merge_to_one_run() {
    // One batch of 64 (7 images, 45 phrases) over 4 shards: shards 0-2 get nothing.
    let s = Sample::new();
    let single = s.out("single");
    let db = single.join("caption_db.hdf5");
    for (step, file) in STEPS {
        ok(step, &with_batch_size(s.args(step, &single.join(file), &db), 64));
    }
    for (step, file) in STEPS {
        let out = s.out(&format!("sharded/{file}"));
        let stem = file.trim_end_matches(".hdf5");
        let mut parts = Vec::new();
        for i in 0..4 {
            let mut args = with_batch_size(s.args(step, &out, &db), 64);
            args.extend(["--shard".into(), format!("{i}/4")]);
            ok(step, &args);
            let part = out.with_file_name(format!("{stem}.shard-{i}-of-4.hdf5"));
            // Every shard, empty or not, is a file of its kind that ctx-inspect shows and checks.
            let o = run("ctx-inspect", &[part.display().to_string(), "--json".into()], &[]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{step} shard {i}: {err}");
            let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(summary["kind"], stem, "{step} shard {i}");
            let count = summary.get("images").or(summary.get("captions")).unwrap();
            assert_eq!(count.as_u64().unwrap() == 0, i < 3, "{step} shard {i}: {summary}");
            ok("ctx-inspect", &[part.display().to_string(), "--check".into()]);
            parts.push(part.display().to_string());
        }
        let mut args = vec![out.display().to_string()];
        args.extend(parts);
        ok("ctx-merge", &args);
        assert_eq!(content(&out), content(&single.join(file)), "{step}: merged shards");
    }
}

#[test]
fn changed_model_is_refused_without_overwrite() {
    let s = Sample::new();
    let out = s.out("vis_ctx.hdf5");
    let args = s.args("encode-images", &out, Path::new(""));
    ok("encode-images", &args);
    let before = content(&out);
    let other: Vec<String> =
        args.iter()
            .map(|a| {
                if Path::new(a) == s.model {
                    tiny_clip("b").display().to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
    let o = run("encode-images", &other, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("model") && err.contains("--overwrite"), "{err}");
    assert_eq!(content(&out), before, "the refused run changed the file");
    let mut again = other.clone();
    again.push("--overwrite".into());
    ok("encode-images", &again);
    assert_ne!(content(&out), before);
    // Same command again: nothing to do, same file.
    let after = content(&out);
    ok("encode-images", &again[..again.len() - 1]);
    assert_eq!(content(&out), after);
}

#[test]
fn bad_images_fail_or_are_skipped() {
    let s = Sample::new();
    let bad = s.coco().join("train2014/COCO_train2014_000000000042.jpg");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    for step in ["encode-images", "retrieve-captions"] {
        let db = s.out("caption_db.hdf5");
        if !db.exists() {
            ok("encode-captions", &s.args("encode-captions", &db, &db));
        }
        // fail: one line naming the image; the batches before it stay.
        let out = s.out(&format!("fail-{step}.hdf5"));
        let o = run(step, &s.args(step, &out, &db), &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("image 42") && err.contains("COCO_train2014_000000000042.jpg"),
            "{err}"
        );
        let ids = |p: &Path| match step {
            "encode-images" => VisCtxReader::open(p).unwrap().ids().unwrap(),
            _ => TxtCtxReader::open(p).unwrap().ids().unwrap(),
        };
        assert_eq!(ids(&out), vec![9, 25], "{step}: batches before the bad image");
        // skip: every other image, the failure recorded, non-zero exit with the count.
        let out = s.out(&format!("skip-{step}.hdf5"));
        let mut args = s.args(step, &out, &db);
        args.extend(["--on-error".into(), "skip".into()]);
        let o = run(step, &args, &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("1 inputs failed"), "{err}");
        assert_eq!(ids(&out), vec![9, 25, 30, 73, 74, 531912]);
        let log = std::fs::read_to_string(format!("{}.failures.jsonl", out.display())).unwrap();
        let rec: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
        assert_eq!(rec["item"], "42");
        assert!(
            rec["error"].as_str().unwrap().contains("COCO_train2014_000000000042.jpg"),
            "{rec}"
        );
    }
    // A missing dataset: one line naming the file, nothing written.
    let missing = s.dir.path().join("nowhere");
    let args: Vec<String> = s
        .args("encode-images", &s.out("x.hdf5"), Path::new(""))
        .into_iter()
        .map(|a| if Path::new(&a) == s.coco() { missing.display().to_string() } else { a })
        .collect();
    let o = run("encode-images", &args, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nowhere/annotations/captions_train2014.json"), "{err}");
    assert!(!s.out("x.hdf5").exists());
}

#[test]
fn ivf_mode_reproduces_the_original_search_for_comparison() {
    let s = Sample::new();
    let exact = full_run(&s, "exact");
    let out = s.out("ivf/txt_ctx.hdf5");
    let mut args = s.args("retrieve-captions", &out, &exact.join("caption_db.hdf5"));
    args.push("--ivf".into());
    ok("retrieve-captions", &args);
    let report = ctx_store::check(&out).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let phrases = CaptionDb::open(exact.join("caption_db.hdf5")).unwrap().load().unwrap().captions;
    for e in TxtCtxReader::open(&out).unwrap().preload().unwrap() {
        // round(8 sqrt 45) = 54 lists for 45 phrases: lists are short, so rows are padded with
        // the last phrase at -FLT_MAX, as the original's faiss + Python indexing gave.
        assert!(e.whole.texts.iter().all(|t| phrases.contains(t)));
        assert!(e.whole.scores.windows(2).all(|w| w[0] >= w[1]));
        let padded = e.whole.scores.iter().filter(|&&s| s == f32::MIN).count();
        assert!(padded > 0);
        assert!(e.whole.texts[5 - padded..].iter().all(|t| t == phrases.last().unwrap()));
    }
}

#[test]
fn shard_defaults_from_slurm_array_variables() {
    let s = Sample::new();
    let out = s.out("vis_ctx.hdf5");
    let args = s.args("encode-images", &out, Path::new(""));
    let mut cmd = Command::new(bin("encode-images"));
    cmd.args(&args)
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .env("SLURM_ARRAY_TASK_MIN", "2");
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shard = s.out("vis_ctx.shard-1-of-4.hdf5");
    assert!(!out.exists());
    // 7 images in batches of 2 = 4 batches; shard 1 of 4 is the second batch.
    assert_eq!(VisCtxReader::open(&shard).unwrap().ids().unwrap(), vec![30, 42]);
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_steps_equal_cpu_steps() {
    let s = Sample::new();
    let cpu = full_run(&s, "cpu");
    // The first two resize and normalise on the device (the default there), the third
    // normalises on the CPU, the last resizes on the CPU and normalises on the device.
    let runs: [(&str, &[&str], f64, f64); 4] = [
        ("cuda", &[], 0.99999, 1e-5),
        ("cuda-half", &["--half"], 0.999, 1e-2),
        ("cuda-half-host", &["--half", "--normalise", "host"], 0.999, 1e-2),
        ("cuda-resize-host", &["--resize", "host"], 0.99999, 1e-5),
    ];
    for (label, extra, vis_min, key_tol) in runs {
        let dir = s.out(label);
        let db = dir.join("caption_db.hdf5");
        for (step, file) in STEPS {
            let mut args = s.args(step, &dir.join(file), &db);
            let at = args.iter().position(|a| a == "--device").unwrap();
            args[at + 1] = "cuda".into();
            args.extend(extra.iter().map(|a| a.to_string()));
            ok(step, &args);
        }
        let a = VisCtxReader::open(dir.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
        let b = VisCtxReader::open(cpu.join("vis_ctx.hdf5")).unwrap().preload().unwrap();
        assert_eq!(a.ids, b.ids);
        let worst = (0..a.ids.len()).map(|i| cosine(a.row(i), b.row(i))).fold(1.0, f64::min);
        eprintln!("{label}: vis_ctx lowest cosine to the CPU run {worst:.7}");
        assert!(worst >= vis_min, "{label}: cosine {worst} < {vis_min}");

        let a = CaptionDb::open(&db).unwrap().load().unwrap();
        let b = CaptionDb::open(cpu.join("caption_db.hdf5")).unwrap().load().unwrap();
        assert_eq!(a.captions, b.captions);
        let f = max_row_rel(&a.features, &b.features, a.feature_dim);
        let k = max_row_rel(&a.keys, &b.keys, a.key_dim);
        eprintln!("{label}: caption features {f:.2e}, keys {k:.2e} row-relative to the CPU run");
        assert!(f <= key_tol && k <= key_tol, "{label}: {f} / {k} > {key_tol}");

        let a = TxtCtxReader::open(dir.join("txt_ctx.hdf5")).unwrap().preload().unwrap();
        let b = TxtCtxReader::open(cpu.join("txt_ctx.hdf5")).unwrap().preload().unwrap();
        let mut err = 0f32;
        for (x, y) in a.iter().zip(&b) {
            for v in ctx_store::View::ALL {
                for (p, q) in x.view(v).scores.iter().zip(&y.view(v).scores) {
                    err = err.max((p - q).abs());
                }
            }
        }
        let (compared, total) = separated_texts_equal(&a, &b, 2.0 * err + 1e-6);
        eprintln!(
            "{label}: txt_ctx score error {err:.2e}; texts equal at {compared}/{total} ranks"
        );
        assert!(err < 50.0 * key_tol as f32, "{label}: score error {err}");
        assert!(compared * 2 > total, "{label}: only {compared} of {total} ranks compared");
    }
}

/// `retrieve-captions --vis-out`: the visual context from the same decoding and forward pass.
#[test]
fn one_pass_vis_out_equals_encode_images_resumes_and_shards() {
    let s = Sample::new();
    let whole = full_run(&s, "whole");
    let db = whole.join("caption_db.hdf5");
    let one_pass = |dir: &str, extra: &[&str]| {
        let (txt, vis) =
            (s.out(&format!("{dir}/txt_ctx.hdf5")), s.out(&format!("{dir}/vis_ctx.hdf5")));
        let mut args = s.args("retrieve-captions", &txt, &db);
        args.extend(["--vis-out".into(), vis.display().to_string()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        (args, txt, vis)
    };
    let (args, txt, vis) = one_pass("one", &[]);
    ok("retrieve-captions", &args);
    // The text context is the two-step run's; the visual context encode-images' file: same ids,
    // provenance and schema, values within cosine 0.999999 (other batches in the forward pass).
    assert_eq!(content(&txt), content(&whole.join("txt_ctx.hdf5")));
    let want = VisCtxReader::open(whole.join("vis_ctx.hdf5")).unwrap();
    let got = VisCtxReader::open(&vis).unwrap();
    assert_eq!(got.provenance().unwrap(), want.provenance().unwrap());
    let (a, b) = (got.preload().unwrap(), want.preload().unwrap());
    assert_eq!(a.ids, b.ids);
    assert!(!a.ids.is_empty());
    for i in 0..a.ids.len() {
        let c = cosine(a.row(i), b.row(i));
        assert!(c >= 0.999999, "image {}: cosine {c}", a.ids[i]);
    }
    assert_eq!(schema(&vis), schema(&whole.join("vis_ctx.hdf5")));
    // Normalised by the model's device from 8-bit levels (`--normalise device`, the default on
    // CUDA; here on the CPU's libtorch): the same files.
    let (args, t, v) = one_pass("levels", &["--normalise", "device"]);
    ok("retrieve-captions", &args);
    assert_eq!(content(&t), content(&txt), "--normalise device: txt");
    assert_eq!(content(&v), content(&vis), "--normalise device: vis");
    // Crops resized by libtorch's integer operations (`--resize device`, the default on CUDA;
    // here on the CPU's libtorch): the same files, from retrieve-captions and encode-images.
    let (args, t, v) = one_pass("resized", &["--resize", "device"]);
    ok("retrieve-captions", &args);
    assert_eq!(content(&t), content(&txt), "--resize device: txt");
    assert_eq!(content(&v), content(&vis), "--resize device: vis");
    let resized = s.out("resized/encode-images.hdf5");
    let mut args = s.args("encode-images", &resized, &db);
    args.extend(["--resize".into(), "device".into()]);
    ok("encode-images", &args);
    assert_eq!(content(&resized), content(&whole.join("vis_ctx.hdf5")), "--resize device");
    let mut args = s.args("encode-images", &s.out("refused.hdf5"), &db);
    args.extend(["--resize", "device", "--normalise", "host"].map(String::from));
    let o = run("encode-images", &args, &[]);
    assert!(!o.status.success(), "--resize device with --normalise host is refused");

    // encode-images takes the file as its own: nothing left to do.
    let before = content(&vis);
    ok("encode-images", &s.args("encode-images", &vis, &db));
    assert_eq!(content(&vis), before);

    // Killed after 1 and 2 written batches (the visual context may be ahead), then resumed: both
    // files equal the uninterrupted run's.
    let (want_txt, want_vis) = (content(&txt), content(&vis));
    for after in ["1", "2"] {
        let (args, t, v) = one_pass(&format!("killed-{after}"), &[]);
        let o = run("retrieve-captions", &args, &[("XCTX_ABORT_AFTER_BATCHES", after)]);
        assert!(!o.status.success(), "not stopped after {after} batches");
        ok("retrieve-captions", &args);
        assert_eq!(content(&t), want_txt, "killed after {after}: txt");
        assert_eq!(content(&v), want_vis, "killed after {after}: vis");
    }
    // One file lost: the other is kept, the lost one rebuilt.
    let (args, t, v) = one_pass("lost", &[]);
    ok("retrieve-captions", &args);
    std::fs::remove_file(&v).unwrap();
    ok("retrieve-captions", &args);
    assert_eq!(content(&t), want_txt);
    assert_eq!(content(&v), want_vis);

    // Four shards of both files merge to the single run's.
    let mut parts = (Vec::new(), Vec::new());
    for i in 0..4 {
        let shard = format!("{i}/4");
        let (args, t, v) = one_pass("sharded", &["--shard", &shard]);
        ok("retrieve-captions", &args);
        let name = |p: &Path, stem: &str| {
            p.with_file_name(format!("{stem}.shard-{i}-of-4.hdf5")).display().to_string()
        };
        parts.0.push(name(&t, "txt_ctx"));
        parts.1.push(name(&v, "vis_ctx"));
    }
    for (merged, parts, want) in [
        (s.out("sharded/txt_ctx.hdf5"), parts.0, &want_txt),
        (s.out("sharded/vis_ctx.hdf5"), parts.1, &want_vis),
    ] {
        let mut args = vec![merged.display().to_string()];
        args.extend(parts);
        ok("ctx-merge", &args);
        assert_eq!(&content(&merged), want, "{}", merged.display());
    }

    // The same file for both outputs is refused.
    let (mut args, t, _) = one_pass("same", &[]);
    let n = args.len();
    let at = args.iter().position(|a| a == "--vis-out").unwrap();
    args[at + 1] = t.display().to_string();
    let o = run("retrieve-captions", &args[..n], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("same file"));
}

/// SIGTERM (Slurm's preemption) stops a step between batches: what was handed on is written, the
/// step says so and exits non-zero, and the same command continues to the uninterrupted result.
#[test]
fn sigterm_stops_between_batches_and_the_run_continues() {
    let s = Sample::new();
    let whole = full_run(&s, "whole");
    let db = whole.join("caption_db.hdf5");
    for (step, file) in [("encode-images", "vis_ctx.hdf5"), ("retrieve-captions", "txt_ctx.hdf5")] {
        let out = s.out(&format!("sigterm/{file}"));
        let args = s.args(step, &out, &db);
        let pause = s.out(&format!("sigterm/{step}.paused"));
        let mut child = Command::new(bin(step))
            .args(&args)
            .env("XCTX_PAUSE_AFTER_BATCHES", "1")
            .env("XCTX_PAUSE_FILE", &pause)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        while !pause.exists() {
            assert!(t.elapsed().as_secs() < 120, "{step} never reached its first batch");
            assert!(child.try_wait().unwrap().is_none(), "{step} ended before its pause");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(term.unwrap().success());
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::remove_file(&pause).unwrap();
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{step} did not report the stop");
        assert!(err.contains("stopped by a signal"), "{step}: {err}");
        // One batch of two images was handed on before the stop: it, and nothing after it.
        let ids = match step {
            "encode-images" => VisCtxReader::open(&out).unwrap().ids().unwrap(),
            _ => TxtCtxReader::open(&out).unwrap().ids().unwrap(),
        };
        assert_eq!(ids.len(), 2, "{step}: {ids:?}");
        ok(step, &args);
        assert_eq!(content(&out), content(&whole.join(file)), "{step} after the stop, resumed");
    }
}

/// A field `key=value` of a log line, as a number.
fn field(line: &str, key: &str) -> f64 {
    let at = line.find(&format!(" {key}=")).unwrap_or_else(|| panic!("{key} in {line}"));
    let rest = &line[at + key.len() + 2..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// The first line of `log` that holds `what`.
fn log_line<'a>(log: &'a str, what: &str) -> &'a str {
    log.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no {what:?} logged: {log}"))
}

/// A search slower than the stages before it (`XCTX_SEARCH_DELAY_MS`: 4 s a search, where a
/// debug build decodes an image in about 0.75 s), with gathering switched on for the CPU (`XCTX_GATHER_ROWS`, 3 batches of one image's 15 queries): the batches that
/// wait for it are searched together, up to the gathered size, and the file is a plain run's.
/// Without the switch the CPU searches batch by batch.
#[test]
fn batches_waiting_for_a_slow_search_are_gathered() {
    let s = Sample::new();
    let dir = full_run(&s, "plain");
    let db = dir.join("caption_db.hdf5");
    let rows = crops::INPUTS_PER_IMAGE;
    for (gather, delay) in [(Some(3 * rows), "4000"), (None, "0")] {
        let txt = s.out(&format!("gathered-{gather:?}/txt_ctx.hdf5"));
        let mut args = with_batch_size(s.args("retrieve-captions", &txt, &db), 1);
        args.retain(|a| a != "--quiet");
        args.push("--measure-search".into());
        let rows_env = gather.map(|g| g.to_string()).unwrap_or_default();
        let mut env = vec![("XCTX_SEARCH_DELAY_MS", delay)];
        if gather.is_some() {
            env.push(("XCTX_GATHER_ROWS", rows_env.as_str()));
        }
        let o = run("retrieve-captions", &args, &env);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        let images = TxtCtxReader::open(&txt).unwrap().ids().unwrap().len();
        let measured = log_line(&err, "searches over their bare products");
        let sizes = log_line(&err, "search calls: rows");
        assert_eq!(field(measured, "queries") as usize, images * rows, "{measured}");
        let (calls, largest) = (field(measured, "calls") as usize, field(sizes, "largest_call"));
        match gather {
            Some(g) => {
                // The first search takes the first batch alone; the others wait and are taken
                // three at a time.
                assert_eq!(largest as usize, g, "{sizes}");
                assert!(calls <= images.div_ceil(3) + 1, "{calls} searches for {images}: {err}");
            }
            None => assert_eq!((calls, largest as usize), (images, rows), "{measured} {sizes}"),
        }
        assert_eq!(content(&txt), content(&dir.join("txt_ctx.hdf5")));
    }
}

/// `--measure-search` logs the searches' time over the bare products of the same searches,
/// with every query of the run counted, and leaves the file as a run without it.
#[test]
fn measure_search_logs_the_searches_over_their_bare_products() {
    let s = Sample::new();
    let dir = full_run(&s, "plain");
    let db = dir.join("caption_db.hdf5");
    let txt = s.out("measured/txt_ctx.hdf5");
    let mut args = s.args("retrieve-captions", &txt, &db);
    args.retain(|a| a != "--quiet");
    args.push("--measure-search".into());
    let o = run("retrieve-captions", &args, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("searches over their bare products"))
        .unwrap_or_else(|| panic!("no measurement logged: {err}"));
    let value = |key: &str| -> f64 {
        let at = line.find(&format!(" {key}=")).unwrap_or_else(|| panic!("{key} in {line}"));
        let rest = &line[at + key.len() + 2..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let images = TxtCtxReader::open(&txt).unwrap().ids().unwrap().len();
    assert!(images > 0);
    assert_eq!(value("queries") as usize, images * crops::INPUTS_PER_IMAGE, "{line}");
    assert!(value("calls") >= 1.0);
    for key in ["search_s", "bare_products_s", "over_bare"] {
        let v = value(key);
        assert!(v.is_finite() && v > 0.0, "{key} = {v}: {line}");
    }
    assert_eq!(content(&txt), content(&dir.join("txt_ctx.hdf5")));
}
