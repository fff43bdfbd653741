//! A checkpoint that does not fit the model is reported, naming the file and the tensors.

use std::path::Path;

use clip_encoder::{ClipEncoder, LoadOptions, Tensor};
use test_support::tiny_clip;

/// A copy of the tiny checkpoint with its tensors edited.
fn edited(edit: impl FnOnce(&mut Vec<(String, Tensor)>)) -> tempfile::TempDir {
    let src = tiny_clip("a");
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "preprocessor_config.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let mut t = Tensor::read_safetensors(src.join("model.safetensors")).unwrap();
    edit(&mut t);
    Tensor::write_safetensors(&t, dir.path().join("model.safetensors")).unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    match ClipEncoder::load(dir, &LoadOptions::default()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_extra_and_misshaped_tensors_are_all_reported() {
    let dir = edited(|t| {
        t.retain(|(n, _)| n != "text_projection.weight");
        t.push(("vision_model.extra.weight".into(), Tensor::zeros([2], tch::kind::FLOAT_CPU)));
        for (n, v) in t.iter_mut() {
            if n == "vision_model.post_layernorm.weight" {
                *v = Tensor::zeros([7], tch::kind::FLOAT_CPU);
            }
        }
    });
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors"), "{e}");
    assert!(e.contains("missing text_projection.weight"), "{e}");
    assert!(e.contains("unexpected vision_model.extra.weight"), "{e}");
    assert!(e.contains("vision_model.post_layernorm.weight has shape [7]"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn position_ids_buffers_are_tolerated() {
    let dir = edited(|t| {
        let ids = Tensor::arange(77, tch::kind::INT64_CPU).view([1, 77]);
        t.push(("text_model.embeddings.position_ids".into(), ids));
    });
    ClipEncoder::load(dir.path(), &LoadOptions::default()).unwrap();
}

#[test]
fn config_that_disagrees_with_the_weights() {
    let dir = edited(|_| {});
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    std::fs::write(&cfg, text).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("missing vision_model.encoder.layers.2.self_attn.q_proj.weight"), "{e}");
    assert!(e.contains("more"), "{e}");
}

#[test]
fn broken_files_name_the_file() {
    let dir = edited(|_| {});
    let p = dir.path();

    std::fs::write(p.join("config.json"), "{not json").unwrap();
    let e = load_err(p);
    assert!(e.contains("config.json") && e.contains("not valid JSON"), "{e}");

    std::fs::copy(tiny_clip("a").join("config.json"), p.join("config.json")).unwrap();
    std::fs::write(p.join("model.safetensors"), b"garbage").unwrap();
    let e = load_err(p);
    assert!(e.contains("model.safetensors"), "{e}");

    std::fs::remove_file(p.join("model.safetensors")).unwrap();
    std::fs::write(p.join("pytorch_model.bin"), b"").unwrap();
    let e = load_err(p);
    assert!(e.contains("pytorch_model.bin") && e.contains("save_pretrained"), "{e}");

    std::fs::remove_file(p.join("tokenizer.json")).unwrap();
    let e = load_err(p);
    assert!(e.contains("tokenizer.json"), "{e}");

    let e = load_err(&p.join("nope"));
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn empty_batches() {
    let enc = ClipEncoder::load(&tiny_clip("a"), &LoadOptions::default()).unwrap();
    let out = enc.encode_texts::<&str>(&[]).unwrap();
    assert_eq!(out.keys.size(), [0, 16]);
    assert!(enc.encode_images(&[0.0; 5], 1).is_err());
}
