//! `--check` of the original's files: every image and view readable, one `k` and `d` in a
//! txt_ctx, scores descending; the caption database's captions and L2-normalised keys.

use std::path::Path;

use crate::error::Result;
use crate::id::ImageId;
use crate::ops::check::report::{
    Report, check_scores, check_unit_rows, image_ids, unexpected_views,
};
use crate::original::caption_db::CaptionDb;
use crate::original::txt::TxtCtxReader;
use crate::original::vis::VisCtxReader;
use crate::schema::{self, View};

/// vis_ctx: every image readable with the file's `fdim`.
pub(crate) fn vis(path: &Path, report: &mut Report) -> Result<()> {
    let r = match VisCtxReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            report.push_err("/", &e);
            return Ok(());
        }
    };
    for id in &image_ids(path, report)? {
        if let Err(e) = r.get(id) {
            report.push_err(id.to_string(), &e);
        }
    }
    Ok(())
}

/// txt_ctx: every view of every image readable (`whole`, with or without `five` and `nine`), one `k` and `d` in all, scores descending.
pub(crate) fn txt(path: &Path, report: &mut Report) -> Result<()> {
    let r = TxtCtxReader::open(path)?;
    let mut dims: Option<(usize, usize, &ImageId)> = None;
    for id in &image_ids(path, report)? {
        let known = match r.image_members(id.as_str())? {
            Some(members) => {
                let name = id.to_string();
                for member in members.iter().filter(|m| View::from_name(m).is_none()) {
                    report.push(format!("{name}/{member}"), "unexpected member");
                }
                true
            }
            None => unexpected_views(path, id, report)?,
        };
        if !known {
            continue;
        }
        let views = match r.views(id) {
            Ok(v) => v,
            Err(e) => {
                report.push_err(id.to_string(), &e);
                continue;
            }
        };
        // Five without nine or nine without five: the missing one is reported.
        let views = if views.len() == 2 { View::ALL.to_vec() } else { views };
        for view in views {
            let object = format!("{id}/{view}");
            let v = match r.view(id, view, None, None) {
                Ok(v) => v,
                Err(e) => {
                    report.push_err(&object, &e);
                    continue;
                }
            };
            match dims {
                None => dims = Some((v.k, v.d, id)),
                Some((k, d, first)) if (k, d) != (v.k, v.d) => report.push(
                    &object,
                    format!("k = {}, d = {}, but image {first} has k = {k}, d = {d}", v.k, v.d),
                ),
                Some(_) => {}
            }
            check_scores(report, &object, &v);
        }
    }
    Ok(())
}

/// The caption database: as many captions as rows, L2-normalised keys.
pub(crate) fn caption_db(path: &Path, report: &mut Report) {
    let db = match CaptionDb::open(path) {
        Ok(db) => db,
        Err(e) => {
            report.push_err("/", &e);
            return;
        }
    };
    report.entries = db.len();
    let data = match db.load() {
        Ok(d) => d,
        Err(e) => {
            report.push_err("/", &e);
            return;
        }
    };
    if data.captions.len() != db.len() {
        report.push(
            schema::CAPTIONS,
            format!("{} captions for {} rows", data.captions.len(), db.len()),
        );
    }
    check_unit_rows(report, schema::KEYS, &data.keys, data.key_dim);
}
