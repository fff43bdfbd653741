//! Criterion: decode + 15 crops + CLIP preprocessing of a COCO-like 640x480 JPEG (quality 90),
//! and decode alone (the floor). The side-by-side comparison with Pillow is
//! `benches/crops_vs_python.sh`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use image::{ImageEncoder, codecs::jpeg::JpegEncoder};

/// A smooth gradient with texture, encoded at quality 90: JPEG work like a photo's.
fn coco_like_jpeg() -> Vec<u8> {
    let (w, h) = (640u32, 480u32);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let mut rng = test_support::Rng::new(1);
    for y in 0..h {
        for x in 0..w {
            let base = [x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)];
            for b in base {
                let noise = (rng.f32() * 24.0) as i32;
                rgb.push((b as i32 + noise).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let jpeg = coco_like_jpeg();
    let p = crops::ClipPreprocess::default();
    let path = Path::new("coco-like.jpg");
    let mut g = c.benchmark_group("crops");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    // Into one reused buffer, as the pipeline's workers do.
    let mut out = vec![0f32; crops::INPUTS_PER_IMAGE * p.len()];
    g.bench_function("cpu_decode_15_crops_preprocess_640x480", |b| {
        b.iter(|| p.image_crops_into(&crops::decode_bytes(path, &jpeg).unwrap(), &mut out).unwrap())
    });
    // Half precision, as a half-precision model takes its inputs.
    let mut half = vec![crops::f16::ZERO; crops::INPUTS_PER_IMAGE * p.len()];
    g.bench_function("cpu_decode_15_crops_preprocess_f16_640x480", |b| {
        b.iter(|| {
            p.image_crops_into(&crops::decode_bytes(path, &jpeg).unwrap(), &mut half).unwrap()
        })
    });
    g.bench_function("cpu_decode_640x480", |b| {
        b.iter(|| crops::decode_bytes(path, &jpeg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
