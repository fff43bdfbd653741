//! Randomised parity with Pillow (`random_reference.py` beside this file): 90 random images of
//! 1x1 to 699x699 pixels, a random crop box in each, then either Pillow's bicubic resize of the
//! crop to a random size or CLIP's preprocessing of the crop at a random size (half of them with
//! torchvision's centre-crop rounding, HAAV's). Every byte, and every normalised f32, must equal
//! Pillow's (and numpy's f32 arithmetic), and so must the `u8` levels and their table lookup.

use std::path::Path;

use crops::{CenterCrop, ClipPreprocess, CropBox, RgbImage};
use test_support::reference_outputs;

#[test]
fn random_sizes_and_crop_boxes_equal_pillow() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/random_reference.py");
    let (dir, manifest) = reference_outputs(&script);
    assert!(manifest.len() >= 80, "random_reference.py made {} cases", manifest.len());
    let (mut resized, mut preprocessed, mut rounding_differs) = (0, 0, 0);
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
                let crop = match case["crop"].as_str().unwrap() {
                    "torchvision" => CenterCrop::Torchvision,
                    _ => CenterCrop::Clip,
                };
                let p = ClipPreprocess { size: size as u32, crop, ..ClipPreprocess::default() };
                // Cases where the two roundings take other pixels (the rule is then tested).
                let (rw, rh) = resized_size(b.width() as usize, b.height() as usize, size);
                if crop == CenterCrop::Torchvision
                    && [rw - size, rh - size]
                        .iter()
                        .any(|&d| crop.offset(d) != CenterCrop::Clip.offset(d))
                {
                    rounding_differs += 1;
                }
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
                // Levels: Pillow's bytes in CHW order, and looked up in the table, the f32 values.
                let mut levels = vec![0u8; n];
                p.crop_pixels_into(&img, b, &mut levels).unwrap();
                let chw: Vec<u8> =
                    (0..3).flat_map(|c| want[c..n].iter().step_by(3)).copied().collect();
                assert!(levels == chw, "{what}, CLIP size {size}: levels differ from Pillow's");
                let table = p.levels();
                let looked_up: Vec<u32> = levels
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| table[i / (size * size)][usize::from(v)].to_bits())
                    .collect();
                assert!(looked_up == want_f32, "{what}, CLIP size {size}: table values differ");
                preprocessed += 1;
            }
        }
    }
    assert!(resized >= 40 && preprocessed >= 40, "{resized} resizes, {preprocessed} preprocessed");
    assert!(rounding_differs >= 3, "only {rounding_differs} cases where the roundings differ");
}

/// CLIP's resized size of a `w x h` crop (shorter side to `size`), as the reference computes it.
fn resized_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    if short == size {
        return (w, h);
    }
    let long = size * long / short;
    if w <= h { (size, long) } else { (long, size) }
}

#[test]
fn torchvision_offsets_round_half_to_even() {
    for d in 0..1000usize {
        let want = (d as f64 / 2.0).round_ties_even() as usize;
        assert_eq!(CenterCrop::Torchvision.offset(d), want, "d = {d}");
        assert_eq!(CenterCrop::Clip.offset(d), d.div_ceil(2), "d = {d}");
    }
    // The doc's example: a side of 297 at 224 px.
    assert_eq!((CenterCrop::Torchvision.offset(73), CenterCrop::Clip.offset(73)), (36, 37));
}
