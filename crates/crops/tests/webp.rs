//! WebP pixels against Pillow's `Image.open(path).convert("RGB")` (`webp_reference.py` beside
//! this file: scikit-image's photos and random images saved by Pillow's WebP encoder), level for
//! level, alpha dropped: lossless WebP, and lossy WebP too (image-webp upsamples chroma and
//! converts YUV to RGB as libwebp does; `docs/parity.md`). A cut file: a one-line error naming it.

use std::path::Path;

use crops::{Error, decode, decode_bytes};
use test_support::reference_outputs;

#[test]
fn webp_pixels_match_pillows() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webp_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert_eq!(manifest.len(), 11, "webp_reference.py's cases");
    let (mut lossless, mut lossy, mut rgba) = (0, 0, 0);
    for case in &manifest {
        let name = case["name"].as_str().unwrap();
        let img = decode(&dir.path().join(case["file"].as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let size = [case["size"][0].as_u64().unwrap(), case["size"][1].as_u64().unwrap()];
        assert_eq!([u64::from(img.width), u64::from(img.height)], size, "{name}: size");
        let want = std::fs::read(dir.path().join(format!("{name}.rgb"))).unwrap();
        assert_eq!(img.data.len(), want.len(), "{name}: bytes");
        let differ = img.data.iter().zip(&want).filter(|(a, b)| a != b).count();
        let max = img.data.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        assert_eq!(differ, 0, "{name}: {differ} levels differ from Pillow's, by up to {max}");
        rgba += usize::from(case["mode"] == "RGBA");
        if case["lossless"].as_bool().unwrap() {
            lossless += 1;
        } else {
            lossy += 1;
        }
    }
    assert_eq!((lossless, lossy, rgba), (5, 6, 3));
}

/// Cut anywhere (in the RIFF header, the chunk headers or the compressed data): an error naming
/// the file on one line, never a panic or a partly grey image.
#[test]
fn truncated_webps_fail_cleanly() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webp_reference.py");
    let (dir, _) = reference_outputs(&script);
    for name in ["lossless_rgb", "lossy_q90"] {
        let bytes = std::fs::read(dir.path().join(format!("{name}.webp"))).unwrap();
        let file = format!("{name}.webp");
        for cut in [4, 12, 20, 40, bytes.len() / 3, bytes.len() - 10] {
            let e = decode_bytes(Path::new(&file), &bytes[..cut])
                .expect_err(&format!("{name} cut at {cut} decodes"));
            let msg = e.to_string();
            assert!(matches!(e, Error::Decode { .. }), "{name} cut at {cut}: {msg}");
            assert!(!msg.contains('\n') && msg.starts_with(&format!("{file}: ")), "{msg}");
        }
    }
}
