//! Helpers shared by the workspace's tests (after cargo's `cargo-test-support`): the workspace
//! root, the project's Python interpreter (with h5py, torch, ...), running reference scripts, and
//! readable comparisons.
#![allow(clippy::print_stderr, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (resolved from this crate's manifest, never from the current directory);
/// `XCTX_WORKSPACE_ROOT` overrides it where test binaries run on another machine (the GPU check,
/// `benches/gpu_check.sh`).
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XCTX_WORKSPACE_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The project's Python (`.venv/bin/python`, made by `make setup`; `XCTX_PYTHON` overrides).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("XCTX_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

/// Runs `python script args...`, panics with its stderr on failure, returns its stdout.
pub fn run_python(script: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let mut cmd = Command::new(python());
    cmd.arg(script);
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed ({}):\n{}",
        script.display(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Like [`run_python`], parsing stdout as JSON.
pub fn run_python_json(script: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> serde_json::Value {
    let out = run_python(script, args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{}: bad JSON ({e}): {out}", script.display()))
}

/// A small deterministic generator (SplitMix64) so tests need no `rand`.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` values uniform in [-1, 1).
    pub fn vec_f32(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Asserts two float slices are equal within `atol + rtol * |want|`, printing the first
/// Max over rows of `||got - want|| / ||want||` (rows of `width` values), in f64.
pub fn max_row_rel(got: &[f32], want: &[f32], width: usize) -> f64 {
    assert_eq!(got.len(), want.len(), "row-relative error of different lengths");
    got.chunks(width)
        .zip(want.chunks(width))
        .map(|(g, w)| {
            let num: f64 = g.iter().zip(w).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>();
            let den: f64 = w.iter().map(|b| f64::from(*b).powi(2)).sum::<f64>();
            (num / den).sqrt()
        })
        .fold(0.0, f64::max)
}

/// differing indices and the largest error.
pub fn assert_close(name: &str, got: &[f32], want: &[f32], rtol: f32, atol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: lengths differ");
    let mut bad = Vec::new();
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        if err > worst.1 || err.is_nan() {
            worst = (i, err);
        }
        if err.is_nan() || err > atol + rtol * w.abs() {
            bad.push(i);
        }
    }
    if !bad.is_empty() {
        let show: Vec<String> =
            bad.iter().take(5).map(|&i| format!("[{i}] got {} want {}", got[i], want[i])).collect();
        panic!(
            "{name}: {} of {} values differ (largest error {} at {}): {}",
            bad.len(),
            got.len(),
            worst.1,
            worst.0,
            show.join(", ")
        );
    }
}

/// Runs `python -c code args...` (for one-off h5py snippets), returns stdout; panics on failure.
pub fn run_python_code(code: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let mut cmd = Command::new(python());
    cmd.arg("-c").arg(code);
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running python -c: {e}"));
    assert!(
        out.status.success(),
        "python -c {code:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A tiny random-weight CLIP checkpoint made by `scripts/make_tiny_clip.py` (preset `a` or `b`),
/// cached under `target/xctx-fixtures/`; made once, atomically, whichever test asks first.
pub fn tiny_clip(preset: &str) -> PathBuf {
    let root = workspace_root();
    let cache = root.join("target/xctx-fixtures");
    let dir = cache.join(format!("tiny-clip-{preset}"));
    if dir.join("model.safetensors").exists() {
        return dir;
    }
    std::fs::create_dir_all(&cache).expect("create target/xctx-fixtures");
    let tmp = cache.join(format!(
        "tiny-clip-{preset}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    run_python(&root.join("scripts/make_tiny_clip.py"), &[&tmp, &"--preset", &preset]);
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test made it first; the content is the same (fixed seed).
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(dir.join("model.safetensors").exists(), "tiny checkpoint {preset} not made");
    dir
}

/// Little-endian f32 values of a raw file written by a reference script.
pub fn read_f32_file(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Writes f32 values as a raw little-endian file for a reference script.
pub fn write_f32_file(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs a reference script that writes its outputs into the folder it is given, plus a
/// `manifest.json` array describing them; returns the folder (removed on drop) and the manifest.
pub fn reference_outputs(script: &Path) -> (tempfile::TempDir, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().expect("temporary folder");
    run_python(script, &[&dir.path()]);
    let path = dir.path().join("manifest.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (dir, manifest)
}
