//! [`merge`](crate::merge) of compact txt_ctx files (either profile): their rows and scores
//! copied, no join; every input made with the same caption database.

use std::path::Path;

use crate::compact::read::read_rows;
use crate::compact::write::{CompactBatch, CompactTxtWriter, CompactView};
use crate::compact::{CompactIds, CompactInfo, compact_info};
use crate::error::Result;
use crate::h5;
use crate::id::ImageId;
use crate::ops::merge::common::{disjoint, merge_error};
use crate::provenance::Provenance;

/// Images copied per batch written.
const IMAGES_PER_BATCH: usize = 4096;

/// Merges compact inputs into a compact `output`; `first` is the first input's root.
pub(crate) fn txt(
    inputs: &[&Path],
    first: CompactInfo,
    output: &Path,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<usize> {
    let mut all = Vec::with_capacity(inputs.len());
    for &p in inputs {
        let Some(info) = compact_info(p)? else {
            let message = format!(
                "the full layout, but {} is compact: convert one with ctx-convert",
                inputs[0].display()
            );
            return Err(merge_error(p, message));
        };
        if info.caption_db.sha256 != first.caption_db.sha256 || info.profile != first.profile {
            let message = format!(
                "made with caption database {} ({} profile, hash {}), but {} with {} ({} \
                 profile, hash {})",
                info.caption_db.name,
                info.profile,
                info.caption_db.sha256,
                inputs[0].display(),
                first.caption_db.name,
                first.profile,
                first.caption_db.sha256
            );
            return Err(merge_error(p, message));
        }
        let (file, checks) = h5::open_checked(p)?;
        let (ids, views) = read_rows(p, &checks, &file, &info, Path::new(&info.caption_db.name))?;
        all.push((info, ids, views));
    }
    // Views and k of every input that holds an image.
    let mut shape: Option<(Vec<_>, &Path)> = None;
    for ((info, ids, _), &p) in all.iter().zip(inputs) {
        if ids.is_empty() {
            continue;
        }
        match &shape {
            None => shape = Some((info.views.clone(), p)),
            Some((views, q)) if *views != info.views => {
                let message = format!("views {:?}, but {} has {views:?}", info.views, q.display());
                return Err(merge_error(p, message));
            }
            Some(_) => {}
        }
    }
    let ids: Vec<Vec<ImageId>> = all.iter().map(|(_, ids, _)| ids.clone()).collect();
    disjoint(inputs, &ids)?;
    // Names where any input holds names (an integer id is then written as its name).
    let id_kind = match all.iter().any(|(info, _, _)| info.ids == CompactIds::Names) {
        true => CompactIds::Names,
        false => CompactIds::Integers,
    };
    let mut w = CompactTxtWriter::create_with(
        output,
        first.profile,
        first.caption_db.clone(),
        None,
        id_kind,
        provenance,
        overwrite,
    )?;
    for (_, ids, views) in &all {
        for (c, chunk) in ids.chunks(IMAGES_PER_BATCH).enumerate() {
            let start = c * IMAGES_PER_BATCH;
            let views = views
                .iter()
                .map(|v| {
                    let per = v.view.crops() * v.k;
                    let span = start * per..(start + chunk.len()) * per;
                    CompactView {
                        view: v.view,
                        k: v.k,
                        rows: v.rows[span.clone()].to_vec(),
                        scores: v.scores[span].to_vec(),
                    }
                })
                .collect();
            w.write_compact(&CompactBatch { ids: chunk.to_vec(), views })?;
        }
    }
    w.finish()?;
    Ok(ids.iter().map(Vec::len).sum())
}
