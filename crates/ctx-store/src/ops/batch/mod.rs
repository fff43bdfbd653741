//! Batching preloaded entries into tch tensors the way the training code of each profile does
//! (feature `tch`): the original's M2 (`original`) and HAAV's fields (`haav`).

pub(crate) mod haav;
pub(crate) mod original;
