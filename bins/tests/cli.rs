//! `ctx-inspect` as a user runs it, on files h5py writes with the original's calls, compared with
//! what h5py itself returns for the README's snippets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use test_support::run_python_code;

fn inspect(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ctx-inspect"));
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A txt_ctx (3 images, k = 6, d = 5), a vis_ctx (fdim 8) and an original caption db, written
/// by h5py exactly as the original pipeline writes them.
fn fixtures(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let code = r#"
import sys, h5py, numpy as np
rng = np.random.default_rng(0)
words = ["white dog", "man riding horse", "café ☕", "red car", "", "tree"]
with h5py.File(sys.argv[1], "w") as f:
    for i in (531912, 9, 42):
        g = f.create_group(str(i))
        for view, n in (("whole", 1), ("five", 5), ("nine", 9)):
            shape = (6,) if view == "whole" else (n, 6)
            vg = g.create_group(view)
            vg.create_dataset("features", data=rng.standard_normal(shape + (5,)).astype("f4"))
            vg.create_dataset("scores", data=-np.sort(-rng.random(shape).astype("f4"), axis=-1))
            texts = [words[j % 6] + f" {j}" for j in range(int(np.prod(shape)))]
            if view != "whole":
                texts = [texts[c * 6:(c + 1) * 6] for c in range(n)]
            vg.create_dataset("texts", data=texts)
with h5py.File(sys.argv[2], "w") as f:
    f.attrs["fdim"] = 8
    for i in (531912, 9):
        f.create_dataset(str(i), data=rng.standard_normal(8).astype("f4"))
with h5py.File(sys.argv[3], "w") as f:
    for b in range(2):
        g = f.create_group(str(b))
        k = rng.standard_normal((4, 3)).astype("f4")
        g.create_dataset("keys", data=k / np.linalg.norm(k, axis=1, keepdims=True), compression="gzip")
        g.create_dataset("features", data=rng.standard_normal((4, 3)).astype("f4"), compression="gzip")
        g.create_dataset("captions", data=[f"phrase {b} {j}" for j in range(4)], compression="gzip")
"#;
    let (t, v, c) =
        (dir.join("txt_ctx.hdf5"), dir.join("vis_ctx.hdf5"), dir.join("caption_db.hdf5"));
    run_python_code(code, &[&t, &v, &c]);
    (t, v, c)
}

/// What h5py returns for the README's snippet, as JSON.
fn h5py_snippet(path: &Path, expr: &str) -> Value {
    let code = format!(
        "import sys, json, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'r') as f:\n    v = {expr}\n    \
         print(json.dumps(np.vectorize(lambda b: b.decode('utf-8'), otypes=[object])(v).tolist() if v.dtype == object else v.astype(float).tolist()))"
    );
    serde_json::from_str(&run_python_code(&code, &[&path])).unwrap()
}

fn floats_equal(got: &Value, want: &Value) {
    match (got, want) {
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).for_each(|(x, y)| floats_equal(x, y));
        }
        // Our JSON prints the float32; h5py's is the same float32 widened to f64.
        (Value::Number(a), Value::Number(b)) => {
            assert_eq!(a.as_f64().unwrap() as f32, b.as_f64().unwrap() as f32)
        }
        _ => assert_eq!(got, want),
    }
}

#[test]
fn entry_json_equals_h5py_for_the_readme_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let (txt, vis, cap) = fixtures(dir.path());

    let got = stdout_json(&inspect(&[
        &txt, &"--id", &"531912", &"--view", &"five", &"--crop", &"2", &"--top-k", &"4", &"--json",
    ]));
    floats_equal(&got["features"], &h5py_snippet(&txt, "f['531912/five/features'][2, :4]"));
    floats_equal(&got["scores"], &h5py_snippet(&txt, "f['531912/five/scores'][2, :4]"));
    assert_eq!(got["texts"], h5py_snippet(&txt, "f['531912/five/texts'][2, :4]"));
    assert_eq!(got["features"].as_array().unwrap().len(), 4);

    // A whole view in full, nested as the datasets are.
    let got = stdout_json(&inspect(&[&txt, &"--id", &"9", &"--view", &"nine", &"--json"]));
    floats_equal(&got["features"], &h5py_snippet(&txt, "f['9/nine/features'][()]"));
    assert_eq!(got["texts"], h5py_snippet(&txt, "f['9/nine/texts'][()]"));
    // All three views when --view is absent.
    let got = stdout_json(&inspect(&[&txt, &"--id", &"42", &"--json"]));
    assert_eq!(got.as_object().unwrap().len(), 3);
    floats_equal(&got["whole"]["scores"], &h5py_snippet(&txt, "f['42/whole/scores'][()]"));

    let got = stdout_json(&inspect(&[&vis, &"--id", &"531912", &"--json"]));
    floats_equal(&got["features"], &h5py_snippet(&vis, "f['531912'][:]"));

    let got = stdout_json(&inspect(&[&cap, &"--index", &"5", &"--json"]));
    assert_eq!(got["caption"], json!("phrase 1 1"));
    floats_equal(&got["key"], &h5py_snippet(&cap, "f['1/keys'][1]"));
}

