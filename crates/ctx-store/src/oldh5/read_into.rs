//! Preloading `txt_ctx.hdf5` in h5py's default format straight into contiguous arrays, one per
//! dataset and view with the image along the first axis ([`TxtArrays`]): the floats are read
//! from the file into their place in the arrays, the texts appended to one buffer per view, with
//! no allocation per image or per text.
//!
//! The images are read in waves of consecutive images, each wave split into tasks that rayon
//! runs in parallel, each task filling its own part of the float arrays and appending its texts
//! to a buffer of its own; after each wave the task buffers are appended to the view's texts in
//! order and their offsets shifted by what was before them. A wave's texts are thus the only
//! memory over the arrays themselves.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::read::{Dataset, ImageReader, NativeTxtFile};
use crate::entry::{PackedTexts, TxtArrays, ViewArrays};
use crate::error::{Error, Result};
use crate::id::Key;
use crate::schema::{self, View};

/// Waves per preload (fewer for few images): a wave's texts are held twice for a moment.
const WAVES: usize = 16;
/// Tasks per thread and wave: the tail of a wave, where threads wait for the last task, is
/// about one task long.
const TASKS_PER_THREAD: usize = 8;

/// Images `ids` of `file` into arrays of `shape` (texts kept per crop `k` and feature size `d`
/// of `whole`, `five`, `nine`; a view with `k == 0` is left empty), texts included with
/// `texts`. `None`: an image laid out otherwise than h5py's default (the caller reads the file
/// through the HDF5 library instead). An image with fewer than `k` texts per crop, or another
/// feature size, is an [`Error::Shape`].
pub(crate) fn preload_arrays<K: Key + Sync>(
    file: &NativeTxtFile<'_>,
    ids: &[K],
    shape: [(usize, usize); 3],
    texts: bool,
) -> Result<Option<TxtArrays>> {
    let n = ids.len();
    let mut views = [0, 1, 2].map(|i| {
        let (crops, (k, d)) = (View::ALL[i].crops(), shape[i]);
        let rows = crops * k;
        ViewArrays {
            crops,
            k,
            d,
            // Zeroed by the kernel as the pages are first written: nothing is touched twice.
            features: vec![0f32; n * rows * d],
            scores: vec![0f32; n * rows],
            texts: texts
                .then(|| PackedTexts { bytes: Vec::new(), offsets: vec![0u64; n * rows + 1] }),
        }
    });
    let threads = rayon::current_num_threads().max(1);
    let wave = n.div_ceil(WAVES).max(threads * TASKS_PER_THREAD).max(1);
    let per_task = wave.div_ceil(threads * TASKS_PER_THREAD).max(1);

    let mut packed: Vec<(Vec<u8>, bool)> =
        views.iter().map(|v| (Vec::new(), v.texts.is_some())).collect();
    let sizes: Vec<(usize, usize, bool)> =
        views.iter().map(|v| (v.crops * v.k, v.d, v.texts.is_some())).collect();

    // What is left of each view's arrays to fill: features, scores, text ends.
    let mut rest: Vec<Part<'_>> = views
        .iter_mut()
        .map(|v| Part {
            features: &mut v.features,
            scores: &mut v.scores,
            ends: v.texts.as_mut().map_or(&mut [][..], |t| &mut t.offsets[1..]),
        })
        .collect();
    for wave_ids in ids.chunks(wave) {
        let mut tasks = Vec::with_capacity(wave_ids.len().div_ceil(per_task));
        for task_ids in wave_ids.chunks(per_task) {
            let m = task_ids.len();
            let parts: Vec<Part<'_>> = rest
                .iter_mut()
                .zip(&sizes)
                .map(|(r, &(rows, d, t))| r.take(m, rows, d, t))
                .collect();
            tasks.push((task_ids, parts));
        }
        // The first task (in file order) that failed or met an image laid out otherwise: the
        // tasks after it stop, the ones before it run to their end, so that the error reported
        // is the first failing image's whichever thread meets an error first.
        let stopped_at = AtomicUsize::new(usize::MAX);
        let results: Vec<Result<Option<Vec<Texts<'_>>>>> = tasks
            .into_par_iter()
            .enumerate()
            .map_init(
                || file.reader(),
                |r, (i, (task_ids, mut parts))| -> Result<Option<Vec<Texts<'_>>>> {
                    let mut bytes: Vec<Vec<u8>> = vec![Vec::new(); 3];
                    for (j, id) in task_ids.iter().enumerate() {
                        if stopped_at.load(Ordering::Relaxed) < i {
                            return Ok(None); // an earlier task's outcome is reported
                        }
                        let loaded = r.load_into(&id.name(), &shape, j, &mut parts, &mut bytes);
                        if !matches!(loaded, Ok(Some(()))) {
                            stopped_at.fetch_min(i, Ordering::Relaxed);
                            return loaded.map(|_| None);
                        }
                    }
                    Ok(Some(bytes.into_iter().zip(parts).map(|(b, p)| (b, p.ends)).collect()))
                },
            )
            .collect();
        // The first task's error or `None` in file order.
        let Some(done) = results.into_iter().collect::<Result<Option<Vec<_>>>>()? else {
            return Ok(None);
        };
        for task in done {
            for ((chunk, ends), (all, held)) in task.into_iter().zip(packed.iter_mut()) {
                if !*held {
                    continue;
                }
                let base = all.len() as u64;
                ends.iter_mut().for_each(|e| *e += base);
                all.extend_from_slice(&chunk);
            }
        }
    }
    drop(rest);
    for (v, (bytes, _)) in views.iter_mut().zip(packed) {
        if let Some(t) = v.texts.as_mut() {
            t.bytes = bytes;
        }
    }
    Ok(Some(TxtArrays { views }))
}

