//! Crops resized by libtorch's integer tensor operations (`DeviceCrops`, here on the CPU) against
//! crops' levels and Pillow's: bit for bit on random images of many sizes with their 15 crops and
//! random boxes (both centre-crop rules), on crops' randomised Pillow cases, and on the sample
//! photos in every mode Pillow converts (grayscale, palette, CMYK, 16-bit...). The same on CUDA,
//! with photo-sized images, is the ignored test at the end (run where a GPU is).

use std::path::{Path, PathBuf};

use clip_encoder::{Device, DeviceCrops, Kind, Placement, Tensor, pack_images};
use crops::{CenterCrop, ClipPreprocess, CropBox, INPUTS_PER_IMAGE, RgbImage, image_boxes};
use test_support::{Rng, reference_outputs};

fn noise(rng: &mut Rng, w: u32, h: u32) -> RgbImage {
    let data = (0..w * h * 3).map(|_| rng.below(256) as u8).collect();
    RgbImage { width: w, height: h, data }
}

/// The levels of `boxes` of each image computed by `DeviceCrops` on `device`, as bytes.
fn device_levels(
    pre: &ClipPreprocess,
    images: &[(&RgbImage, Vec<CropBox>)],
    device: Device,
) -> Vec<u8> {
    let (_, places) = pack_images(&images.iter().map(|(i, _)| *i).collect::<Vec<_>>(), 0);
    let plans: Vec<(Placement, Vec<crops::CropPlan>)> = images
        .iter()
        .zip(places)
        .map(|((img, boxes), p)| {
            (p, boxes.iter().map(|b| pre.crop_plan(img.width, img.height, *b).unwrap()).collect())
        })
        .collect();
    let dc = DeviceCrops::new(&plans).unwrap();
    let imgs: Vec<&RgbImage> = images.iter().map(|(i, _)| *i).collect();
    let (data, _) = pack_images(&imgs, dc.bytes_needed());
    let t = Tensor::from_slice(&data).to_device(device);
    let out = dc.levels(&t).unwrap();
    let s = i64::from(pre.size);
    assert_eq!(out.size(), [dc.len() as i64, 3, s, s]);
    assert_eq!((out.kind(), out.device()), (Kind::Uint8, device));
    Vec::<u8>::try_from(out.to_device(Device::Cpu).contiguous().flatten(0, -1)).unwrap()
}

/// crops' levels of `boxes` of each image, CHW, crop after crop.
fn host_levels(pre: &ClipPreprocess, images: &[(&RgbImage, Vec<CropBox>)]) -> Vec<u8> {
    let mut all = Vec::new();
    for (img, boxes) in images {
        for b in boxes {
            let mut out = vec![0u8; pre.len()];
            pre.crop_pixels_into(img, *b, &mut out).unwrap();
            all.extend(out);
        }
    }
    all
}

fn random_box(rng: &mut Rng, w: u32, h: u32) -> CropBox {
    let (l, t) = (rng.below(w as usize) as u32, rng.below(h as usize) as u32);
    let (r, b) =
        (l + 1 + rng.below((w - l) as usize) as u32, t + 1 + rng.below((h - t) as usize) as u32);
    CropBox { left: l, top: t, right: r, bottom: b }
}

