//! `resize_bicubic` against Pillow (`pillow_reference.py` beside this file): bit-identical.

use std::path::Path;

use test_support::reference_outputs;

#[test]
fn resize_equals_pillow_bicubic_bit_for_bit() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pillow_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert!(!manifest.is_empty(), "pillow_reference.py made no cases");
    for (i, case) in manifest.iter().enumerate() {
        let dim = |k: &str| case[k].as_u64().unwrap() as usize;
        let (w, h, nw, nh) = (dim("w"), dim("h"), dim("nw"), dim("nh"));
        let src = std::fs::read(dir.path().join(format!("in_{i}.bin"))).unwrap();
        let want = std::fs::read(dir.path().join(format!("out_{i}.bin"))).unwrap();
        let got = crops::resize_bicubic(&src, w, h, nw, nh);
        assert_eq!(want.len(), nw * nh * 3, "case {i}: Pillow's output size");
        assert_eq!(got.len(), want.len(), "case {i}: {w}x{h} -> {nw}x{nh}: output size");
        let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            diff,
            0,
            "case {i}: {w}x{h} -> {nw}x{nh}: {diff} of {} bytes differ",
            want.len()
        );
    }
}
