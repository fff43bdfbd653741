//! `retrieve-captions --views whole`: the whole image's view alone (SmallCap's retrieval), as the
//! default run's `whole`; the file reads, checks, resumes and merges; h5py sees `whole` only;
//! a resume with other views is refused.

mod steps;

use std::path::Path;

use ctx_store::{TxtCtxReader, TxtEntry, ViewEntry};
use steps::*;
use test_support::run_python_code;

fn txt(path: &Path) -> Vec<TxtEntry> {
    TxtCtxReader::open(path).unwrap().preload().unwrap()
}

/// `entries` with their crops' views dropped.
fn whole_only(entries: &[TxtEntry]) -> Vec<TxtEntry> {
    entries
        .iter()
        .map(|e| TxtEntry {
            five: ViewEntry::absent(e.whole.d),
            nine: ViewEntry::absent(e.whole.d),
            ..e.clone()
        })
        .collect()
}

fn with_views(mut args: Vec<String>, views: &str) -> Vec<String> {
    args.extend(["--views".into(), views.into()]);
    args
}

#[test]
fn whole_view_only_reads_checks_resumes_and_merges() {
    let s = Sample::new();
    let full = full_run(&s, "coco");
    let db = full.join("caption_db.hdf5");
    let want = whole_only(&txt(&full.join("txt_ctx.hdf5")));

    let out = s.out("whole/txt_ctx.hdf5");
    let args = with_views(s.args("retrieve-captions", &out, &db), "whole");
    ok("retrieve-captions", &args);
    let got = txt(&out);
    assert!(got.iter().all(|e| e.five.is_absent() && e.nine.is_absent() && e.whole.k == 5));
    assert!(max_score_error(&got, &want) < 1e-4, "scores: {}", max_score_error(&got, &want));
    let (compared, _) = separated_texts_equal(&got, &want, 1e-4);
    assert!(compared > 0);
    // The readers without and through the HDF5 library agree.
    let r = TxtCtxReader::open(&out).unwrap();
    let ids = r.ids().unwrap();
    assert_eq!(r.preload_through_hdf5(&ids).unwrap(), got);
    assert_eq!(r.views(ids[0]).unwrap(), vec![ctx_store::View::Whole]);
    assert!(r.view(ids[0], ctx_store::View::Five, None, None).is_err());

    // h5py: each image holds `whole` alone, with the original's shapes.
    let code = r#"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    for name in f:
        assert list(f[name]) == ["whole"], (name, list(f[name]))
        assert f[name]["whole/features"].shape[0] == 5
        assert f[name]["whole/texts"].shape == (5,)
    print(len(f))
"#;
    run_python_code(code, &[&out]);

    // --check and the inspector read it.
    ok("ctx-inspect", &[out.display().to_string(), "--check".into()]);
    ok("ctx-inspect", &[out.display().to_string(), "--id".into(), ids[0].to_string()]);

    // Killed after a batch, the same command resumes to the same file.
    let killed = s.out("killed/txt_ctx.hdf5");
    let args = with_views(s.args("retrieve-captions", &killed, &db), "whole");
    let o = run("retrieve-captions", &args, &[("XCTX_ABORT_AFTER_BATCHES", "1")]);
    assert!(!o.status.success());
    assert!(TxtCtxReader::open(&killed).unwrap().ids().unwrap().len() < ids.len());
    ok("retrieve-captions", &args);
    assert_eq!(txt(&killed), got);

    // Resuming it with every view is refused, naming the views; the file stays.
    let o = run("retrieve-captions", &s.args("retrieve-captions", &killed, &db), &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("views"), "{o:?}");
    assert_eq!(txt(&killed), got);

    // Two shards merged give the single run's file.
    let sharded = s.out("sharded/txt_ctx.hdf5");
    let mut parts = vec![sharded.display().to_string()];
    for i in 0..2 {
        let mut args = with_views(s.args("retrieve-captions", &sharded, &db), "whole");
        args.extend(["--shard".into(), format!("{i}/2")]);
        ok("retrieve-captions", &args);
        let part = sharded.with_file_name(format!("txt_ctx.shard-{i}-of-2.hdf5"));
        parts.push(part.display().to_string());
    }
    ok("ctx-merge", &parts);
    assert_eq!(txt(&sharded), got);
    ok("ctx-inspect", &[sharded.display().to_string(), "--check".into()]);

    // JSON Lines: the whole view alone.
    let json = s.out("whole/txt_ctx.jsonl");
    let mut args = with_views(s.args("retrieve-captions", &json, &db), "whole");
    args.extend(["--format".into(), "json".into()]);
    ok("retrieve-captions", &args);
    let text = std::fs::read_to_string(&json).unwrap();
    let lines: Vec<serde_json::Value> =
        text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), ids.len());
    for line in &lines {
        let (_, views) = line.as_object().unwrap().iter().next().unwrap();
        let names: Vec<&String> = views.as_object().unwrap().keys().collect();
        assert_eq!(names, ["whole"]);
    }
}

#[test]
fn other_view_sets_and_haav_are_refused() {
    let s = Sample::new();
    let db = s.out("none/caption_db.hdf5");
    let out = s.out("v/txt_ctx.hdf5");
    for views in ["five", "whole,five"] {
        let o = run(
            "retrieve-captions",
            &with_views(s.args("retrieve-captions", &out, &db), views),
            &[],
        );
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("whole,five,nine or whole"));
    }
    let h = Sample::haav();
    let o =
        run("retrieve-captions", &with_views(h.args("retrieve-captions", &out, &db), "whole"), &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("HAAV"), "{o:?}");
    assert!(!out.exists());
}
