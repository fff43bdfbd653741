//! What the step tests share: the bundled sample with its tiny checkpoints, running the steps'
//! binaries, and comparing their files. Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ctx_store::{CaptionDb, TxtCtxReader, VisCtxReader};
use test_support::{run_python, run_python_json, tiny_clip, workspace_root};

pub(crate) struct Sample {
    pub(crate) dir: tempfile::TempDir,
    /// The checkpoint of every step (HAAV's profile: of captions and retrieval).
    pub(crate) model: PathBuf,
    /// HAAV's profile: encode-images' checkpoint (HAAV encodes images with ViT-B/32, captions
    /// and queries with ViT-L/14).
    pub(crate) vis_model: PathBuf,
    /// `--profile` of every step.
    pub(crate) profile: &'static str,
}

impl Sample {
    /// The sample with the B/32-shaped tiny checkpoint, original profile.
    pub(crate) fn new() -> Sample {
        let dir = tempfile::tempdir().unwrap();
        run_python(&workspace_root().join("scripts/make_sample.py"), &[&dir.path()]);
        Sample { dir, model: tiny_clip("a"), vis_model: tiny_clip("a"), profile: "original" }
    }

    /// The sample in HAAV's profile: images with the B/32-shaped tiny checkpoint, captions and
    /// queries with the L/14-shaped one.
    pub(crate) fn haav() -> Sample {
        Sample { model: tiny_clip("l14"), profile: "haav", ..Sample::new() }
    }
    pub(crate) fn coco(&self) -> PathBuf {
        self.dir.path().join("coco")
    }
    pub(crate) fn vg(&self) -> PathBuf {
        self.dir.path().join("vg")
    }
    pub(crate) fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }
    /// Step arguments writing to `out`.
    pub(crate) fn args(&self, step: &str, out: &Path, db: &Path) -> Vec<String> {
        let s = |p: &Path| p.display().to_string();
        let mut a: Vec<String> = match step {
            "encode-images" => {
                vec!["--dataset-root".into(), s(&self.coco()), "--batch-size".into(), "2".into()]
            }
            "encode-captions" => {
                vec!["--ann-dir".into(), s(&self.vg()), "--batch-size".into(), "8".into()]
            }
            "retrieve-captions" => vec![
                "--dataset-root".into(),
                s(&self.coco()),
                "--caption-db".into(),
                s(db),
                "--batch-size".into(),
                "2".into(),
                "--k".into(),
                "5".into(),
            ],
            _ => unreachable!(),
        };
        let model = if step == "encode-images" { &self.vis_model } else { &self.model };
        a.extend([
            "--profile".into(),
            self.profile.into(),
            "--model".into(),
            s(model),
            "--out".into(),
            s(out),
            "--device".into(),
            "cpu".into(),
        ]);
        if step != "encode-captions" {
            a.extend(["--num-workers".into(), "2".into()]);
        }
        a.push("--quiet".into());
        a
    }
}

/// The step's binary (`XCTX_BIN_DIR` overrides cargo's path where the test binary runs on another
/// machine: the GPU check, `benches/gpu_check.sh`).
pub(crate) fn bin(step: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("XCTX_BIN_DIR") {
        return Path::new(&dir).join(step);
    }
    PathBuf::from(match step {
        "encode-images" => env!("CARGO_BIN_EXE_encode-images"),
        "encode-captions" => env!("CARGO_BIN_EXE_encode-captions"),
        "retrieve-captions" => env!("CARGO_BIN_EXE_retrieve-captions"),
        "ctx-merge" => env!("CARGO_BIN_EXE_ctx-merge"),
        "ctx-inspect" => env!("CARGO_BIN_EXE_ctx-inspect"),
        "ctx-convert" => env!("CARGO_BIN_EXE_ctx-convert"),
        _ => unreachable!(),
    })
}

