//! Fixtures made by reference scripts: the tiny CLIP checkpoints, raw f32 files, reference
//! output folders.

use std::path::{Path, PathBuf};

use crate::{run_python, workspace_root};

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

/// Little-endian f32 values of a raw file written by a reference script (a length that is not
/// whole values panics).
pub fn read_f32_file(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes.len() % 4, 0, "{}: {} bytes are not whole f32s", path.display(), bytes.len());
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
