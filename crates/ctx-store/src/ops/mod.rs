//! Operations over whole files, either profile: what a file is and its summary (`inspect`), its
//! validation (`check`), joining shards (`merge`); and batching preloaded entries into tensors
//! (`batch`, feature `tch`).

#[cfg(feature = "tch")]
pub(crate) mod batch;
pub(crate) mod check;
pub(crate) mod commit;
pub(crate) mod inspect;
pub(crate) mod merge;