/// A task's texts of one view: their bytes, and where each ends in them.
type Texts<'a> = (Vec<u8>, &'a mut [u64]);

/// The part of one view's arrays that some images fill.
struct Part<'a> {
    features: &'a mut [f32],
    scores: &'a mut [f32],
    /// Where each text ends in the texts buffer (empty without texts).
    ends: &'a mut [u64],
}

impl<'a> Part<'a> {
    /// The first `m` images' part (`rows` texts per image, features of size `d`), leaving the
    /// rest in `self`.
    fn take(&mut self, m: usize, rows: usize, d: usize, texts: bool) -> Part<'a> {
        let (features, f) = std::mem::take(&mut self.features).split_at_mut(m * rows * d);
        let (scores, s) = std::mem::take(&mut self.scores).split_at_mut(m * rows);
        let (ends, e) =
            std::mem::take(&mut self.ends).split_at_mut(if texts { m * rows } else { 0 });
        (self.features, self.scores, self.ends) = (f, s, e);
        Part { features, scores, ends }
    }
}

impl ImageReader<'_> {
    /// Image `id` into the `j`-th image of `parts` (one per view), its texts appended to
    /// `bytes` (one per view); `None`: laid out otherwise than h5py's default.
    fn load_into(
        &mut self,
        id: &str,
        shape: &[(usize, usize); 3],
        j: usize,
        parts: &mut [Part<'_>],
        bytes: &mut [Vec<u8>],
    ) -> Result<Option<()>> {
        let Some(members) = self.image(id)? else { return Ok(None) };
        let mut at = [None; 3];
        for (name, header) in members {
            let Some(view) = View::from_name(&name) else { return Ok(None) };
            at[View::ALL.iter().position(|v| *v == view).expect("a view")] = Some(header);
        }
        // As `load`: all three views, or `whole` alone.
        if !matches!(at, [Some(_), Some(_), Some(_)] | [Some(_), None, None]) {
            return Ok(None);
        }
        for (i, &view) in View::ALL.iter().enumerate() {
            let (k, d) = shape[i];
            if k == 0 {
                continue;
            }
            let object = format!("{id}/{view}");
            let path = self.r.path;
            let Some(header) = at[i] else {
                return Err(Error::Missing { path: path.to_owned(), object });
            };
            let Some(h) = self.view_header(header, view, &object)? else { return Ok(None) };
            if h.k < k || h.d != d {
                return Err(Error::Shape {
                    path: path.to_owned(),
                    object: schema::txt_object(id, view, schema::FEATURES),
                    expected: format!(
                        "{} crops of at least {k} texts of size {d} (as the first image's)",
                        h.crops
                    ),
                    found: vec![h.crops, h.k, h.d],
                });
            }
            let rows = h.crops * k;
            let p = &mut parts[i];
            let features = &mut p.features[j * rows * d..(j + 1) * rows * d];
            let scores = &mut p.scores[j * rows..(j + 1) * rows];
            let (crops, stored) = (h.crops, h.k);
            if self
                .rows_into(&h.features, h.values, crops, stored * d, k * d, features, &object)?
                .is_none()
                || self.rows_into(&h.scores, h.n, crops, stored, k, scores, &object)?.is_none()
            {
                return Ok(None);
            }
            if p.ends.is_empty() {
                continue;
            }
            let (ends, out) = (&mut p.ends[j * rows..(j + 1) * rows], &mut bytes[i]);
            let keep = |t: usize| t % stored < k;
            // The view's texts are checked for UTF-8 at once; where that fails, one by one, for
            // the error naming the text.
            let start = out.len();
            let mut next = 0;
            let pushed = self.text_bytes(&h.texts, h.n, &object, keep, |s| {
                out.extend_from_slice(s);
                ends[next] = out.len() as u64;
                next += 1;
            })?;
            if pushed.is_some() && !utf8(&out[start..], start as u64, ends) {
                out.truncate(start);
                next = 0;
                self.texts(&h.texts, h.n, &object, keep, |s| {
                    out.extend_from_slice(s.as_bytes());
                    ends[next] = out.len() as u64;
                    next += 1;
                })?;
            }
            if pushed.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    }

    /// The first `kept` of every `stored` values of each of `crops` rows of float dataset `d`
    /// (`total` values) into `out`; `None`: not stored as h5py stores it.
    #[allow(clippy::too_many_arguments)]
    fn rows_into(
        &mut self,
        d: &Dataset,
        total: usize,
        crops: usize,
        stored: usize,
        kept: usize,
        out: &mut [f32],
        object: &str,
    ) -> Result<Option<()>> {
        let bytes = total.checked_mul(4);
        if bytes.is_none_or(|b| b as u64 != d.size || (b > 0 && d.size > self.r.len)) {
            return Ok(None);
        }
        if kept == stored {
            if !out.is_empty() {
                self.r.read_into(d.at, bytemuck::cast_slice_mut(out), object)?;
            }
            return Ok(Some(()));
        }
        for (c, row) in out.chunks_exact_mut(kept).take(crops).enumerate() {
            self.r.read_into(
                d.at + (c * stored * 4) as u64,
                bytemuck::cast_slice_mut(row),
                object,
            )?;
        }
        Ok(Some(()))
    }
}

/// Whether `texts`, strings one after the other, each ending at an offset of `ends` (counted
/// from `base` bytes before `texts`), are each UTF-8: the whole is, and no string ends inside
/// a character.
fn utf8(texts: &[u8], base: u64, ends: &[u64]) -> bool {
    if texts.is_ascii() {
        return true;
    }
    std::str::from_utf8(texts)
        .is_ok_and(|all| ends.iter().all(|&e| all.is_char_boundary((e - base) as usize)))
}

#[cfg(test)]
mod tests {
    use super::utf8;

    #[test]
    fn utf8_of_texts_checked_at_once() {
        let texts = "a dogé".as_bytes(); // "a ", "dog", "é": 2, 5, 7
        assert!(utf8(texts, 0, &[2, 5, 7]));
        assert!(utf8(texts, 10, &[12, 15, 17]), "offsets after earlier texts");
        // "é" split over two strings: the whole is UTF-8, the strings are not.
        assert!(!utf8(texts, 0, &[2, 6, 7]));
        assert!(!utf8(b"a \xff", 0, &[2, 3]));
        assert!(utf8(b"", 0, &[]));
    }
}
