//! Bounds on the sizes `config.json` gives, checked before any of them is used: a negative, zero
//! (where the model needs at least one), inconsistent or absurdly large size is an error naming
//! the key, not an allocation or a libtorch abort. The bounds are far above any CLIP released
//! (ViT-bigG: width 1,664, MLP 8,192, 48 layers, 257 positions; vocabularies up to 250k).

use crate::config::ClipConfig;

/// Largest width (`hidden_size`, `intermediate_size`, `projection_dim`).
pub(crate) const MAX_WIDTH: i64 = 1 << 16;
/// Largest `vocab_size`.
pub(crate) const MAX_VOCAB: i64 = 1 << 24;
/// Largest `num_hidden_layers`.
pub(crate) const MAX_LAYERS: i64 = 1024;
/// Largest sequence: `max_position_embeddings`, and the vision tower's patches plus one.
pub(crate) const MAX_POSITIONS: i64 = 1 << 16;
/// Largest `image_size`.
pub(crate) const MAX_IMAGE_SIZE: i64 = 1 << 14;

/// `key = value` must lie in `range`.
fn within(key: &str, value: i64, range: std::ops::RangeInclusive<i64>) -> Result<(), String> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(format!("{key} = {value}: must be in {}..={}", range.start(), range.end()))
}

fn divisible(key: &str, value: i64, by_key: &str, by: i64) -> Result<(), String> {
    if value % by == 0 {
        return Ok(());
    }
    Err(format!("{key} = {value} is not divisible by {by_key} = {by}"))
}

fn eps(key: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(format!("{key} = {value}: must be a finite number >= 0"))
}

/// The sizes of one tower's encoder (`tower` is `text_config` or `vision_config`).
fn encoder(tower: &str, hidden: i64, inter: i64, heads: i64, layers: i64) -> Result<(), String> {
    let key = |k: &str| format!("{tower}.{k}");
    within(&key("hidden_size"), hidden, 1..=MAX_WIDTH)?;
    within(&key("intermediate_size"), inter, 1..=MAX_WIDTH)?;
    within(&key("num_attention_heads"), heads, 1..=hidden)?;
    divisible(&key("hidden_size"), hidden, &key("num_attention_heads"), heads)?;
    within(&key("num_hidden_layers"), layers, 0..=MAX_LAYERS)
}

/// Checks every size of `c`; the message names the key (`text_config.hidden_size`, ...).
pub(crate) fn check(c: &ClipConfig) -> Result<(), String> {
    let t = &c.text_config;
    within("text_config.vocab_size", t.vocab_size, 1..=MAX_VOCAB)?;
    within("text_config.max_position_embeddings", t.max_position_embeddings, 1..=MAX_POSITIONS)?;
    let v = &c.vision_config;
    let (th, vh) = (t.hidden_size, v.hidden_size);
    encoder("text_config", th, t.intermediate_size, t.num_attention_heads, t.num_hidden_layers)?;
    encoder("vision_config", vh, v.intermediate_size, v.num_attention_heads, v.num_hidden_layers)?;
    eps("text_config.layer_norm_eps", t.layer_norm_eps)?;
    eps("vision_config.layer_norm_eps", v.layer_norm_eps)?;
    if v.num_channels != 3 {
        return Err(format!(
            "vision_config.num_channels = {}: only RGB images (3 channels) are supported",
            v.num_channels
        ));
    }
    within("vision_config.image_size", v.image_size, 1..=MAX_IMAGE_SIZE)?;
    within("vision_config.patch_size", v.patch_size, 1..=v.image_size)?;
    divisible("vision_config.image_size", v.image_size, "vision_config.patch_size", v.patch_size)?;
    let side = v.image_size / v.patch_size;
    if side * side + 1 > MAX_POSITIONS {
        return Err(format!(
            "vision_config.image_size / patch_size = {side} patches a side: {} positions exceed \
             {MAX_POSITIONS}",
            side * side + 1
        ));
    }
    within("projection_dim", c.projection_dim, 1..=MAX_WIDTH)?;
    Ok(())
}
