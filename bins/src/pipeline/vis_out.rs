//! The visual context's file, `vis_ctx.hdf5`, as both image steps write it: `encode-images`,
//! and `retrieve-captions --vis-out` from the same forward pass as its searches. One identity,
//! so that either step resumes the other's file.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clip_encoder::ImageOutputs;
use ctx_store::{HaavVisCtxReader, HaavVisCtxWriter, ImageId, Profile, VisCtxReader, VisCtxWriter};

use super::Common;
use super::images;
use super::output::{Open, RunIdentity, canonical, decide};
use super::sources::ImageArgs;

/// The provenance of a vis_ctx file: the same whichever step writes it (`encode-images`, or
/// `retrieve-captions --vis-out`), so that either resumes the other's file.
pub fn identity(
    images: &ImageArgs,
    model: &Path,
    model_sha256: &str,
    shard: Option<super::Shard>,
    common: &Common,
) -> RunIdentity {
    let mut arguments = images.provenance();
    arguments.extend(
        serde_json::json!({
            "model": canonical(model),
            "model_sha256": model_sha256,
            "shard": shard.map(|s| s.to_string()),
            "half": common.half,
            "profile": common.profile.name(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    RunIdentity { tool: "encode-images", arguments: arguments.into() }
}

/// The vision outputs a vis_ctx of `profile` is written from.
pub fn outputs(profile: Profile) -> ImageOutputs {
    match profile {
        Profile::Original => ImageOutputs::Pooled,
        Profile::Haav => ImageOutputs::WithGrid,
    }
}

/// A vis_ctx writer of either profile.
pub enum VisWriter {
    Original(VisCtxWriter),
    Haav(HaavVisCtxWriter),
}

impl VisWriter {
    /// Writes a batch's images, leaving out those in `skip` (already in the file); returns how
    /// many it wrote.
    pub fn write(&mut self, e: &images::Encoded, skip: Option<&HashSet<ImageId>>) -> Result<usize> {
        let keep: Vec<usize> = (0..e.items.len())
            .filter(|&i| !skip.is_some_and(|s| s.contains(&e.items[i].id)))
            .collect();
        if keep.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&ImageId> = keep.iter().map(|&i| &e.items[i].id).collect();
        let whole = |t| rows_of(&images::whole_views(t, e.items.len())?, &keep);
        match self {
            VisWriter::Original(w) => w.write_batch(&ids, &whole(&e.pooled)?)?,
            VisWriter::Haav(w) => {
                // The model stage kept the whole views' grids only.
                let grid = e.grid.as_ref().context("the model stage kept no grid")?;
                let tokens = grid.size().get(1).copied().unwrap_or(0) as usize;
                w.write_batch(&ids, tokens, &rows_of(grid, &keep)?, &whole(&e.embeds)?)?
            }
        }
        Ok(ids.len())
    }

    pub fn finish(self) -> Result<()> {
        match self {
            VisWriter::Original(w) => w.finish()?,
            VisWriter::Haav(w) => w.finish()?,
        }
        Ok(())
    }
}

/// Rows `keep` of `t`, as f32 values.
fn rows_of(t: &clip_encoder::Tensor, keep: &[usize]) -> Result<Vec<f32>> {
    let rows = t.size().first().copied().unwrap_or(0) as usize;
    if keep.len() == rows {
        return Ok(clip_encoder::to_vec_f32(t)?);
    }
    let index: Vec<i64> = keep.iter().map(|&i| i as i64).collect();
    let index = clip_encoder::Tensor::f_from_slice(&index)?.f_to_device(t.device())?;
    Ok(clip_encoder::to_vec_f32(&t.f_index_select(0, &index)?)?)
}

/// Creates `out`, or opens it to resume (its provenance must be `id`'s); the writer and the
/// images it holds already.
pub fn open(
    out: &Path,
    id: &RunIdentity,
    enc: &clip_encoder::ClipEncoder,
    profile: Profile,
    overwrite: bool,
) -> Result<(VisWriter, HashSet<ImageId>)> {
    let width = enc.config().vision_config.hidden_size as usize;
    let proj = enc.config().projection_dim as usize;
    let prov = id.provenance();
    let (writer, done) = match profile {
        Profile::Original => {
            let existing = |p: &Path| VisCtxReader::open(p)?.provenance();
            let (w, done) = match decide(out, id, overwrite, existing)? {
                Open::Create => (VisCtxWriter::create(out, width, &prov, true)?, Vec::new()),
                Open::Resume => VisCtxWriter::append(out)?,
            };
            if w.fdim() != width {
                bail!("{}: fdim {} but the model gives {width}", out.display(), w.fdim());
            }
            (VisWriter::Original(w), done)
        }
        Profile::Haav => {
            let existing = |p: &Path| HaavVisCtxReader::open(p)?.provenance();
            let (w, done) = match decide(out, id, overwrite, existing)? {
                Open::Create => {
                    (HaavVisCtxWriter::create(out, width, proj, &prov, true)?, Vec::new())
                }
                Open::Resume => HaavVisCtxWriter::append(out)?,
            };
            if (w.fdim_grid(), w.fdim_pooled()) != (width, proj) {
                bail!(
                    "{}: fdim_grid {}, fdim_pooled {}, but the model gives {width} and {proj}",
                    out.display(),
                    w.fdim_grid(),
                    w.fdim_pooled()
                );
            }
            (VisWriter::Haav(w), done)
        }
    };
    Ok((writer, done.into_iter().collect()))
}