fn differing(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn random_images_crops_and_boxes_equal_crops_levels() {
    let mut rng = Rng::new(17);
    for round in 0..6 {
        let crop = if round % 2 == 0 { CenterCrop::Clip } else { CenterCrop::Torchvision };
        let size = [7u32, 16, 33, 24, 50, 12][round];
        let pre = ClipPreprocess { size, crop, ..ClipPreprocess::default() };
        let images: Vec<RgbImage> = (0..5)
            .map(|_| {
                let (w, h) = (3 + rng.below(150) as u32, 3 + rng.below(150) as u32);
                noise(&mut rng, w, h)
            })
            .collect();
        // The 15 crops of each image, then random boxes of each (one crop alone included).
        let mut batch: Vec<(&RgbImage, Vec<CropBox>)> =
            images.iter().map(|i| (i, image_boxes(i.width, i.height).to_vec())).collect();
        for img in &images {
            let n = 1 + rng.below(4);
            batch
                .push((img, (0..n).map(|_| random_box(&mut rng, img.width, img.height)).collect()));
        }
        let want = host_levels(&pre, &batch);
        let got = device_levels(&pre, &batch, Device::Cpu);
        let crops: usize = batch.iter().map(|(_, b)| b.len()).sum();
        assert!(crops >= 5 * INPUTS_PER_IMAGE + 5);
        assert_eq!(differing(&got, &want), 0, "round {round}: size {size}, {crop:?}");
        // Not a flat output that would match by chance.
        assert!(want.iter().collect::<std::collections::HashSet<_>>().len() > 100);
    }
}

#[test]
fn a_bad_plan_or_buffer_is_an_error() {
    let pre = ClipPreprocess { size: 8, ..ClipPreprocess::default() };
    let img = RgbImage { width: 20, height: 10, data: vec![7; 600] };
    let plan = pre.crop_plan(20, 10, crops::whole(20, 10)).unwrap();
    // A box outside the image it is placed as.
    let small = Placement { offset: 0, width: 10, height: 10 };
    assert!(DeviceCrops::new(&[(small, vec![plan.clone()])]).is_err());
    let place = Placement { offset: 0, width: 20, height: 10 };
    let dc = DeviceCrops::new(&[(place, vec![plan])]).unwrap();
    assert!(dc.bytes_needed() >= 600);
    let short = Tensor::from_slice(&img.data);
    let err = dc.levels(&short.narrow(0, 0, 599)).unwrap_err().to_string();
    assert!(err.contains("at least"), "{err}");
    assert!(dc.levels(&short.to_kind(Kind::Int)).is_err());
    let (data, _) = pack_images(&[&img], dc.bytes_needed());
    let out = dc.levels(&Tensor::from_slice(&data)).unwrap();
    assert_eq!(Vec::<u8>::try_from(out.flatten(0, -1)).unwrap(), vec![7u8; 3 * 64]);
}

fn crops_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crops/tests").join(name)
}

