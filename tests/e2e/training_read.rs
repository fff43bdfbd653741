//! The user story of a Rust training codebase: build the context with the pipeline's library
//! entry points (the same `run` functions the binaries call), then preload it and batch it into
//! tensors with `ctx-store`'s `tch` feature, as the M2 training code does in Python.

use clap::Parser;
use ctx_store::{TxtCtxReader, VisCtxReader, txt_batch, vis_batch};
use test_support::{run_python, tiny_clip, workspace_root};
use xctx_bins::pipeline::{encode_captions, encode_images, retrieve};

#[test]
fn pipeline_output_batches_like_the_training_code_expects() {
    let dir = tempfile::tempdir().unwrap();
    run_python(&workspace_root().join("scripts/make_sample.py"), &[&dir.path()]);
    let model = tiny_clip("a");
    let p = |s: &str| dir.path().join(s).display().to_string();
    let m = model.display().to_string();
    let args = |step: &str, rest: &[&str]| {
        let mut v: Vec<String> = vec![step.into()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v.extend(["--model".into(), m.clone(), "--device".into(), "cpu".into(), "--quiet".into()]);
        v
    };
    let (coco, vg) = (p("coco"), p("vg"));
    let (vis, db, txt) = (p("o/vis.hdf5"), p("o/db.hdf5"), p("o/txt.hdf5"));
    let a = args("encode-images", &["--dataset-root", &coco, "--out", &vis]);
    encode_images::run(encode_images::Args::parse_from(a)).unwrap();
    let a = args("encode-captions", &["--ann-dir", &vg, "--out", &db]);
    encode_captions::run(encode_captions::Args::parse_from(a)).unwrap();
    let a = args(
        "retrieve-captions",
        &["--dataset-root", &coco, "--caption-db", &db, "--k", "8", "--out", &txt],
    );
    retrieve::run(retrieve::Args::parse_from(a)).unwrap();

    let vis = VisCtxReader::open(&vis).unwrap().preload().unwrap();
    assert_eq!(vis.ids, vec![9, 25, 30, 42, 73, 74, 531912]);
    let v = vis_batch(&vis, &[0, 6], tch::Device::Cpu);
    assert_eq!(v.size(), [2, 32]);

    let txt = TxtCtxReader::open(&txt).unwrap().preload().unwrap();
    let refs: Vec<_> = txt.iter().take(3).collect();
    let b = txt_batch(&refs, 4, tch::Device::Cpu).unwrap();
    assert_eq!(b.whole.size(), [3, 4, 32]);
    assert_eq!(b.five.size(), [3, 20, 32]);
    assert_eq!(b.nine.size(), [3, 36, 32]);
    assert_eq!(b.nine_crop_ids.size(), [3, 36]);
    // The batch holds the stored features of the retrieved phrases, best first.
    let first: Vec<f32> = Vec::try_from(b.whole.get(0).get(0)).unwrap();
    assert_eq!(first, txt[0].whole.features[..32]);
    let s = &txt[0].nine.scores[..8];
    assert!(s.windows(2).all(|w| w[0] >= w[1]), "{s:?}");
}