#[test]
fn summaries_name_kind_count_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (txt, vis, cap) = fixtures(dir.path());
    let s = stdout_json(&inspect(&[&txt, &"--json"]));
    assert_eq!(
        (s["kind"].clone(), s["images"].clone(), s["k"].clone(), s["d"].clone()),
        (json!("txt_ctx"), json!(3), json!(6), json!(5))
    );
    assert_eq!((s["first_id"].clone(), s["last_id"].clone()), (json!(9), json!(531912)));
    let s = stdout_json(&inspect(&[&vis, &"--json"]));
    assert_eq!(
        (s["kind"].clone(), s["images"].clone(), s["fdim"].clone()),
        (json!("vis_ctx"), json!(2), json!(8))
    );
    let s = stdout_json(&inspect(&[&cap, &"--json"]));
    assert_eq!(
        (s["captions"].clone(), s["key_dim"].clone(), s["batches"].clone()),
        (json!(8), json!(3), json!(2))
    );

    let text = inspect(&[&txt]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("txt_ctx") && text.contains("images") && text.contains("k:          6"),
        "{text}"
    );

    let out = inspect(&[&txt, &"--check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 violations"));
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.hdf5");
    let out = inspect(&[&missing]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing.hdf5") && err.contains("no such file"), "{err}");

    let (txt, _, _) = fixtures(dir.path());
    let out = inspect(&[&txt, &"--id", &"1234"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("txt_ctx.hdf5") && err.contains("\"1234\""), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A truncated file: HDF5's reason quoted once, on one line.
    let bytes = std::fs::read(&txt).unwrap();
    let cut = dir.path().join("cut.hdf5");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = inspect(&[&cut]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cut.hdf5: truncated HDF5 file"), "{err}");
    assert_eq!(err.matches("truncated file").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = inspect(&[&txt, &"--id", &"9", &"--view", &"five", &"--crop", &"7"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));

    // --check lists every violation and exits 1.
    let bad = dir.path().join("bad.hdf5");
    run_python_code(
        "import sys, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'w') as f:\n    f.attrs['fdim'] = 4\n    f['1'] = np.zeros(4, 'f8')\n    f['2'] = np.zeros(3, 'f4')\n    f['3'] = np.zeros(4, 'f4')\n",
        &[&bad],
    );
    let out = inspect(&[&bad, &"--check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(": 1: ") && text.contains(": 2: ") && !text.contains(": 3: "), "{text}");
    assert!(text.contains("2 violations"), "{text}");
}

/// A damaged file (a zeroed block inside the global heap of its texts, as an interrupted copy
/// leaves it, which HDF5 itself loops on) is reported as damaged, not as violations, and ends.
#[test]
fn check_reports_a_damaged_file_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (txt, _, _) = fixtures(dir.path());
    let mut bytes = std::fs::read(&txt).unwrap();
    let heap = (0..bytes.len() - 8).step_by(8).find(|&at| &bytes[at..at + 5] == b"GCOL\x01");
    let heap = heap.expect("a global heap collection");
    bytes[heap + 32..heap + 544].fill(0);
    let damaged = dir.path().join("damaged.hdf5");
    std::fs::write(&damaged, &bytes).unwrap();

    let out = inspect(&[&damaged, &"--check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("damaged.hdf5: damaged file"), "{text}");
    assert!(text.contains(&format!("at byte {heap}")), "{text}");
    assert!(!text.contains("violations"), "{text}");

    let out = inspect(&[&damaged, &"--check", &"--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["damaged"].as_str().unwrap().contains("damaged file"), "{v}");

    // Reading the texts of that image ends in the same error.
    let out = inspect(&[&damaged, &"--id", &"531912"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("damaged file") && err.lines().count() == 1, "{err}");
}

#[test]
fn doctor_runs_without_environment() {
    // The rpath lets the binary find libtorch with no LD_LIBRARY_PATH.
    let out =
        Command::new(env!("CARGO_BIN_EXE_xctx-doctor")).arg("--json").env_clear().output().unwrap();
    let v = stdout_json(&out);
    assert!(v["cuda_devices"].is_number() && v["hdf5_version"].is_string(), "{v}");
}

#[test]
fn sizes_out_of_range_are_one_line_errors_not_aborts() {
    // fdim 2^40: reading an image would allocate 4 TiB; a k of 2^20 declared, never written.
    let dir = tempfile::tempdir().unwrap();
    let (vis, txt) = (dir.path().join("vis.hdf5"), dir.path().join("txt.hdf5"));
    run_python_code(
        "import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.attrs['fdim'] = 2**40
    f['1'] = np.zeros(4, 'f4')
with h5py.File(sys.argv[2], 'w') as f:
    for view in ('whole', 'five', 'nine'):
        shape = (2**20,) if view == 'whole' else (5 if view == 'five' else 9, 2**20)
        g = f.create_group('1/' + view)
        g.create_dataset('features', shape=shape + (8,), dtype='f4')
        g.create_dataset('scores', shape=shape, dtype='f4')
        g.create_dataset('texts', shape=shape, dtype=h5py.string_dtype())
",
        &[&vis, &txt],
    );
    for (file, args, object) in [
        (&vis, vec!["--id", "1"], "/@fdim"),
        (&txt, vec!["--id", "1", "--json"], "1/whole/features"),
        (&txt, vec![], "1/whole/features"),
    ] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![file];
        all.extend(args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let out = inspect(&all);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&file.display().to_string()) && err.contains(object), "{err}");
        assert!(err.contains("outside 0..=65536"), "{err}");
    }
}

/// HAAV's three files (k = 2: 16 / 4 / 2 texts per crop, d = 5; 3 tokens of width 4, pooled 2),
/// written by h5py with the calls of HAAV's `ctx/` scripts (gzip everywhere, root `fdim` on the
/// txt_ctx, `fdim_pooled` and `fdim_grid` on the vis_ctx, `values` in the caption database).
fn haav_fixtures(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let code = r#"
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
words = ["white dog", "café ☕", "red car", "", "tree"]
with h5py.File(sys.argv[1], "a") as f:
    for i in (531912, 9, 42):
        g1 = f.create_group(str(i))
        f.attrs["fdim"] = 5
        for view, n, k in (("whole", 1, 16), ("five", 5, 4), ("nine", 9, 2)):
            shape = (k,) if view == "whole" else (n, k)
            g = g1.create_group(view)
            g.create_dataset("features", data=rng.standard_normal(shape + (5,)).astype("f4"), compression="gzip")
            g.create_dataset("scores", data=-np.sort(-rng.random(shape).astype("f4"), axis=-1), compression="gzip")
            texts = [words[j % 5] + f" {j}" for j in range(int(np.prod(shape)))]
            if view != "whole":
                texts = [texts[c * k:(c + 1) * k] for c in range(n)]
            g.create_dataset("texts", data=texts, compression="gzip")
with h5py.File(sys.argv[2], "a") as f:
    pooled = rng.standard_normal((2, 2)).astype("f4")
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True)
    grid = rng.standard_normal((2, 3, 4)).astype("f4")
    f.attrs["fdim_pooled"] = pooled.shape[-1]
    f.attrs["fdim_grid"] = grid.shape[-1]
    for i, id in enumerate((531912, 9)):
        g = f.create_group(str(id))
        g.create_dataset("pooled_features", data=pooled[i], compression="gzip")
        g.create_dataset("grid_features", data=grid[i], compression="gzip")
for b in range(2):
    with h5py.File(sys.argv[3], "a") as f:
        g = f.create_group(str(b))
        k = rng.standard_normal((4, 3)).astype("f4")
        g.create_dataset("keys", data=k / np.linalg.norm(k, axis=1, keepdims=True), compression="gzip")
        g.create_dataset("values", data=rng.standard_normal((4, 5)).astype("f4"), compression="gzip")
        g.create_dataset("captions", data=[f"phrase {b} {j}" for j in range(4)], compression="gzip")
"#;
    let (t, v, c) =
        (dir.join("txt_ctx.hdf5"), dir.join("vis_ctx.hdf5"), dir.join("caption_db.hdf5"));
    run_python_code(code, &[&t, &v, &c]);
    (t, v, c)
}

#[test]
fn haav_files_show_and_check_as_haav_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (txt, vis, cap) = haav_fixtures(dir.path());

    // HAAV's txt_ctx (a root fdim, as a vis_ctx has) is a txt_ctx.
    let s = stdout_json(&inspect(&[&txt, &"--json"]));
    assert_eq!((s["kind"].clone(), s["profile"].clone()), (json!("txt_ctx"), json!("haav")));
    assert_eq!(
        (s["images"].clone(), s["fdim"].clone(), s["k"].clone()),
        (json!(3), json!(5), json!(2))
    );
    assert_eq!(s["texts_per_crop"], json!({"whole": 16, "five": 4, "nine": 2}));
    let s = stdout_json(&inspect(&[&vis, &"--json"]));
    assert_eq!((s["kind"].clone(), s["profile"].clone()), (json!("vis_ctx"), json!("haav")));
    assert_eq!(
        (s["fdim_grid"].clone(), s["fdim_pooled"].clone(), s["tokens"].clone()),
        (json!(4), json!(2), json!(3))
    );
    let s = stdout_json(&inspect(&[&cap, &"--json"]));
    assert_eq!((s["kind"].clone(), s["profile"].clone()), (json!("caption_db"), json!("haav")));
    assert_eq!((s["captions"].clone(), s["d"].clone()), (json!(8), json!(5)));
    let text = String::from_utf8(inspect(&[&txt]).stdout).unwrap();
    assert!(text.contains("HAAV profile") && text.contains("16 per crop of whole"), "{text}");

    // Entries, as h5py returns them.
    let got = stdout_json(&inspect(&[
        &txt, &"--id", &"531912", &"--view", &"five", &"--crop", &"2", &"--top-k", &"3", &"--json",
    ]));
    floats_equal(&got["features"], &h5py_snippet(&txt, "f['531912/five/features'][2, :3]"));
    assert_eq!(got["texts"], h5py_snippet(&txt, "f['531912/five/texts'][2, :3]"));
    let got = stdout_json(&inspect(&[&txt, &"--id", &"9", &"--view", &"whole", &"--json"]));
    floats_equal(&got["scores"], &h5py_snippet(&txt, "f['9/whole/scores'][()]"));
    let got = stdout_json(&inspect(&[&vis, &"--id", &"9", &"--json"]));
    floats_equal(&got["grid_features"], &h5py_snippet(&vis, "f['9/grid_features'][()]"));
    floats_equal(&got["pooled_features"], &h5py_snippet(&vis, "f['9/pooled_features'][()]"));
    let got = stdout_json(&inspect(&[&cap, &"--index", &"5", &"--json"]));
    assert_eq!(got["caption"], json!("phrase 1 1"));
    floats_equal(&got["value"], &h5py_snippet(&cap, "f['1/values'][1]"));

    for file in [&txt, &vis, &cap] {
        let out = inspect(&[file, &"--check"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success() && text.contains("0 violations"), "{text}");
    }

    // A whole view with fewer than 8k texts: HAAV's reader would pair 15 rows with 16 ranks.
    run_python_code(
        "import sys, h5py\nwith h5py.File(sys.argv[1], 'a') as f:\n    g = f['42/whole']\n    for n in ('features', 'scores', 'texts'):\n        d = g[n][:15]\n        del g[n]\n        g.create_dataset(n, data=d, compression='gzip')\n",
        &[&txt],
    );
    let out = inspect(&[&txt, &"--check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(": 42/whole/features: 15 texts per crop") && text.contains("[:16]"),
        "{text}"
    );
    assert!(text.contains("(HAAV's k = 2)") && text.contains("1 violations"), "{text}");
    // Enough for a training k of 1 (8 / 2 / 1 texts per crop).
    let out = inspect(&[&txt, &"--check", &"--haav-k", &"1", &"--json"]);
    let v = stdout_json(&out);
    assert_eq!((v["haav_k"].clone(), v["violations"].clone()), (json!(1), json!([])));
}

/// Every binary's command line: clap's own consistency checks, its own description (not the
/// package's), `-v` and `--quiet`.
mod help {
    use clap::{CommandFactory, Parser};
    use xctx_bins::pipeline::{Common, encode_captions, encode_images, merge, retrieve};
    use xctx_bins::{doctor, inspect};

    /// `cmd`'s help text, long form.
    fn long_help(mut cmd: clap::Command) -> String {
        cmd.render_long_help().to_string()
    }

    /// clap's checks, the command's own `about`, the log flags; returns the long help.
    fn checked(cmd: clap::Command, about: &str) -> String {
        cmd.clone().debug_assert();
        let got = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        assert!(got.starts_with(about), "{}: about {got:?}", cmd.get_name());
        assert_ne!(got, env!("CARGO_PKG_DESCRIPTION"), "{}", cmd.get_name());
        for (id, long) in [("verbose", "verbose"), ("quiet", "quiet")] {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id);
            let arg = arg.unwrap_or_else(|| panic!("{}: no --{long}", cmd.get_name()));
            assert_eq!(arg.get_long(), Some(long), "{}", cmd.get_name());
        }
        let v = cmd.get_arguments().find(|a| a.get_id() == "verbose").unwrap();
        assert_eq!(v.get_short(), Some('v'), "{}", cmd.get_name());
        long_help(cmd)
    }

    /// The whitespace of `s` as single spaces (clap may wrap long lines).
    fn flat(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The `[default: ...]` that the help entry of `--long` shows.
    fn shown_default(help: &str, long: &str) -> String {
        let lines: Vec<&str> = help.lines().collect();
        let is_option = |l: &str, long: Option<&str>| {
            let t = l.trim_start();
            let t = if t.len() > 4 && t.starts_with('-') && &t[2..4] == ", " { &t[4..] } else { t };
            match long {
                Some(long) => t
                    .strip_prefix(&format!("--{long}"))
                    .is_some_and(|r| r.is_empty() || r.starts_with([' ', '<', '='])),
                None => t.starts_with('-'),
            }
        };
        let start = lines.iter().position(|l| is_option(l, Some(long)));
        let start = start.unwrap_or_else(|| panic!("no --{long} in {help}"));
        let end = lines[start + 1..]
            .iter()
            .position(|l| is_option(l, None) && !l.starts_with("          "))
            .map_or(lines.len(), |e| start + 1 + e);
        let entry = flat(&lines[start..end].join(" "));
        let at =
            entry.find("[default: ").unwrap_or_else(|| panic!("--{long}: no default in {entry}"));
        entry[at + 10..].split(']').next().unwrap().to_owned()
    }

    fn workers_default(c: &Common, help: &str) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c.workers(), cores);
        assert_eq!(shown_default(help, "num-workers"), "all cores");
    }

    #[test]
    fn encode_images_help_shows_the_defaults_it_uses() {
        let help = checked(encode_images::Args::command(), "Encode every image");
        let a = encode_images::Args::parse_from([
            "encode-images",
            "--dataset-root",
            "d",
            "--model",
            "m",
        ]);
        assert_eq!(a.batch_size, encode_images::BATCH_SIZE);
        assert_eq!(shown_default(&help, "batch-size"), encode_images::BATCH_SIZE.to_string());
        assert_eq!(shown_default(&help, "out"), a.out.display().to_string());
        assert_eq!(a.out.display().to_string(), "outputs/image_features/vis_ctx.hdf5");
        workers_default(&a.common, &help);
    }

    #[test]
    fn encode_captions_help_shows_the_defaults_it_uses_and_only_its_flags() {
        let cmd = encode_captions::Args::command();
        let help = checked(cmd.clone(), "Build the Visual Genome phrase database");
        for unused in ["num_workers", "normalise", "on_error", "k", "caption_db"] {
            assert!(!cmd.get_arguments().any(|a| a.get_id() == unused), "--{unused} listed");
        }
        let a = encode_captions::Args::parse_from([
            "encode-captions",
            "--ann-dir",
            "d",
            "--model",
            "m",
        ]);
        assert_eq!(a.batch_size, encode_captions::BATCH_SIZE);
        assert_eq!(shown_default(&help, "batch-size"), encode_captions::BATCH_SIZE.to_string());
        assert_eq!(a.out.display().to_string(), "outputs/captions_db/caption_db.hdf5");
        // "[default: contiguous; --profile haav has one layout ...]"
        assert!(shown_default(&help, "layout").starts_with("contiguous;"));
        let original = ctx_store::Profile::Original;
        assert_eq!(
            encode_captions::layout(original, a.layout).unwrap(),
            ctx_store::CaptionLayout::Contiguous
        );
        assert!(encode_captions::layout(ctx_store::Profile::Haav, a.layout).is_ok());
        let haav_with_flag = encode_captions::layout(
            ctx_store::Profile::Haav,
            Some(encode_captions::Layout::Original),
        );
        assert!(haav_with_flag.is_err());
    }

    #[test]
    fn retrieve_captions_help_shows_the_defaults_it_uses() {
        let help = checked(retrieve::Args::command(), "Retrieve the top-k phrases");
        let a = retrieve::Args::parse_from([
            "retrieve-captions",
            "--dataset-root",
            "d",
            "--caption-db",
            "c",
            "--model",
            "m",
        ]);
        assert_eq!(a.batch_size, retrieve::BATCH_SIZE);
        assert_eq!(shown_default(&help, "batch-size"), retrieve::BATCH_SIZE.to_string());
        assert_eq!(shown_default(&help, "k"), a.k.to_string());
        assert_eq!(a.out.display().to_string(), "outputs/retrieved_captions/txt_ctx.hdf5");
        workers_default(&a.common, &help);
        // --key-chunk: the numbers in its help are the ones the index takes without the flag.
        let shown = shown_default(&help, "key-chunk");
        let (cpu, cuda) = (retrieval::DEFAULT_KEY_CHUNK_CPU, retrieval::DEFAULT_KEY_CHUNK_CUDA);
        assert_eq!(shown, format!("{cpu} on the CPU, {cuda} on CUDA"));
        assert_eq!(a.key_chunk, None);
        let keys = vec![1.0f32; 4 * cpu + 3]; // unit keys of dimension 1
        let opts = retrieval::IndexOptions { key_chunk: a.key_chunk, ..Default::default() };
        let index = retrieval::Index::from_slice(&keys, 1, &opts).unwrap();
        assert_eq!(index.key_chunk(), cpu);
        // --f32-search does not claim to be slower everywhere.
        assert!(!flat(&help).contains("same results, slower"));
    }

    #[test]
    fn ctx_merge_help_has_the_log_flags() {
        checked(merge::Args::command(), "Join the shard files");
        let a = merge::Args::parse_from(["ctx-merge", "out.h5", "a.h5", "--quiet", "-vv"]);
        assert!(a.log.quiet);
        assert_eq!(a.log.verbose, 2);
    }

    #[test]
    fn ctx_inspect_help_is_its_own() {
        let help = checked(inspect::Args::command(), "Inspect vis_ctx.hdf5");
        // The long help is the whole doc comment.
        assert!(flat(&help).contains("With --check: every schema violation"), "{help}");
    }

    #[test]
    fn xctx_doctor_help_is_its_own() {
        checked(doctor::Args::command(), "Report what the tools can run on");
    }

    /// The steps share their flag names: every flag of [`xctx_bins::pipeline::StepFlags`] is on
    /// each step, the decoders' flags on the two image steps.
    #[test]
    fn the_steps_share_their_flag_names() {
        let steps = [
            encode_images::Args::command(),
            encode_captions::Args::command(),
            retrieve::Args::command(),
        ];
        let shared =
            ["profile", "device", "half", "shard", "overwrite", "verbose", "quiet", "batch-size"];
        for cmd in &steps {
            let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
            for flag in shared {
                assert!(longs.contains(&flag), "{}: no --{flag}", cmd.get_name());
            }
            let images = ["num-workers", "normalise", "on-error"];
            let has = images.iter().filter(|f| longs.contains(f)).count();
            let want = if cmd.get_name() == "encode-captions" { 0 } else { images.len() };
            assert_eq!(has, want, "{}", cmd.get_name());
        }
    }
}

/// The `commits` of a txt_ctx written by ctx-store: not finished while its writer has not
/// finished it (as a killed one), finished after; h5py's files: flushed, not atomic.
#[test]
fn summaries_say_whether_a_file_was_finished() {
    let dir = tempfile::tempdir().unwrap();
    let (h5py_txt, _, _) = fixtures(dir.path());
    let s = stdout_json(&inspect(&[&h5py_txt, &"--json"]));
    assert_eq!(s["commits"], json!({"atomic": false, "last_synced": null, "finished": null}));

    let path = dir.path().join("ours.h5");
    let prov = ctx_store::Provenance::new("cli-test", "{}");
    ctx_store::set_sync_policy(ctx_store::SyncPolicy::Batch);
    let view = |crops: usize| ctx_store::ViewEntry {
        crops,
        k: 1,
        d: 2,
        features: vec![0.5; crops * 2],
        scores: vec![1.0; crops],
        texts: vec!["a".into(); crops],
    };
    let entry = ctx_store::TxtEntry { id: 7.into(), whole: view(1), five: view(5), nine: view(9) };
    let mut w = ctx_store::TxtCtxWriter::create(&path, &prov, false).unwrap();
    w.write_batch(std::slice::from_ref(&entry)).unwrap();
    drop(w); // not finished, as a killed writer leaves it
    let s = stdout_json(&inspect(&[&path, &"--json"]));
    assert_eq!(s["commits"], json!({"atomic": true, "last_synced": true, "finished": false}));
    let text = String::from_utf8(inspect(&[&path]).stdout).unwrap();
    assert!(text.contains("commits:    atomic by batch; not finished"), "{text}");

    let (w, ids) = ctx_store::TxtCtxWriter::append(&path).unwrap();
    assert_eq!(ids, vec![7]);
    w.finish().unwrap();
    let s = stdout_json(&inspect(&[&path, &"--json"]));
    assert_eq!(s["commits"], json!({"atomic": true, "last_synced": true, "finished": true}));
}

/// HAAV's files are committed by batch too: not finished as a killed writer leaves them,
/// finished after; written through HDF5 (the writer before the native one), flushed.
#[test]
fn summaries_say_whether_a_haav_file_was_finished() {
    let dir = tempfile::tempdir().unwrap();
    let prov = ctx_store::Provenance::new("cli-test", "{}");
    ctx_store::set_sync_policy(ctx_store::SyncPolicy::Batch);
    let commits = |p: &std::path::Path| stdout_json(&inspect(&[&p, &"--json"]))["commits"].clone();
    let (grid, pooled) = (vec![0.25f32; 2 * 3], vec![0.6f32, 0.8]);
    let vis = dir.path().join("haav-vis.h5");
    let mut w = ctx_store::HaavVisCtxWriter::create(&vis, 3, 2, &prov, false).unwrap();
    w.write_batch(&[7u64], 2, &grid, &pooled).unwrap();
    drop(w); // not finished, as a killed writer leaves it
    assert_eq!(commits(&vis), json!({"atomic": true, "last_synced": true, "finished": false}));
    let text = String::from_utf8(inspect(&[&vis]).stdout).unwrap();
    assert!(text.contains("commits:    atomic by batch; not finished"), "{text}");
    let (w, ids) = ctx_store::HaavVisCtxWriter::append(&vis).unwrap();
    assert_eq!(ids, vec![7]);
    w.finish().unwrap();
    assert_eq!(commits(&vis), json!({"atomic": true, "last_synced": true, "finished": true}));

    let view = |crops: usize, k: usize| ctx_store::ViewEntry {
        crops,
        k,
        d: 2,
        features: vec![0.5; crops * k * 2],
        scores: vec![1.0; crops * k],
        texts: vec!["a".into(); crops * k],
    };
    let entry =
        ctx_store::TxtEntry { id: 7.into(), whole: view(1, 8), five: view(5, 2), nine: view(9, 1) };
    let txt = dir.path().join("haav-txt.h5");
    let mut w = ctx_store::HaavTxtCtxWriter::create(&txt, 2, &prov, false).unwrap();
    w.write_batch(std::slice::from_ref(&entry)).unwrap();
    w.finish().unwrap();
    assert_eq!(commits(&txt), json!({"atomic": true, "last_synced": true, "finished": true}));

    let old = dir.path().join("haav-vis-hdf5.h5");
    let mut w = ctx_store::HaavVisCtxWriter::create_through_hdf5(&old, 3, 2, &prov, false).unwrap();
    w.write_batch(&[7u64], 2, &grid, &pooled).unwrap();
    w.finish().unwrap();
    assert_eq!(commits(&old), json!({"atomic": false, "last_synced": null, "finished": null}));
}
