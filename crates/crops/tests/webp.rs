//! WebP pixels against Pillow's `Image.open(path).convert("RGB")` (`webp_reference.py` beside
//! this file: scikit-image's photos and random images saved by Pillow's WebP encoder), level for
//! level, alpha dropped: lossless WebP, and lossy WebP too (image-webp upsamples chroma and
//! converts YUV to RGB as libwebp does; `docs/parity.md`). A cut file: a one-line error naming it.

use std::path::Path;

use crops::{Error, decode_bytes};
use test_support::reference_outputs;

mod common;

#[test]
fn webp_pixels_match_pillows() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webp_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert_eq!(manifest.len(), 11, "webp_reference.py's cases");
    let (mut lossless, mut lossy, mut rgba) = (0, 0, 0);
    for case in &manifest {
        common::assert_decodes_as_pillow(dir.path(), case);
        rgba += usize::from(case["mode"] == "RGBA");
        if case["lossless"].as_bool().unwrap() {
            lossless += 1;
        } else {
            lossy += 1;
        }
    }
    assert_eq!((lossless, lossy, rgba), (5, 6, 3));
    // Decoded whole, then copied into a reused buffer.
    let mut reused = crops::RgbImage { width: 0, height: 0, data: Vec::new() };
    for case in manifest.iter().rev() {
        common::assert_decodes_into_as_pillow(dir.path(), case, &mut reused);
    }
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
