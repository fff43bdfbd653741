//! JPEG pixels equal to Pillow's `Image.open(path).convert("RGB")`, level for level, on
//! scikit-image's photos and on random JPEGs in every setting Pillow's encoder offers
//! (`jpeg_reference.py` beside this file); damaged files refused with a one-line error.

use std::path::Path;

use crops::{Error, RgbImage, decode_bytes, decode_bytes_into};
use test_support::reference_outputs;

mod common;

#[test]
fn jpeg_pixels_equal_pillows() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jpeg_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert!(manifest.len() >= 60, "jpeg_reference.py made {} cases", manifest.len());
    let mut modes = std::collections::BTreeSet::new();
    for case in &manifest {
        common::assert_decodes_as_pillow(dir.path(), case);
        modes.insert(case["mode"].as_str().unwrap().to_owned());
    }
    assert_eq!(modes.into_iter().collect::<Vec<_>>(), ["CMYK", "L", "RGB"]);
    // Into one reused buffer, the cases' sizes growing and shrinking from one to the next.
    let mut reused = RgbImage { width: 0, height: 0, data: Vec::new() };
    let sizes: std::collections::BTreeSet<_> =
        manifest.iter().map(|c| c["size"].to_string()).collect();
    assert!(sizes.len() >= 10, "{} sizes", sizes.len());
    for case in manifest.iter().chain(manifest.iter().rev()) {
        common::assert_decodes_into_as_pillow(dir.path(), case, &mut reused);
    }
}

/// Cut anywhere after the header, with or without the end-of-image marker, or with its data
/// overwritten: an error naming the file, or (where libjpeg recovers, as in Pillow) an image of
/// the header's size; never a panic or an abort.
#[test]
fn damaged_jpegs_fail_cleanly() {
    let py = test_support::run_python_code(
        "import skimage, pathlib; print(pathlib.Path(skimage.__file__).parent / 'data' / 'rocket.jpg')",
        &[],
    );
    let rocket = std::fs::read(py.trim()).unwrap();
    let path = Path::new("rocket.jpg");
    let one_line =
        |e: &Error| !e.to_string().contains('\n') && e.to_string().starts_with("rocket.jpg: ");
    for cut in [2, 20, 200, 600, rocket.len() / 3, rocket.len() - 3] {
        let e = decode_bytes(path, &rocket[..cut]).expect_err("a truncated JPEG decodes");
        assert!(matches!(e, Error::Decode { .. }) && one_line(&e), "cut at {cut}: {e}");
    }
    // Cut, then the end-of-image marker: libjpeg warns (premature end of data) and fills.
    let mut cut = rocket[..rocket.len() / 2].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    let img = decode_bytes(path, &cut).unwrap();
    assert_eq!((img.width, img.height), (640, 427));
    // A broken header (the frame's sample precision) is a fatal libjpeg error.
    let sof = rocket.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline frame");
    let mut bad = rocket.clone();
    bad[sof + 4] = 3;
    let e = decode_bytes(path, &bad).expect_err("3-bit samples decode");
    assert!(matches!(e, Error::Decode { .. }) && one_line(&e), "{e}");
    assert!(e.to_string().contains("precision"), "{e}");
    // Garbage sprinkled over the headers and the scan: an image or an error, never a panic.
    let mut noise = rocket.clone();
    let mut x = 12345u32;
    for b in noise.iter_mut().skip(sof + 40).step_by(97) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    if let Err(e) = decode_bytes(path, &noise) {
        assert!(one_line(&e), "{e}");
    }
    // Into a reused buffer: a failure leaves it empty, and the next image decodes whole.
    let whole = decode_bytes(path, &rocket).unwrap();
    let mut reused = whole.clone();
    let e = decode_bytes_into(path, &rocket[..rocket.len() / 3], &mut reused).unwrap_err();
    assert!(one_line(&e), "{e}");
    assert_eq!((reused.width, reused.height, reused.data.len()), (0, 0, 0));
    let e = decode_bytes_into(path, &bad, &mut reused).unwrap_err();
    assert!(e.to_string().contains("precision"), "{e}");
    decode_bytes_into(path, &rocket, &mut reused).unwrap();
    assert!(reused == whole, "rocket.jpg decoded into a reused buffer");
}
