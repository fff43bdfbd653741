//! 8-bit levels normalised by the encoder (`normalise_levels`, and uint8 pixels given to
//! `encode_image_tensor`) against crops' normalised output: bit for bit in f32 and f16, and the
//! model's outputs identical. The same on CUDA is in `cuda.rs`.

use clip_encoder::{ClipEncoder, Device, Kind, LoadOptions, Tensor, to_vec_f32};
use crops::{INPUTS_PER_IMAGE, RgbImage, f16};
use test_support::{Rng, tiny_clip};

/// A noisy 61x47 image (every level used) and its 15 inputs as levels, f32 and f16.
fn inputs(enc: &ClipEncoder) -> (Vec<u8>, Vec<f32>, Vec<f16>) {
    let mut rng = Rng::new(3);
    let img = RgbImage {
        width: 61,
        height: 47,
        data: (0..61 * 47 * 3).map(|_| rng.below(256) as u8).collect(),
    };
    let pre = enc.preprocess();
    let n = INPUTS_PER_IMAGE * pre.len();
    let (mut levels, mut f32s, mut f16s) = (vec![0u8; n], vec![0f32; n], vec![f16::ZERO; n]);
    pre.image_crops_into(&img, &mut levels).unwrap();
    pre.image_crops_into(&img, &mut f32s).unwrap();
    pre.image_crops_into(&img, &mut f16s).unwrap();
    (levels, f32s, f16s)
}

fn nchw(enc: &ClipEncoder, t: Tensor) -> Tensor {
    let s = i64::from(enc.preprocess().size);
    t.view([INPUTS_PER_IMAGE as i64, 3, s, s])
}

#[test]
fn levels_normalised_by_the_encoder_equal_crops_values() {
    let ckpt = tiny_clip("a");
    let enc = ClipEncoder::load(&ckpt, &LoadOptions::default()).unwrap();
    let (levels, f32s, _) = inputs(&enc);
    let x = nchw(&enc, Tensor::from_slice(&levels));
    let got = enc.normalise_levels(&x).unwrap();
    assert_eq!((got.kind(), got.device()), (Kind::Float, Device::Cpu));
    let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&got) == bits(&f32s), "normalised levels differ from crops' f32 output");

    // The model's outputs from the levels equal those from the normalised values.
    let a = enc.encode_image_tensor(&x).unwrap();
    let b = enc.encode_image_tensor(&nchw(&enc, Tensor::from_slice(&f32s))).unwrap();
    for (name, a, b) in [("pooled", &a.pooled, &b.pooled), ("embeds", &a.embeds, &b.embeds)] {
        let (a, b) = (to_vec_f32(a).unwrap(), to_vec_f32(b).unwrap());
        assert!(a.iter().all(|v| v.is_finite()) && a.iter().any(|&v| v != 0.0), "{name}: {a:?}");
        assert!(bits(&a) == bits(&b), "{name} differs");
    }
}

#[test]
fn a_half_precision_encoder_normalises_to_crops_f16_values() {
    let ckpt = tiny_clip("a");
    let enc = ClipEncoder::load(&ckpt, &LoadOptions { device: Device::Cpu, half: true }).unwrap();
    let (levels, _, f16s) = inputs(&enc);
    let got = enc.normalise_levels(&nchw(&enc, Tensor::from_slice(&levels))).unwrap();
    assert_eq!(got.kind(), Kind::Half);
    let got = Vec::<f16>::try_from(got.flatten(0, -1)).unwrap();
    assert!(got == f16s, "normalised levels differ from crops' f16 output");
}

#[test]
fn other_tensors_are_refused_as_levels() {
    let enc = ClipEncoder::load(&tiny_clip("a"), &LoadOptions::default()).unwrap();
    let float = Tensor::zeros([2, 3, 4, 4], (Kind::Float, Device::Cpu));
    let err = enc.normalise_levels(&float).unwrap_err().to_string();
    assert!(err.contains("expected uint8"), "{err}");
    let four = Tensor::zeros([2, 4, 4, 4], (Kind::Uint8, Device::Cpu));
    assert!(enc.normalise_levels(&four).is_err());
    // Not (B, 3, H, W): the channel offsets would broadcast into another shape.
    let flat = Tensor::zeros([2, 3], (Kind::Uint8, Device::Cpu));
    assert!(enc.normalise_levels(&flat).is_err());
}
