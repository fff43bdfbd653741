//! The CUDA path against the CPU path (which `golden.rs` holds to transformers): the three tiny
//! checkpoints, the original's four outputs and HAAV's grid and values (clip.tokenize), fp32
//! within 1e-5 and fp16 within 1e-2 relative per row (per token for the grid), batches
//! equal to one-by-one runs, and the device flag. Ignored where no GPU is: run with
//! `cargo test -p clip-encoder --test cuda -- --ignored` on a GPU machine
//! (`benches/gpu_check.sh` does).
#![allow(clippy::print_stderr)] // the CUDA tests print the errors they measure, for the GPU record

use clip_encoder::{
    ClipEncoder, Device, ImageOutputs, LoadOptions, Tokenization, parse_device, to_vec_f32,
};
use test_support::{Rng, max_row_rel, tiny_clip};

fn cuda() -> Device {
    assert!(tch::Cuda::is_available(), "this test needs a CUDA device (libtorch sees none)");
    Device::Cuda(0)
}

const TEXTS: [&str; 5] =
    ["white dog", "man riding horse", "a", "Red  double-decker BUS!", "caf\u{e9} cr\u{e8}me"];

const NAMES: [&str; 6] = ["pooled", "image_embeds", "features", "keys", "grid", "values"];

/// The outputs NAMES lists, flattened (values with HAAV's tokenisation).
fn outputs(enc: &ClipEncoder, pixels: &[f32], n: usize) -> [Vec<f32>; 6] {
    let img = enc.encode_images_with(pixels, n, ImageOutputs::WithGrid).expect("encode images");
    let txt = enc.encode_texts(&TEXTS).expect("encode texts");
    let clip = enc.encode_texts_with(&TEXTS, Tokenization::Clip).expect("encode texts");
    let grid = img.grid.as_ref().expect("grid");
    [&img.pooled, &img.embeds, &txt.features, &txt.keys, grid, &clip.values]
        .map(|t| to_vec_f32(t).expect("to vec"))
}

fn check(preset: &str) {
    let ckpt = tiny_clip(preset);
    let cpu = ClipEncoder::load(&ckpt, &LoadOptions::default()).expect("load cpu");
    let gpu = ClipEncoder::load(&ckpt, &LoadOptions { device: cuda(), half: false }).unwrap();
    let half = ClipEncoder::load(&ckpt, &LoadOptions { device: cuda(), half: true }).unwrap();
    let s = cpu.preprocess().size as usize;
    let n = 6;
    let mut rng = Rng::new(11);
    let pixels: Vec<f32> = rng.vec_f32(n * 3 * s * s).iter().map(|v| v * 4.0 - 2.0).collect();
    let c = cpu.config();
    let widths = [
        c.vision_config.hidden_size,
        c.projection_dim,
        c.text_config.hidden_size,
        c.projection_dim,
        c.vision_config.hidden_size,
        c.text_config.hidden_size,
    ];
    let want = outputs(&cpu, &pixels, n);
    for (label, enc, tol) in [("fp32", &gpu, 1e-5), ("fp16", &half, 1e-2)] {
        let got = outputs(enc, &pixels, n);
        for (i, name) in NAMES.iter().enumerate() {
            let err = max_row_rel(&got[i], &want[i], widths[i] as usize);
            eprintln!("{preset} {label} {name}: max row-relative error vs CPU {err:.2e}");
            assert!(err < tol, "{preset} {label} {name}: {err} >= {tol}");
        }
    }
    // One image at a time on the device equals the batch.
    let batch = to_vec_f32(&gpu.encode_images(&pixels, n).unwrap().pooled).unwrap();
    let per = 3 * s * s;
    let w = widths[0] as usize;
    for i in 0..n {
        let one =
            to_vec_f32(&gpu.encode_images(&pixels[i * per..(i + 1) * per], 1).unwrap().pooled)
                .unwrap();
        let err = max_row_rel(&one, &batch[i * w..(i + 1) * w], w);
        assert!(err < 1e-5, "{preset}: image {i} alone differs from its batch by {err}");
    }
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_equals_cpu_on_tiny_checkpoint_a() {
    check("a");
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_equals_cpu_on_tiny_checkpoint_b() {
    check("b");
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn cuda_equals_cpu_on_tiny_checkpoint_l14() {
    check("l14");
}

#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn device_flag_finds_the_gpu() {
    cuda();
    assert_eq!(parse_device("cuda").unwrap(), Device::Cuda(0));
    assert_eq!(parse_device("cuda:0").unwrap(), Device::Cuda(0));
    assert_eq!(parse_device("auto").unwrap(), Device::Cuda(0));
    let n = tch::Cuda::device_count();
    let err = parse_device(&format!("cuda:{n}")).unwrap_err().to_string();
    assert!(err.contains(&format!("only {n} CUDA device")), "{err}");
}

/// 8-bit levels copied to the device and normalised there equal crops' values on the host, and
/// give the model the same outputs as the normalised values (fp32 and fp16).
#[test]
#[ignore = "needs a CUDA device: cargo test -- --ignored on a GPU machine"]
fn levels_normalised_on_the_device_equal_the_hosts_values() {
    use crops::{INPUTS_PER_IMAGE, RgbImage, f16};
    let ckpt = tiny_clip("a");
    let mut rng = Rng::new(5);
    let img = RgbImage {
        width: 83,
        height: 64,
        data: (0..83 * 64 * 3).map(|_| rng.below(256) as u8).collect(),
    };
    for half in [false, true] {
        let enc = ClipEncoder::load(&ckpt, &LoadOptions { device: cuda(), half }).unwrap();
        let pre = enc.preprocess();
        let s = i64::from(pre.size);
        let n = INPUTS_PER_IMAGE * pre.len();
        let shape = [INPUTS_PER_IMAGE as i64, 3, s, s];
        let mut levels = vec![0u8; n];
        pre.image_crops_into(&img, &mut levels).unwrap();
        let levels = tch::Tensor::from_slice(&levels).view(shape);
        let host = if half {
            let mut v = vec![f16::ZERO; n];
            pre.image_crops_into(&img, &mut v).unwrap();
            tch::Tensor::from_slice(&v).view(shape)
        } else {
            let mut v = vec![0f32; n];
            pre.image_crops_into(&img, &mut v).unwrap();
            tch::Tensor::from_slice(&v).view(shape)
        };
        let on_device = enc.normalise_levels(&levels.to_device(cuda())).unwrap();
        assert_eq!(on_device.device(), cuda());
        let same = on_device.to_device(Device::Cpu).equal(&host);
        assert!(same, "half {half}: the device's normalised levels differ from the host's");
        let a = to_vec_f32(&enc.encode_image_tensor(&levels.to_device(cuda())).unwrap().pooled);
        let b = to_vec_f32(&enc.encode_image_tensor(&host).unwrap().pooled);
        assert_eq!(a.unwrap(), b.unwrap(), "half {half}: pooled outputs differ");
    }
}
