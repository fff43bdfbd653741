//! Joining files of one kind into one: the shards of a sharded run into the file a single run
//! writes.

use std::path::Path;

use crate::error::{Error, Result};
use crate::kind::FileKind;
use crate::ops::inspect::detect;
use crate::ops::merge::common::{canonical, merge_error};
use crate::provenance::Provenance;

mod common;
mod compact;
mod haav;
mod original;

/// What [`merge`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// The kind of the inputs and of the output.
    pub kind: FileKind,
    /// Entries written: images, or phrases of a caption database.
    pub entries: usize,
}

/// Writes `output` with `provenance`: a file of the inputs' kind holding every entry of
/// `inputs`, input after input. Refuses to replace an existing `output` unless `overwrite`, and
/// to write over one of the inputs.
///
/// Every input is checked before the output is created: all of one kind (caption databases: of
/// one layout), with the same sizes (`fdim`; `k` and `d`; key and feature sizes), and no image
/// in two inputs ([`Error::Merge`] names the input at fault). An input without entries (an empty
/// shard) adds nothing. Caption databases in the original layout keep their inputs' batch
/// groups, numbered on, so that shards cut at batch multiples merge into a single run's groups.
pub fn merge(
    inputs: &[impl AsRef<Path>],
    output: impl AsRef<Path>,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<Merged> {
    let output = output.as_ref();
    let inputs: Vec<&Path> = inputs.iter().map(AsRef::as_ref).collect();
    let Some(&first) = inputs.first() else {
        return Err(merge_error(output, "no input files"));
    };
    if output.exists() {
        if !overwrite {
            return Err(Error::Exists { path: output.to_owned() });
        }
        let out = canonical(output);
        if let Some(p) = inputs.iter().find(|p| canonical(p) == out) {
            return Err(merge_error(p, "is the output too"));
        }
    }
    let kind = detect(first)?;
    for &p in &inputs[1..] {
        let k = detect(p)?;
        if k != kind {
            return Err(merge_error(p, format!("{k}, but {} is {kind}", first.display())));
        }
    }
    if let Some(info) = crate::compact::compact_info(first)? {
        let entries = compact::txt(&inputs, info, output, provenance, overwrite)?;
        return Ok(Merged { kind, entries });
    }
    let entries = match kind {
        FileKind::VisCtx => original::vis(&inputs, output, provenance, overwrite)?,
        FileKind::TxtCtx => original::txt(&inputs, output, provenance, overwrite)?,
        FileKind::CaptionDb(layout) => {
            original::caption_db(&inputs, output, layout, provenance, overwrite)?
        }
        FileKind::HaavVisCtx => haav::vis(&inputs, output, provenance, overwrite)?,
        FileKind::HaavTxtCtx => haav::txt(&inputs, output, provenance, overwrite)?,
        FileKind::HaavCaptionDb => haav::caption_db(&inputs, output, provenance, overwrite)?,
    };
    tracing::debug!(inputs = inputs.len(), entries, output = ?output, "merged");
    Ok(Merged { kind, entries })
}
