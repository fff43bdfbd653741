//! Randomised parity with Pillow (`random_reference.py` beside this file): 90 random images of
//! 1x1 to 699x699 pixels, a random crop box in each, then either Pillow's bicubic resize of the
//! crop to a random size or CLIP's preprocessing of the crop at a random size. Every byte, and
//! every normalised f32, must equal Pillow's (and numpy's f32 arithmetic).

use std::path::Path;

use crops::{ClipPreprocess, CropBox, RgbImage};
use test_support::reference_outputs;

#[test]
fn random_sizes_and_crop_boxes_equal_pillow() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/random_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert!(manifest.len() >= 80, "random_reference.py made {} cases", manifest.len());
    let (mut resized, mut preprocessed) = (0, 0);
    for (i, case) in manifest.iter().enumerate() {
        let dim = |k: &str| case[k].as_u64().unwrap() as usize;
        let (w, h) = (dim("w"), dim("h"));
        let b: Vec<u32> =
            case["box"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let b = CropBox { left: b[0], top: b[1], right: b[2], bottom: b[3] };
        let img = RgbImage {
            width: w as u32,
            height: h as u32,
            data: std::fs::read(dir.path().join(format!("in_{i}.bin"))).unwrap(),
        };
        let want = std::fs::read(dir.path().join(format!("out_{i}.bin"))).unwrap();
        let what = format!("case {i}: {w}x{h} image, box {:?}", b.to_array());
        match case["kind"].as_str().unwrap() {
            "resize" => {
                let (nw, nh) = (dim("nw"), dim("nh"));
                let crop = img.crop(b).unwrap();
                let (cw, ch) = (crop.width as usize, crop.height as usize);
                let got = crops::resize_bicubic(&crop.data, cw, ch, nw, nh);
                assert_eq!(want.len(), nw * nh * 3, "{what}: Pillow's output size");
                let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert!(
                    got.len() == want.len() && diff == 0,
                    "{what} -> {nw}x{nh}: {diff} bytes differ"
                );
                resized += 1;
            }
            _ => {
                let size = dim("size");
                let p = ClipPreprocess { size: size as u32, ..ClipPreprocess::default() };
                let n = 3 * size * size;
                assert_eq!(want.len(), n + 4 * n, "{what}: reference size");
                let got = p.crop_resize_and_crop(&img, b).unwrap();
                let diff = got.data.iter().zip(&want[..n]).filter(|(a, b)| a != b).count();
                assert_eq!(diff, 0, "{what}, CLIP size {size}: {diff} of {n} bytes differ");
                let want_f32: Vec<u32> = want[n..]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                let mut got_f32 = vec![0f32; n];
                p.crop_pixels_into(&img, b, &mut got_f32).unwrap();
                let got_f32: Vec<u32> = got_f32.iter().map(|v| v.to_bits()).collect();
                let diff = got_f32.iter().zip(&want_f32).filter(|(a, b)| a != b).count();
                assert_eq!(diff, 0, "{what}, CLIP size {size}: {diff} of {n} f32 values differ");
                // Half precision: the f32 values rounded as `half` rounds them.
                let mut got_f16 = vec![half::f16::ZERO; n];
                p.crop_pixels_into(&img, b, &mut got_f16).unwrap();
                let want_f16: Vec<half::f16> =
                    want_f32.iter().map(|&v| half::f16::from_f32(f32::from_bits(v))).collect();
                assert!(got_f16 == want_f16, "{what}, CLIP size {size}: f16 values differ");
                preprocessed += 1;
            }
        }
    }
    assert!(resized >= 40 && preprocessed >= 40, "{resized} resizes, {preprocessed} preprocessed");
}