/// crops' randomised Pillow cases (random sizes up to 699 pixels, boxes, CLIP sizes, both
/// centre-crop rules): the device levels equal Pillow's.
#[test]
fn crops_randomised_pillow_cases_equal_pillow() {
    let (dir, manifest) = reference_outputs(&crops_script("random_reference.py"));
    let mut checked = 0;
    for (i, case) in manifest.iter().enumerate() {
        if case["kind"].as_str() == Some("resize") {
            continue;
        }
        let dim = |k: &str| case[k].as_u64().unwrap() as u32;
        let b: Vec<u32> =
            case["box"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let b = CropBox { left: b[0], top: b[1], right: b[2], bottom: b[3] };
        let img = RgbImage {
            width: dim("w"),
            height: dim("h"),
            data: std::fs::read(dir.path().join(format!("in_{i}.bin"))).unwrap(),
        };
        let crop = match case["crop"].as_str().unwrap() {
            "torchvision" => CenterCrop::Torchvision,
            _ => CenterCrop::Clip,
        };
        let pre = ClipPreprocess { size: dim("size"), crop, ..ClipPreprocess::default() };
        let want = std::fs::read(dir.path().join(format!("out_{i}.bin"))).unwrap();
        let n = pre.len();
        // Pillow's levels are HWC; the device's CHW.
        let s = pre.size as usize;
        let got = device_levels(&pre, &[(&img, vec![b])], Device::Cpu);
        let hwc: Vec<u8> = (0..s * s)
            .flat_map(|p| (0..3).map(move |c| (p, c)))
            .map(|(p, c)| got[c * s * s + p])
            .collect();
        assert_eq!(differing(&hwc, &want[..n]), 0, "case {i}: {:?}, {crop:?}", b.to_array());
        checked += 1;
    }
    assert!(checked >= 30, "{checked} preprocessing cases");
}

/// The sample photos in every mode crops decodes (Pillow's grayscale, palette, CMYK, 16-bit and
/// alpha files among them), all in one batch: the device levels equal crops'.
#[test]
fn sample_photos_in_every_mode_equal_crops_levels() {
    let (dir, manifest) = reference_outputs(&crops_script("preprocess_reference.py"));
    let images: Vec<RgbImage> = manifest
        .iter()
        .map(|c| crops::decode(&dir.path().join(c["file"].as_str().unwrap())).unwrap())
        .collect();
    assert!(images.len() >= 6, "{} photos", images.len());
    for crop in [CenterCrop::Clip, CenterCrop::Torchvision] {
        let pre = ClipPreprocess { crop, ..ClipPreprocess::default() };
        let batch: Vec<(&RgbImage, Vec<CropBox>)> =
            images.iter().map(|i| (i, image_boxes(i.width, i.height).to_vec())).collect();
        let mut want = vec![0u8; images.len() * INPUTS_PER_IMAGE * pre.len()];
        for (img, out) in images.iter().zip(want.chunks_exact_mut(INPUTS_PER_IMAGE * pre.len())) {
            pre.image_crops_into(img, out).unwrap();
        }
        let got = device_levels(&pre, &batch, Device::Cpu);
        assert_eq!(differing(&got, &want), 0, "{crop:?}");
    }
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
#[allow(clippy::print_stderr)] // the time per image, for the GPU record
fn on_cuda_the_levels_equal_crops_levels() {
    assert!(tch::Cuda::is_available(), "this test needs a CUDA device (libtorch sees none)");
    let mut rng = Rng::new(5);
    let sizes = [(640, 480), (480, 640), (640, 427), (500, 375), (612, 612), (333, 501)];
    let images: Vec<RgbImage> =
        (0..24).map(|i| noise(&mut rng, sizes[i % 6].0, sizes[i % 6].1)).collect();
    for crop in [CenterCrop::Clip, CenterCrop::Torchvision] {
        let pre = ClipPreprocess { crop, ..ClipPreprocess::default() };
        let batch: Vec<(&RgbImage, Vec<CropBox>)> =
            images.iter().map(|i| (i, image_boxes(i.width, i.height).to_vec())).collect();
        let want = host_levels(&pre, &batch);
        let t = std::time::Instant::now();
        let got = device_levels(&pre, &batch, Device::Cuda(0));
        let ms = t.elapsed().as_secs_f64() * 1e3 / images.len() as f64;
        eprintln!("{crop:?}: {ms:.3} ms per image (first call included)");
        assert_eq!(differing(&got, &want), 0, "{crop:?}");
    }
}

/// What the device is sent and computes for a 640x480 photo's 15 crops at ViT-B/32's 224
/// pixels (64 of them in a batch): the image's bytes, a few bytes of tables, and about 25 M
/// 32-bit multiply-adds.
#[test]
#[allow(clippy::print_stderr)] // the figures, for docs/architecture.md
fn cost_of_a_photo_for_vit_b32() {
    let pre = ClipPreprocess::default();
    let (w, h) = (640u32, 480u32);
    let plans: Vec<(Placement, Vec<crops::CropPlan>)> = (0..64)
        .map(|i| {
            let place = Placement { offset: i * (w * h * 3) as usize, width: w, height: h };
            let crops = image_boxes(w, h).map(|b| pre.crop_plan(w, h, b).unwrap()).to_vec();
            (place, crops)
        })
        .collect();
    let dc = DeviceCrops::new(&plans).unwrap();
    let c = dc.cost();
    let (tables, macs) = (c.table_bytes as f64 / 64.0, c.multiply_adds as f64 / 64.0);
    eprintln!(
        "per image: {tables:.0} table bytes, {macs:.0} multiply-adds, {} output bytes",
        c.output_bytes / 64
    );
    assert_eq!(c.output_bytes, 64 * INPUTS_PER_IMAGE * 3 * 224 * 224);
    assert!(
        dc.bytes_needed() >= 64 * 640 * 480 * 3 && dc.bytes_needed() < 64 * 640 * 480 * 3 + 100
    );
    assert!(tables < 10_000.0, "{tables} bytes of tables per image");
    assert!((20e6..40e6).contains(&macs), "{macs} multiply-adds per image");
}
