//! Pixels against Pillow + transformers 4.17's CLIP steps (`preprocess_reference.py` beside this
//! file) on real photos in every mode; the figures go to docs/parity.md.

use std::path::Path;

use crops::{ClipPreprocess, INPUTS_PER_IMAGE, decode, image_boxes};
use test_support::reference_outputs;

#[test]
fn pixels_match_pillow_and_clip_417() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/preprocess_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert!(!manifest.is_empty(), "preprocess_reference.py made no cases");
    let p = ClipPreprocess::default();
    let plane = p.len();
    let mut report = Vec::new();
    for case in &manifest {
        let name = case["name"].as_str().unwrap();
        let img = decode(&dir.path().join(case["file"].as_str().unwrap())).unwrap();
        assert_eq!(
            [img.width, img.height],
            [case["size"][0].as_u64().unwrap() as u32, case["size"][1].as_u64().unwrap() as u32]
        );
        let want_u8 = std::fs::read(dir.path().join(format!("{name}.u8"))).unwrap();
        let want_f32: Vec<f32> = std::fs::read(dir.path().join(format!("{name}.f32")))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let mut got_u8 = Vec::with_capacity(INPUTS_PER_IMAGE * plane);
        for b in image_boxes(img.width, img.height) {
            got_u8.extend(p.resize_and_crop(&img.crop(b).unwrap()).data);
        }
        let got_f32 = p.image_crops(&img).unwrap();
        assert_eq!(want_u8.len(), INPUTS_PER_IMAGE * plane, "{name}: reference u8 size");
        assert_eq!(got_u8.len(), want_u8.len(), "{name}: u8 size");
        assert_eq!(got_f32.len(), want_f32.len(), "{name}: f32 size");
        let diffs: Vec<u8> = got_u8.iter().zip(&want_u8).map(|(a, b)| a.abs_diff(*b)).collect();
        let max_u8 = *diffs.iter().max().unwrap();
        let mean_u8 = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        // A NaN is the largest difference (f32::max alone would drop it).
        let max_f32 = got_f32
            .iter()
            .zip(&want_f32)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) });
        report.push(format!(
            "| {name} | {} | {}x{} | {mean_u8:.4} | {max_u8} | {max_f32:.2e} |",
            case["mode"].as_str().unwrap(),
            img.width,
            img.height
        ));
        // JPEGs too: libjpeg-turbo's decoder, as Pillow's.
        assert_eq!(max_u8, 0, "{name}: pixels must equal Pillow's (mean difference {mean_u8})");
        assert!(max_f32 <= 1e-6, "{name}: normalised values differ by {max_f32}");
    }
    eprintln!(
        "| image | Pillow mode | size | mean abs diff (u8 levels) | max abs diff (u8) | max abs diff (normalised f32) |"
    );
    for line in report {
        eprintln!("{line}");
    }
}
