//! [`merge`](crate::merge) of HAAV's files: the shards of a sharded run into the file a single
//! run writes.

use std::path::Path;

use crate::error::Result;
use crate::haav::caption_db::{HaavCaptionDb, HaavCaptionDbWriter};
use crate::haav::txt::{HaavTxtCtxReader, HaavTxtCtxWriter};
use crate::haav::vis::{HaavVisCtxReader, HaavVisCtxWriter};
use crate::ops::merge::common::{IMAGES_PER_BATCH, disjoint, merge_error, sources_agree};
use crate::provenance::Provenance;

pub(crate) fn vis(
    inputs: &[&Path],
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let readers = inputs.iter().map(HaavVisCtxReader::open).collect::<Result<Vec<_>>>()?;
    let dims = |r: &HaavVisCtxReader| (r.fdim_grid(), r.fdim_pooled());
    if let Some(r) = readers.iter().find(|r| dims(r) != dims(&readers[0])) {
        let message = format!(
            "(fdim_grid, fdim_pooled) = {:?}, but {} has {:?}",
            dims(r),
            inputs[0].display(),
            dims(&readers[0])
        );
        return Err(merge_error(r.path(), message));
    }
    let ids = readers.iter().map(HaavVisCtxReader::keys).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    let (fdim_grid, fdim_pooled) = dims(&readers[0]);
    let mut w = HaavVisCtxWriter::create(output, fdim_grid, fdim_pooled, provenance, overwrite)?;
    for (r, ids) in readers.iter().zip(&ids) {
        for chunk in ids.chunks(IMAGES_PER_BATCH) {
            let (mut grid, mut pooled, mut tokens) = (Vec::new(), Vec::new(), 0);
            for id in chunk {
                let e = r.get(id)?;
                tokens = e.tokens;
                grid.extend(e.grid);
                pooled.extend(e.pooled);
            }
            // A different token count is refused by the writer, naming the output.
            w.write_batch(chunk, tokens, &grid, &pooled)
                .map_err(|e| merge_error(r.path(), e.to_string()))?;
        }
    }
    w.finish()?;
    Ok(ids.iter().map(Vec::len).sum())
}

pub(crate) fn txt(
    inputs: &[&Path],
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let readers = inputs.iter().map(HaavTxtCtxReader::open).collect::<Result<Vec<_>>>()?;
    let fdim = readers[0].fdim();
    if let Some(r) = readers.iter().find(|r| r.fdim() != fdim) {
        let message = format!("fdim {}, but {} has fdim {fdim}", r.fdim(), inputs[0].display());
        return Err(merge_error(r.path(), message));
    }
    let ids = readers.iter().map(HaavTxtCtxReader::keys).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    // k of each input that holds an image, from its first image.
    let mut first: Option<([usize; 3], &Path)> = None;
    for (r, ids) in readers.iter().zip(&ids) {
        let Some(id) = ids.first() else { continue };
        let rows = r.view_rows(id)?;
        match first {
            None => first = Some((rows, r.path())),
            Some((want, p)) if want != rows => {
                let message = format!(
                    "texts per crop {rows:?}, but {} has {want:?} (whole, five, nine)",
                    p.display()
                );
                return Err(merge_error(r.path(), message));
            }
            Some(_) => {}
        }
    }
    let mut w = HaavTxtCtxWriter::create(output, fdim, provenance, overwrite)?;
    for (r, ids) in readers.iter().zip(&ids) {
        for chunk in ids.chunks(IMAGES_PER_BATCH) {
            w.write_batch(&r.preload_ids(chunk)?)?;
        }
    }
    w.finish()?;
    Ok(ids.iter().map(Vec::len).sum())
}

pub(crate) fn caption_db(
    inputs: &[&Path],
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let dbs = inputs.iter().map(HaavCaptionDb::open).collect::<Result<Vec<_>>>()?;
    let sizes = |db: &HaavCaptionDb| (db.key_dim(), db.value_dim());
    // An empty database has no sizes: take them from one with rows.
    let reference = dbs.iter().find(|db| !db.is_empty()).unwrap_or(&dbs[0]);
    if let Some(db) = dbs.iter().find(|db| !db.is_empty() && sizes(db) != sizes(reference)) {
        let message = format!(
            "key/value sizes {:?}, but {} has {:?}",
            sizes(db),
            reference.path().display(),
            sizes(reference)
        );
        return Err(merge_error(db.path(), message));
    }
    let (kd, vd) = sizes(reference);
    let filled = dbs.iter().filter(|db| !db.is_empty());
    sources_agree(&filled.map(|db| (db.path(), db.has_sources())).collect::<Vec<_>>())?;
    let mut w = HaavCaptionDbWriter::create(output, kd, vd, provenance, overwrite)?;
    for db in &dbs {
        for part in 0..db.batches() {
            let c = db.load_part(part)?;
            let sources = db.sources_part(part)?;
            w.write_batch_with_sources(&c.keys, &c.features, &c.captions, sources.as_deref())?;
        }
    }
    let rows = w.rows();
    w.finish()?;
    Ok(rows)
}
