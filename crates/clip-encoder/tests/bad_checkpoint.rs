//! A checkpoint that does not fit the model is reported, naming the file and the tensors; sizes in
//! `config.json` that are negative, zero, inconsistent or absurd are errors naming the key, before
//! anything is allocated; a batch too large to allocate is an error naming `--batch-size`.

use std::path::Path;

use clip_encoder::{ClipEncoder, Error, LoadOptions, Tensor};
use serde_json::{Value, json};
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

/// A copy of the tiny checkpoint whose `file` (a JSON file) has `pointer` set to `value`.
fn with_json(file: &str, pointer: &str, value: Value) -> tempfile::TempDir {
    let dir = edited(|_| {});
    let path = dir.path().join(file);
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let obj = cfg.pointer_mut(parent).and_then(Value::as_object_mut).unwrap();
    obj.insert(key.to_owned(), value);
    std::fs::write(&path, cfg.to_string()).unwrap();
    dir
}

#[test]
fn bad_sizes_in_config_json_name_the_key() {
    // (pointer into config.json, value, what the message must name besides the file)
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/text_config/hidden_size", json!(-32), "text_config.hidden_size = -32"),
        ("/vision_config/hidden_size", json!(0), "vision_config.hidden_size = 0"),
        ("/text_config/intermediate_size", json!(0), "text_config.intermediate_size = 0"),
        ("/text_config/vocab_size", json!(-1), "text_config.vocab_size = -1"),
        ("/text_config/vocab_size", json!(1_i64 << 40), "text_config.vocab_size"),
        ("/vision_config/num_hidden_layers", json!(-2), "vision_config.num_hidden_layers = -2"),
        ("/text_config/num_hidden_layers", json!(1_000_000_000), "text_config.num_hidden_layers"),
        ("/vision_config/num_attention_heads", json!(0), "vision_config.num_attention_heads = 0"),
        (
            "/vision_config/num_attention_heads",
            json!(3),
            "not divisible by vision_config.num_attention_heads = 3",
        ),
        ("/text_config/num_attention_heads", json!(64), "text_config.num_attention_heads = 64"),
        ("/vision_config/image_size", json!(0), "vision_config.image_size = 0"),
        ("/vision_config/image_size", json!(-224), "vision_config.image_size = -224"),
        ("/vision_config/image_size", json!(1_i64 << 40), "vision_config.image_size"),
        (
            "/vision_config/image_size",
            json!(230),
            "vision_config.image_size = 230 is not divisible by vision_config.patch_size = 32",
        ),
        ("/vision_config/patch_size", json!(0), "vision_config.patch_size = 0"),
        ("/vision_config/patch_size", json!(448), "vision_config.patch_size = 448"),
        ("/vision_config/image_size", json!(16384), "positions exceed"),
        ("/vision_config/num_channels", json!(4), "vision_config.num_channels = 4"),
        (
            "/text_config/max_position_embeddings",
            json!(0),
            "text_config.max_position_embeddings = 0",
        ),
        (
            "/text_config/max_position_embeddings",
            json!(1_i64 << 50),
            "text_config.max_position_embeddings",
        ),
        ("/vision_config/layer_norm_eps", json!(-1e-5), "vision_config.layer_norm_eps"),
        ("/projection_dim", json!(0), "projection_dim = 0"),
        ("/projection_dim", json!(-16), "projection_dim = -16"),
        ("/projection_dim", json!(1_i64 << 20), "projection_dim = 1048576"),
    ];
    for (pointer, value, names) in cases {
        let dir = with_json("config.json", pointer, value.clone());
        let err = match ClipEncoder::load(dir.path(), &LoadOptions::default()) {
            Ok(_) => panic!("config.json with {pointer} = {value} loaded"),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(matches!(err, Error::Config { .. }), "{pointer} = {value}: {msg}");
        assert!(msg.contains("config.json") && msg.contains(names), "{pointer} = {value}: {msg}");
    }
}

#[test]
fn bad_preprocessor_config_names_the_key() {
    for (pointer, value, names) in [
        ("/image_std", json!([0.2, 0.0, 0.2]), "image_std"),
        ("/image_std", json!([0.2, -1.0, 0.2]), "image_std"),
        ("/image_mean", json!([1e300, 0.0, 0.0]), "image_mean"),
        ("/size", json!(225), "differ"),
    ] {
        let dir = with_json("preprocessor_config.json", pointer, value.clone());
        let err = match ClipEncoder::load(dir.path(), &LoadOptions::default()) {
            Ok(_) => panic!("preprocessor_config.json with {pointer} = {value} loaded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("preprocessor_config.json") && err.contains(names), "{err}");
    }
}

#[test]
fn a_batch_too_large_to_allocate_is_an_error_naming_the_flag() {
    let enc = ClipEncoder::load(&tiny_clip("a"), &LoadOptions::default()).unwrap();
    let s = i64::from(enc.preprocess().size);
    // 2^36 images as a view of one (no memory): the patch embedding's output alone would take
    // 2^36 x 49 patches x 32 floats, far more than any machine has.
    let rows = 1_i64 << 36;
    let one = Tensor::zeros([1, 3, s, s], tch::kind::FLOAT_CPU);
    let huge = one.expand([rows, 3, s, s], false);
    let err = match enc.encode_image_tensor(&huge) {
        Ok(out) => panic!("encoded {:?}", out.pooled.size()),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(matches!(err, Error::OutOfMemory { .. }), "{msg}");
    assert!(msg.contains("--batch-size") && msg.contains(&rows.to_string()), "{msg}");
    assert_eq!(msg.lines().count(), 1, "libtorch's backtrace is cut: {msg}");
    // The encoder still works afterwards.
    let out = enc.encode_image_tensor(&one).unwrap();
    assert_eq!(out.pooled.size(), [1, enc.config().vision_config.hidden_size]);
}

#[test]
fn pixels_of_the_wrong_shape_are_an_error() {
    let enc = ClipEncoder::load(&tiny_clip("a"), &LoadOptions::default()).unwrap();
    let s = i64::from(enc.preprocess().size);
    for shape in [vec![2, 4, s, s], vec![3, s, s], vec![2, 3, s / 2, s], vec![1, 3, s, s + 32]] {
        let t = Tensor::zeros(shape.as_slice(), tch::kind::FLOAT_CPU);
        match enc.encode_image_tensor(&t) {
            Ok(out) => panic!("{shape:?} encoded to {:?}", out.pooled.size()),
            Err(e) => assert!(
                matches!(e, Error::Input(_)) && e.to_string().contains(&format!("{shape:?}")),
                "{shape:?}: {e}"
            ),
        }
    }
}
