//! `CtxFile.preload`: images read on all cores into one contiguous buffer per dataset and view.
//!
//! A txt_ctx in h5py's default layout is read by `ctx-store` straight into the arrays
//! (`TxtCtxReader::preload_arrays`, see `preload_direct`). Any other txt_ctx (HAAV's compressed
//! files) is read in chunks of about [`CHUNK_BYTES`] through `ctx-store`'s parallel preload,
//! each chunk copied (in parallel) into the output buffers and dropped, so that the peak memory
//! is the output plus one chunk. The buffers are zero-allocated (pages come from the kernel as
//! they are first written) and go to numpy without a copy.

use std::path::Path;

use ctx_store::{Error, ImageId, Result, TxtArrays, TxtEntry, View, ViewEntry};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::arrays::{self, PackedTexts};
use crate::file::Reader;

/// Bytes of entries read per chunk of a txt_ctx preload.
const CHUNK_BYTES: usize = 256 << 20;

/// A preload: contiguous arrays whose first axis is the image.
pub(crate) struct Loaded {
    pub(crate) ids: Vec<ImageId>,
    pub(crate) arrays: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// name, shape of one image's texts, the texts of all images one after the other.
    pub(crate) texts: Vec<(String, Vec<usize>, PackedTexts)>,
}

impl Loaded {
    /// `{"ids": ..., "arrays": {name: array}, "texts": {name: (bytes, offsets, shape)}}`.
    pub(crate) fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("ids", crate::key::to_py(py, self.ids)?)?;
        let a = PyDict::new(py);
        for (name, shape, values) in self.arrays {
            a.set_item(name, arrays::owned(py, &shape, values)?)?;
        }
        out.set_item("arrays", a)?;
        let t = PyDict::new(py);
        for (name, shape, packed) in self.texts {
            let (bytes, offsets) = packed.into_py(py)?;
            t.set_item(name, (bytes, offsets, shape))?;
        }
        out.set_item("texts", t)?;
        Ok(out)
    }
}

/// Preloads `ids` (`all`: every image of the file, in its order) of any kind of file.
pub(crate) fn load(
    reader: &Reader,
    ids: Vec<ImageId>,
    all: bool,
    k: Option<usize>,
    texts: bool,
) -> Result<Loaded> {
    match reader {
        Reader::Txt(r) => {
            let direct = |ids: &[ImageId], shape, texts| r.preload_arrays(ids, shape, texts);
            txt(r.path(), &ids, |c| r.preload_ids(c), direct, k, |_| 1, texts)
        }
        Reader::HaavTxt(r) => {
            let direct = |_: &[ImageId], _, _| Ok(None);
            txt(r.path(), &ids, |c| r.preload_ids(c), direct, k, View::haav_factor, texts)
        }
        Reader::Vis(r) if all => {
            let v = r.preload()?;
            let shape = vec![v.ids.len(), v.fdim];
            Ok(Loaded {
                ids: v.ids,
                arrays: vec![("features".into(), shape, v.features)],
                texts: vec![],
            })
        }
        Reader::Vis(r) => {
            let fdim = r.fdim();
            let mut features = vec![0f32; ids.len() * fdim];
            if fdim > 0 {
                features.par_chunks_mut(fdim).zip(ids.par_iter()).try_for_each(|(out, id)| {
                    let v = r.get(id)?;
                    out.copy_from_slice(&v);
                    Ok::<_, Error>(())
                })?;
            }
            let shape = vec![ids.len(), fdim];
            Ok(Loaded { ids, arrays: vec![("features".into(), shape, features)], texts: vec![] })
        }
        Reader::HaavVis(r) => {
            let v = if all {
                r.preload()?
            } else {
                let entries = ids.par_iter().map(|id| r.get(id)).collect::<Result<Vec<_>>>()?;
                let tokens = entries.first().map_or(0, |e| e.tokens);
                let mut v = ctx_store::HaavVisCtx {
                    ids: ids.clone(),
                    tokens,
                    fdim_grid: r.fdim_grid(),
                    fdim_pooled: r.fdim_pooled(),
                    grid: Vec::with_capacity(ids.len() * tokens * r.fdim_grid()),
                    pooled: Vec::with_capacity(ids.len() * r.fdim_pooled()),
                };
                for (e, id) in entries.into_iter().zip(&ids) {
                    if e.tokens != tokens {
                        return Err(Error::Shape {
                            path: r.path().to_owned(),
                            object: format!("{id}/grid_features"),
                            expected: format!("({tokens}, {}) as the first image's", r.fdim_grid()),
                            found: vec![e.tokens, r.fdim_grid()],
                        });
                    }
                    v.grid.extend_from_slice(&e.grid);
                    v.pooled.extend_from_slice(&e.pooled);
                }
                v
            };
            let n = v.ids.len();
            Ok(Loaded {
                ids: v.ids,
                arrays: vec![
                    ("grid_features".into(), vec![n, v.tokens, v.fdim_grid], v.grid),
                    ("pooled_features".into(), vec![n, v.fdim_pooled], v.pooled),
                ],
                texts: vec![],
            })
        }
        Reader::CaptionDb(db) => Ok(captions(db.load()?, "features", texts)),
        Reader::HaavCaptionDb(db) => Ok(captions(db.load()?, "values", texts)),
    }
}

