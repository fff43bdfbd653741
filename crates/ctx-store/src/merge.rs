//! Joining files of one kind into one: the shards of a sharded run into the file a single run
//! writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Error, FileKind, Provenance, Result, TxtCtxReader,
    TxtCtxWriter, View, VisCtxReader, VisCtxWriter, detect, haav,
};

/// What [`merge`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// The kind of the inputs and of the output.
    pub kind: FileKind,
    /// Entries written: images, or phrases of a caption database.
    pub entries: usize,
}

/// Images copied per batch written (vis_ctx, txt_ctx).
pub(crate) const IMAGES_PER_BATCH: usize = 64;

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
    let entries = match kind {
        FileKind::VisCtx => merge_vis(&inputs, output, provenance, overwrite)?,
        FileKind::TxtCtx => merge_txt(&inputs, output, provenance, overwrite)?,
        FileKind::CaptionDb(layout) => {
            merge_captions(&inputs, output, layout, provenance, overwrite)?
        }
        FileKind::HaavVisCtx => haav::merge::vis(&inputs, output, provenance, overwrite)?,
        FileKind::HaavTxtCtx => haav::merge::txt(&inputs, output, provenance, overwrite)?,
        FileKind::HaavCaptionDb => haav::merge::caption_db(&inputs, output, provenance, overwrite)?,
    };
    tracing::debug!(inputs = inputs.len(), entries, output = ?output, "merged");
    Ok(Merged { kind, entries })
}

pub(crate) fn merge_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Merge { path: path.to_owned(), message: message.into() }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned())
}

/// Checks that no image id is in two inputs (`ids[i]` holds the ids of `inputs[i]`).
pub(crate) fn disjoint(inputs: &[&Path], ids: &[Vec<u64>]) -> Result<()> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (j, list) in ids.iter().enumerate() {
        for &id in list {
            if let Some(i) = seen.insert(id, j) {
                let message = format!("image {id} is also in {}", inputs[i].display());
                return Err(merge_error(inputs[j], message));
            }
        }
    }
    Ok(())
}

fn merge_vis(
    inputs: &[&Path],
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let readers = inputs.iter().map(VisCtxReader::open).collect::<Result<Vec<_>>>()?;
    let fdim = readers[0].fdim();
    if let Some(r) = readers.iter().find(|r| r.fdim() != fdim) {
        let message = format!("fdim {}, but {} has fdim {fdim}", r.fdim(), inputs[0].display());
        return Err(merge_error(r.path(), message));
    }
    let ids = readers.iter().map(VisCtxReader::ids).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    let mut w = VisCtxWriter::create(output, fdim, provenance, overwrite)?;
    for (r, ids) in readers.iter().zip(&ids) {
        for chunk in ids.chunks(IMAGES_PER_BATCH) {
            let mut rows = Vec::with_capacity(chunk.len() * fdim);
            for &id in chunk {
                rows.extend(r.get(id)?);
            }
            w.write_batch(chunk, &rows)?;
        }
    }
    w.finish()?;
    Ok(ids.iter().map(Vec::len).sum())
}

fn merge_txt(
    inputs: &[&Path],
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let readers = inputs.iter().map(TxtCtxReader::open).collect::<Result<Vec<_>>>()?;
    let ids = readers.iter().map(TxtCtxReader::ids).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    // k and d of each input that holds an image, from its first image.
    let mut sizes: Option<(usize, usize, &Path)> = None;
    for (r, ids) in readers.iter().zip(&ids) {
        let Some(&id) = ids.first() else { continue };
        let v = r.view(id, View::Whole, None, None)?;
        match sizes {
            None => sizes = Some((v.k, v.d, r.path())),
            Some((k, d, p)) if (k, d) != (v.k, v.d) => {
                let message =
                    format!("k = {}, d = {}, but {} has k = {k}, d = {d}", v.k, v.d, p.display());
                return Err(merge_error(r.path(), message));
            }
            Some(_) => {}
        }
    }
    let mut w = TxtCtxWriter::create(output, provenance, overwrite)?;
    for (r, ids) in readers.iter().zip(&ids) {
        for chunk in ids.chunks(IMAGES_PER_BATCH) {
            w.write_batch(&r.preload_ids(chunk)?)?;
        }
    }
    w.finish()?;
    Ok(ids.iter().map(Vec::len).sum())
}

fn merge_captions(
    inputs: &[&Path],
    output: &Path,
    layout: CaptionLayout,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let dbs = inputs.iter().map(CaptionDb::open).collect::<Result<Vec<_>>>()?;
    let sizes = |db: &CaptionDb| (db.key_dim(), db.feature_dim());
    // An empty database of the original layout has no sizes: take them from one with rows.
    let reference = dbs.iter().find(|db| !db.is_empty()).unwrap_or(&dbs[0]);
    let (kd, fd) = sizes(reference);
    if let Some(db) = dbs.iter().find(|db| !db.is_empty() && sizes(db) != (kd, fd)) {
        let message = format!(
            "key/feature sizes ({}, {}), but {} has ({kd}, {fd})",
            db.key_dim(),
            db.feature_dim(),
            reference.path().display()
        );
        return Err(merge_error(db.path(), message));
    }
    let mut w = CaptionDbWriter::create(output, layout, kd, fd, provenance, overwrite)?;
    for db in &dbs {
        for part in 0..db.parts() {
            let c = db.load_part(part)?;
            if !c.captions.is_empty() {
                w.write_batch(&c.keys, &c.features, &c.captions)?;
            }
        }
    }
    let rows = w.rows();
    w.finish()?;
    Ok(rows)
}
