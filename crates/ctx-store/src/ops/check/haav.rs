//! `--check` of HAAV's files: what HAAV's training code needs of them. Its `TxtCtxField` reads
//! `f.attrs["fdim"]` and slices `whole/features[:8k]`, `five/features[:, :2k]`,
//! `nine/features[:, :k]` next to rank ids `arange(8k)`, `arange(2k)`, `arange(k)`, so every view
//! must hold at least that many texts per crop; its `VisCtxField` reads `fdim_grid` and
//! `fdim_pooled` and stacks every image's grid.

use std::path::Path;

use crate::error::Result;
use crate::haav::caption_db::HaavCaptionDb;
use crate::haav::txt::HaavTxtCtxReader;
use crate::haav::vis::HaavVisCtxReader;
use crate::id::ImageId;
use crate::ops::check::report::{
    Report, check_finite, check_scores, check_unit_rows, image_ids, unexpected_views,
};
use crate::schema::{self, View};

/// HAAV's vis_ctx: the attributes, every image's two datasets with the attributes' sizes, one
/// number of tokens for all, finite values, L2-normalised pooled embeddings.
pub(crate) fn vis(path: &Path, report: &mut Report) -> Result<()> {
    let r = match HaavVisCtxReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            report.push_err("/", &e);
            return Ok(());
        }
    };
    let mut tokens: Option<(usize, &ImageId)> = None;
    for id in &image_ids(path, report)? {
        let e = match r.get(id) {
            Ok(e) => e,
            Err(e) => {
                report.push_err(id.to_string(), &e);
                continue;
            }
        };
        let (grid, pooled) = (
            format!("{id}/{}", schema::GRID_FEATURES),
            format!("{id}/{}", schema::POOLED_FEATURES),
        );
        match tokens {
            None => tokens = Some((e.tokens, id)),
            Some((t, first)) if t != e.tokens => report.push(
                &grid,
                format!("{} tokens, but image {first} has {t} (HAAV stacks the grids)", e.tokens),
            ),
            Some(_) => {}
        }
        check_finite(report, &grid, &e.grid);
        check_finite(report, &pooled, &e.pooled);
        check_unit_rows(report, &pooled, &e.pooled, r.fdim_pooled());
    }
    Ok(())
}

/// HAAV's txt_ctx: `fdim`, then for every image and view: at least 8k / 2k / k texts per crop,
/// features `fdim` wide and finite, scores finite and descending. `k`: HAAV's training k, by
/// default the file's (the first image's `nine` view).
pub(crate) fn txt(path: &Path, k: Option<usize>, report: &mut Report) -> Result<()> {
    let r = match HaavTxtCtxReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            report.push_err("/", &e);
            return Ok(());
        }
    };
    let ids = image_ids(path, report)?;
    let k = match k {
        Some(k) => k,
        None => ids
            .iter()
            .find_map(|id| r.view(id, View::Nine, None, None).ok().map(|v| v.k))
            .unwrap_or(0),
    };
    report.haav_k = Some(k);
    for id in &ids {
        if !unexpected_views(path, id, report)? {
            continue;
        }
        for view in View::ALL {
            let object = format!("{id}/{view}");
            let v = match r.view(id, view, None, None) {
                Ok(v) => v,
                Err(e) => {
                    report.push_err(&object, &e);
                    continue;
                }
            };
            let need = view.haav_factor() * k;
            if v.k < need || v.k == 0 {
                let slice = match view {
                    View::Whole => format!("[:{need}]"),
                    _ => format!("[:, :{need}]"),
                };
                report.push(
                    format!("{object}/{}", schema::FEATURES),
                    format!(
                        "{} texts per crop; HAAV's TxtCtxField with k = {k} reads {slice} next \
                         to ranks arange({need}): at least {need} (and at least 1) needed",
                        v.k
                    ),
                );
            }
            check_finite(report, &format!("{object}/{}", schema::FEATURES), &v.features);
            check_scores(report, &object, &v);
        }
    }
    Ok(())
}

/// HAAV's caption database: its batch groups, finite keys and values, L2-normalised keys.
pub(crate) fn caption_db(path: &Path, report: &mut Report) {
    let db = match HaavCaptionDb::open(path) {
        Ok(db) => db,
        Err(e) => {
            report.push_err("/", &e);
            return;
        }
    };
    report.entries = db.len();
    for i in 0..db.batches() {
        let part = match db.load_part(i) {
            Ok(p) => p,
            Err(e) => {
                report.push_err(i.to_string(), &e);
                continue;
            }
        };
        let (keys, values) = (format!("{i}/{}", schema::KEYS), format!("{i}/{}", schema::VALUES));
        check_finite(report, &keys, &part.keys);
        check_finite(report, &values, &part.features);
        check_unit_rows(report, &keys, &part.keys, part.key_dim);
    }
}