fn captions(c: ctx_store::Captions, features: &str, texts: bool) -> Loaded {
    let n = c.captions.len();
    let mut packed = PackedTexts::with_capacity(if texts { n } else { 0 }, 48);
    if texts {
        c.captions.iter().for_each(|s| packed.push(s));
    }
    Loaded {
        ids: (0..n as u64).map(ImageId::from).collect(),
        arrays: vec![
            ("keys".into(), vec![n, c.key_dim], c.keys),
            (features.into(), vec![n, c.feature_dim], c.features),
        ],
        texts: if texts { vec![("captions".into(), vec![], packed)] } else { vec![] },
    }
}

/// The shape kept of one view: crops, texts per crop, feature size.
#[derive(Clone, Copy)]
pub(crate) struct Kept {
    pub(crate) view: View,
    pub(crate) crops: usize,
    pub(crate) k: usize,
    pub(crate) d: usize,
}

impl Kept {
    fn per_image(&self) -> usize {
        self.crops * self.k * self.d
    }

    /// One image's `scores`/`texts` shape (h5py's: `(k,)` for `whole`).
    pub(crate) fn row_shape(&self) -> Vec<usize> {
        self.view.shape(self.k)
    }

    /// Checks that `v` (of image `id`) holds at least the kept rows, at the kept size.
    fn check(&self, path: &Path, id: &ImageId, v: &ViewEntry) -> Result<()> {
        if v.crops != self.crops || v.k < self.k || v.d != self.d {
            return Err(Error::Shape {
                path: path.to_owned(),
                object: ctx_store::schema::txt_object(id, self.view, ctx_store::schema::FEATURES),
                expected: format!(
                    "{} crops of at least {} texts of size {} (as the first image's)",
                    self.crops, self.k, self.d
                ),
                found: vec![v.crops, v.k, v.d],
            });
        }
        Ok(())
    }

    /// Copies the kept rows of `v`'s features into `out` (`per_image` values).
    fn copy_features(&self, v: &ViewEntry, out: &mut [f32]) {
        let (k, d) = (self.k, self.d);
        for c in 0..self.crops {
            let src = c * v.k;
            out[c * k * d..(c + 1) * k * d].copy_from_slice(&v.features[src * d..(src + k) * d]);
        }
    }

    /// Copies the kept scores of `v` into `out` (`crops * k` values).
    fn copy_scores(&self, v: &ViewEntry, out: &mut [f32]) {
        let k = self.k;
        for c in 0..self.crops {
            out[c * k..(c + 1) * k].copy_from_slice(&v.scores[c * v.k..c * v.k + k]);
        }
    }
}