pub(crate) fn run(step: &str, args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin(step));
    cmd.args(args).env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub(crate) fn ok(step: &str, args: &[String]) {
    let o = run(step, args, &[]);
    assert!(o.status.success(), "{step} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Everything a reader sees in a file (entries and provenance), to compare two runs.
pub(crate) fn content(path: &Path) -> String {
    match ctx_store::detect(path).unwrap() {
        ctx_store::FileKind::VisCtx => {
            let r = VisCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        ctx_store::FileKind::TxtCtx => {
            let r = TxtCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        ctx_store::FileKind::CaptionDb(l) => {
            let r = CaptionDb::open(path).unwrap();
            format!("{l:?} {} {:?} {:?}", r.batches(), r.load().unwrap(), r.provenance().unwrap())
        }
        ctx_store::FileKind::HaavVisCtx => {
            let r = ctx_store::HaavVisCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        ctx_store::FileKind::HaavTxtCtx => {
            let r = ctx_store::HaavTxtCtxReader::open(path).unwrap();
            format!("{:?} {:?}", r.preload().unwrap(), r.provenance().unwrap())
        }
        ctx_store::FileKind::HaavCaptionDb => {
            let r = ctx_store::HaavCaptionDb::open(path).unwrap();
            format!("{} {:?} {:?}", r.batches(), r.load().unwrap(), r.provenance().unwrap())
        }
    }
}

pub(crate) const STEPS: [(&str, &str); 3] = [
    ("encode-images", "vis_ctx.hdf5"),
    ("encode-captions", "caption_db.hdf5"),
    ("retrieve-captions", "txt_ctx.hdf5"),
];

/// One uninterrupted run of the three steps into `dir`.
pub(crate) fn full_run(s: &Sample, dir: &str) -> PathBuf {
    let db = s.out(&format!("{dir}/caption_db.hdf5"));
    for (step, file) in STEPS {
        ok(step, &s.args(step, &s.out(&format!("{dir}/{file}")), &db));
    }
    s.out(dir)
}

pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

/// Schema of an h5py dump: everything but values and our provenance attributes.
pub(crate) fn schema(path: &Path) -> serde_json::Value {
    let dump = run_python_json(
        &workspace_root().join("crates/ctx-store/tests/h5py_tool.py"),
        &[&"dump", &path],
    );
    let mut out = serde_json::Map::new();
    for (name, obj) in dump.as_object().unwrap() {
        let mut o = obj.clone();
        let m = o.as_object_mut().unwrap();
        m.remove("value");
        if let Some(a) = m.get_mut("attrs").and_then(|a| a.as_object_mut()) {
            a.retain(|k, _| !k.starts_with("xctx_"));
            for v in a.values_mut() {
                v.as_object_mut().unwrap().remove("value");
            }
        }
        out.insert(name.clone(), o);
    }
    serde_json::Value::Object(out)
}

/// Asserts that `ours` has `theirs`' texts at every rank whose score (in `theirs`) is more than
/// `tol` from its neighbours' (closer ones may swap under a different score error); returns
/// (ranks compared, ranks in all).
pub(crate) fn separated_texts_equal(
    ours: &[ctx_store::TxtEntry],
    theirs: &[ctx_store::TxtEntry],
    tol: f32,
) -> (usize, usize) {
    assert_eq!(
        ours.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        theirs.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    let (mut compared, mut total) = (0, 0);
    for (x, y) in ours.iter().zip(theirs) {
        for v in ctx_store::View::ALL {
            let (ex, ey) = (x.view(v), y.view(v));
            for c in 0..ey.crops {
                let s = &ey.scores[c * ey.k..(c + 1) * ey.k];
                for j in 0..ey.k {
                    total += 1;
                    let apart = |o: usize| (s[j] - s[o]).abs() > tol;
                    if (j == 0 || apart(j - 1)) && (j + 1 == ey.k || apart(j + 1)) {
                        compared += 1;
                        let r = c * ey.k + j;
                        assert_eq!(
                            ex.texts[r], ey.texts[r],
                            "image {} {v:?} crop {c} rank {j}",
                            x.id
                        );
                    }
                }
            }
        }
    }
    (compared, total)
}

/// The largest difference of two runs' scores at the same image, view, crop and rank.
pub(crate) fn max_score_error(a: &[ctx_store::TxtEntry], b: &[ctx_store::TxtEntry]) -> f32 {
    assert_eq!(a.len(), b.len(), "entries");
    let mut err = 0f32;
    for (x, y) in a.iter().zip(b) {
        for v in ctx_store::View::ALL {
            let (p, q) = (&x.view(v).scores, &y.view(v).scores);
            assert_eq!(p.len(), q.len(), "image {} {v:?}: scores", x.id);
            for (p, q) in p.iter().zip(q) {
                let d = (p - q).abs();
                if d.is_nan() {
                    return f32::INFINITY;
                }
                err = err.max(d);
            }
        }
    }
    err
}

/// `args` with `--batch-size n`.
pub(crate) fn with_batch_size(mut args: Vec<String>, n: usize) -> Vec<String> {
    let at = args.iter().position(|a| a == "--batch-size").unwrap();
    args[at + 1] = n.to_string();
    args
}
