//! What the decoder tests against Pillow share: one reference case decoded and compared level
//! for level with the pixels Pillow wrote beside it.

use std::path::Path;

use crops::{RgbImage, decode, decode_into};

/// Decodes `case` (a manifest entry of a `*_reference.py` script: `name`, `file`, `size`) from
/// `dir` and asserts its size and every level equal to Pillow's `NAME.rgb`; returns the name.
pub(crate) fn assert_decodes_as_pillow<'c>(dir: &Path, case: &'c serde_json::Value) -> &'c str {
    let name = case["name"].as_str().unwrap();
    let img =
        decode(&dir.join(case["file"].as_str().unwrap())).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_pillows(dir, case, &img);
    name
}

/// [`assert_decodes_as_pillow`] decoding into `reused`, whatever image it held before.
pub(crate) fn assert_decodes_into_as_pillow(
    dir: &Path,
    case: &serde_json::Value,
    reused: &mut RgbImage,
) {
    let name = case["name"].as_str().unwrap();
    decode_into(&dir.join(case["file"].as_str().unwrap()), reused)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_pillows(dir, case, reused);
}

fn assert_pillows(dir: &Path, case: &serde_json::Value, img: &RgbImage) {
    let name = case["name"].as_str().unwrap();
    let size = [case["size"][0].as_u64().unwrap(), case["size"][1].as_u64().unwrap()];
    assert_eq!([u64::from(img.width), u64::from(img.height)], size, "{name}: size");
    let want = std::fs::read(dir.join(format!("{name}.rgb"))).unwrap();
    assert_eq!(img.data.len(), want.len(), "{name}: bytes");
    let differ = img.data.iter().zip(&want).filter(|(a, b)| a != b).count();
    let max = img.data.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
    assert_eq!(differ, 0, "{name}: {differ} levels differ from Pillow's, by up to {max}");
}