/// A txt_ctx of either profile: `read` is the reader's parallel preload of some ids, `direct`
/// its preload straight into the arrays (`None`: not for this file), `factor` the rows per crop
/// of each view as a multiple of `k` (HAAV's 8k, 2k, k).
fn txt(
    path: &Path,
    ids: &[ImageId],
    read: impl Fn(&[ImageId]) -> Result<Vec<TxtEntry>>,
    direct: impl Fn(&[ImageId], [(usize, usize); 3], bool) -> Result<Option<TxtArrays>>,
    k: Option<usize>,
    factor: fn(View) -> usize,
    texts: bool,
) -> Result<Loaded> {
    let n = ids.len();
    let first = match ids.first() {
        Some(id) => Some(read(std::slice::from_ref(id))?.remove(0)),
        None => None,
    };
    let kept: Vec<Kept> = View::ALL
        .iter()
        .map(|&view| {
            let (stored, d) = first.as_ref().map_or((0, 0), |e| (e.view(view).k, e.view(view).d));
            let k = k.map_or(stored, |k| (k * factor(view)).min(stored));
            Kept { view, crops: view.crops(), k, d }
        })
        .collect();
    let shape = [0, 1, 2].map(|i| (kept[i].k, kept[i].d));
    if let Some(a) = direct(ids, shape, texts)? {
        return Ok(crate::preload_direct::loaded(ids, &kept, a));
    }
    let full_bytes = first.as_ref().map_or(1, |e| {
        View::ALL.iter().map(|&v| e.view(v).features.len() * 4 + e.view(v).texts.len() * 64).sum()
    });
    let chunk = (CHUNK_BYTES / full_bytes.max(1)).max(1);

    let mut features: Vec<Vec<f32>> = kept.iter().map(|v| vec![0f32; n * v.per_image()]).collect();
    let mut scores: Vec<Vec<f32>> = kept.iter().map(|v| vec![0f32; n * v.crops * v.k]).collect();
    let mut packed: Vec<PackedTexts> = kept
        .iter()
        .map(|v| PackedTexts::with_capacity(if texts { n * v.crops * v.k } else { 0 }, 40))
        .collect();

    for (c, part) in ids.chunks(chunk).enumerate() {
        let entries = read(part)?;
        let start = c * chunk;
        for (i, v) in kept.iter().enumerate() {
            for e in &entries {
                v.check(path, &e.id, e.view(v.view))?;
            }
            let per = v.per_image();
            let rows = v.crops * v.k;
            let f = &mut features[i][start * per..(start + part.len()) * per];
            let s = &mut scores[i][start * rows..(start + part.len()) * rows];
            if per > 0 {
                f.par_chunks_mut(per)
                    .zip(entries.par_iter())
                    .for_each(|(f, e)| v.copy_features(e.view(v.view), f));
            }
            if rows > 0 {
                s.par_chunks_mut(rows)
                    .zip(entries.par_iter())
                    .for_each(|(s, e)| v.copy_scores(e.view(v.view), s));
            }
            if texts {
                for e in &entries {
                    let ev = e.view(v.view);
                    for c in 0..v.crops {
                        ev.texts[c * ev.k..c * ev.k + v.k].iter().for_each(|t| packed[i].push(t));
                    }
                }
            }
        }
    }

    let mut arrays = Vec::new();
    let mut text_arrays = Vec::new();
    for ((v, (f, s)), p) in kept.iter().zip(features.into_iter().zip(scores)).zip(packed) {
        let mut fshape = vec![n];
        fshape.extend(v.row_shape());
        let sshape = fshape.clone();
        fshape.push(v.d);
        arrays.push((format!("{}/features", v.view), fshape, f));
        arrays.push((format!("{}/scores", v.view), sshape, s));
        if texts {
            text_arrays.push((format!("{}/texts", v.view), v.row_shape(), p));
        }
    }
    Ok(Loaded { ids: ids.to_vec(), arrays, texts: text_arrays })
}
