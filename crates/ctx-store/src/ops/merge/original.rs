//! [`merge`](crate::merge) of the original's files: the shards of a sharded run into the file a
//! single run writes.

use std::path::Path;

use crate::error::Result;
use crate::kind::CaptionLayout;
use crate::ops::merge::common::{IMAGES_PER_BATCH, disjoint, merge_error, sources_agree};
use crate::original::caption_db::{CaptionDb, CaptionDbWriter};
use crate::original::txt::{TxtCtxReader, TxtCtxWriter};
use crate::original::vis::{VisCtxReader, VisCtxWriter};
use crate::provenance::Provenance;
use crate::schema::View;

pub(crate) fn vis(
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
    let ids = readers.iter().map(VisCtxReader::keys).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    let mut w = VisCtxWriter::create(output, fdim, provenance, overwrite)?;
    for (r, ids) in readers.iter().zip(&ids) {
        for chunk in ids.chunks(IMAGES_PER_BATCH) {
            let mut rows = Vec::with_capacity(chunk.len() * fdim);
            for id in chunk {
                rows.extend(r.get(id)?);
            }
            w.write_batch(chunk, &rows)?;
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
    let readers = inputs.iter().map(TxtCtxReader::open).collect::<Result<Vec<_>>>()?;
    let ids = readers.iter().map(TxtCtxReader::keys).collect::<Result<Vec<_>>>()?;
    disjoint(inputs, &ids)?;
    // k and d of each input that holds an image, from its first image.
    let mut sizes: Option<(usize, usize, &Path)> = None;
    for (r, ids) in readers.iter().zip(&ids) {
        let Some(id) = ids.first() else { continue };
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

pub(crate) fn caption_db(
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
    let filled = dbs.iter().filter(|db| !db.is_empty());
    sources_agree(&filled.map(|db| (db.path(), db.has_sources())).collect::<Vec<_>>())?;
    let mut w = CaptionDbWriter::create(output, layout, kd, fd, provenance, overwrite)?;
    for db in &dbs {
        for part in 0..db.parts() {
            let c = db.load_part(part)?;
            if !c.captions.is_empty() {
                let sources = db.sources_part(part)?;
                w.write_batch_with_sources(&c.keys, &c.features, &c.captions, sources.as_deref())?;
            }
        }
    }
    let rows = w.rows();
    w.finish()?;
    Ok(rows)
}
