//! Batching preloaded entries into tensors (feature `tch`), as the M2/HAAV training code does.
#![cfg(feature = "tch")]

use ctx_store::{TxtEntry, ViewEntry, VisCtx, txt_batch, vis_batch};
use tch::{Device, Kind, Tensor};

fn view(crops: usize, k: usize, d: usize, base: f32) -> ViewEntry {
    let features = (0..crops * k * d).map(|i| base + i as f32).collect();
    ViewEntry {
        crops,
        k,
        d,
        features,
        scores: vec![0.0; crops * k],
        texts: vec![String::new(); crops * k],
    }
}

fn entry(id: u64) -> TxtEntry {
    let base = id as f32 * 10_000.0;
    TxtEntry {
        id: id.into(),
        whole: view(1, 4, 3, base),
        five: view(5, 4, 3, base),
        nine: view(9, 4, 3, base),
    }
}

#[test]
fn txt_batch_shapes_values_and_crop_ids() {
    let (a, b) = (entry(1), entry(2));
    let batch = txt_batch(&[&a, &b], 2, Device::Cpu).unwrap();
    assert_eq!(batch.whole.size(), vec![2, 2, 3]);
    assert_eq!(batch.five.size(), vec![2, 10, 3]);
    assert_eq!(batch.nine.size(), vec![2, 18, 3]);
    assert_eq!(batch.five_crop_ids.kind(), Kind::Int64);
    let ids: Vec<i64> = Vec::try_from(batch.five_crop_ids.get(1)).unwrap();
    assert_eq!(ids, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    // Row 3 of image 2's five = crop 1, text 1 = f["2/five/features"][1, 1].
    let row: Vec<f32> = Vec::try_from(batch.five.get(1).get(3)).unwrap();
    let want: Vec<f32> = b.five.features[(4 + 1) * 3..(4 + 2) * 3].to_vec();
    assert_eq!(row, want);
    let whole: Vec<f32> = Vec::try_from(batch.whole.get(0).flatten(0, -1)).unwrap();
    assert_eq!(whole, a.whole.features[..6].to_vec());
    assert!(txt_batch(&[], 2, Device::Cpu).is_err());
}

#[test]
fn vis_batch_picks_rows() {
    let ctx = VisCtx {
        ids: vec![5.into(), 6.into(), 7.into()],
        fdim: 2,
        features: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    };
    let t = vis_batch(&ctx, &[2, 0], Device::Cpu);
    assert!(t.equal(&Tensor::from_slice(&[5.0f32, 6.0, 1.0, 2.0]).view([2, 2])));
}
