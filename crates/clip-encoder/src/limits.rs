//! Bounds on the sizes `config.json` gives, checked before any of them is used: a negative, zero
//! (where the model needs at least one), inconsistent or absurdly large size is an error naming
//! the key, not an allocation or a libtorch abort. The bounds are far above any CLIP released
//! (ViT-bigG: width 1,664, MLP 8,192, 48 layers, 257 positions; vocabularies up to 250k).
//! The rules here know nothing of `config.json`'s structure; `config` applies them to its keys.

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
pub(crate) fn within(
    key: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<(), String> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(format!("{key} = {value}: must be in {}..={}", range.start(), range.end()))
}

pub(crate) fn divisible(key: &str, value: i64, by_key: &str, by: i64) -> Result<(), String> {
    if value % by == 0 {
        return Ok(());
    }
    Err(format!("{key} = {value} is not divisible by {by_key} = {by}"))
}

pub(crate) fn eps(key: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(format!("{key} = {value}: must be a finite number >= 0"))
}

/// The sizes of one tower's encoder (`tower` is `text_config` or `vision_config`).
pub(crate) fn encoder(
    tower: &str,
    hidden: i64,
    inter: i64,
    heads: i64,
    layers: i64,
) -> Result<(), String> {
    let key = |k: &str| format!("{tower}.{k}");
    within(&key("hidden_size"), hidden, 1..=MAX_WIDTH)?;
    within(&key("intermediate_size"), inter, 1..=MAX_WIDTH)?;
    within(&key("num_attention_heads"), heads, 1..=hidden)?;
    divisible(&key("hidden_size"), hidden, &key("num_attention_heads"), heads)?;
    within(&key("num_hidden_layers"), layers, 0..=MAX_LAYERS)
}
