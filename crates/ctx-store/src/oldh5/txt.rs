//! `txt_ctx.hdf5` written as h5py writes the original's: per image an old-style group holding
//! `whole`, `five` and `nine`, each with contiguous `features` and `scores` (float32) and `texts`
//! (variable-length UTF-8 strings in one global heap collection per image).

use std::path::Path;

use rayon::prelude::*;

use super::encode::{self, Addr, Buf, Entry};
use super::file::{NativeFile, RootAttr, io};
use crate::bounds;
use crate::entry::TxtEntry;
use crate::error::{Error, Result};
use crate::id::{self, ImageId};
use crate::schema::{self, View};
use crate::testing::{self, WritePoint};

const _: () = assert!(cfg!(target_endian = "little"), "floats are written as they lie in memory");

/// Images laid out in parallel per hand-over to the writing thread.
const LAYOUT_GROUP: usize = 16;

/// Objects per global heap collection (their indices are 16-bit).
const COLLECTION_OBJECTS: usize = 65_535;

/// A `txt_ctx.hdf5` being written by this module.
pub(crate) struct NativeTxt {
    f: NativeFile,
}

impl NativeTxt {
    /// Creates `path` with string attributes `attributes` at the root.
    pub(crate) fn create(
        path: &Path,
        attributes: &[(&str, &str)],
        overwrite: bool,
    ) -> Result<Self> {
        let attributes: Vec<RootAttr> =
            attributes.iter().map(|&(name, value)| RootAttr::Str(name, value)).collect();
        Ok(Self { f: NativeFile::create(path, &attributes, overwrite)? })
    }

    /// Opens an existing file to add images, if it is in h5py's default format (`None`
    /// otherwise). `complete` are the ids of its complete images (checked by the caller through
    /// HDF5); any other member of the root group is dropped from the index, to be written again.
    pub(crate) fn append(path: &Path, complete: &[ImageId]) -> Result<Option<Self>> {
        let keep: std::collections::HashSet<&str> = complete.iter().map(ImageId::as_str).collect();
        Ok(NativeFile::append(path, |name| keep.contains(name))?.map(|f| Self { f }))
    }

    /// Before a file is opened to be continued: rolls it back to its last sync if the machine
    /// restarted since (a power cut may have torn what was committed after it); see `synced`.
    pub(crate) fn recover(path: &Path) -> Result<()> {
        NativeFile::recover(path)
    }

    /// Writes a batch of images and commits it.
    pub(crate) fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        let names = entries
            .iter()
            .map(|e| id::checked_name(&self.f.path, &e.id).map(|n| n.into_owned()))
            .collect::<Result<Vec<String>>>()?;
        self.f.check_new(names.iter().map(String::as_str))?;
        // Other threads lay the images out (in groups, in parallel) while this one writes
        // them: the layout (every byte but the floats) costs about a fifth of the write itself.
        let path = &self.f.path;
        let start = self.f.eof;
        let (placed, end) = std::thread::scope(|s| -> Result<(Vec<(u64, RelEntry)>, u64)> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Image, Vec<u8>, u64)>>(64);
            s.spawn(move || {
                let mut at = start;
                for group in entries.chunks(LAYOUT_GROUP) {
                    let laid: Result<Vec<Image>> =
                        group.par_iter().map(|e| Image::lay_out(path, e)).collect();
                    let laid = match laid {
                        Ok(laid) => laid,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    for mut im in laid {
                        let base = at;
                        at += im.len();
                        let meta = std::mem::take(&mut im.meta).relocate(base);
                        if tx.send(Ok((im, meta, base))).is_err() {
                            return;
                        }
                    }
                }
            });
            let fio = &mut self.f.io;
            let (mut placed, mut end) = (Vec::with_capacity(entries.len()), start);
            for (i, laid) in rx.into_iter().enumerate() {
                let (im, meta, base) = laid?;
                let mut slices: Vec<&[u8]> = im.floats.clone();
                slices.push(&meta);
                fio.write_at(base, &slices).map_err(io(path, &im.name))?;
                testing::at(WritePoint::Entry(i));
                placed.push((base, im.entry));
                end = base + im.len();
            }
            Ok((placed, end))
        })?;
        if placed.len() != entries.len() {
            return Err(Error::Input {
                path: self.f.path.clone(),
                object: "/".into(),
                message: "the layout thread stopped".into(),
            });
        }
        let members =
            placed.into_iter().zip(names).map(|((base, entry), name)| (name, entry.at(base)));
        self.f.commit_batch(members, end)?;
        tracing::debug!(n = entries.len(), "txt_ctx batch written");
        Ok(())
    }

    /// Closes the file, synced and recorded as finished: every batch is committed already.
    pub(crate) fn finish(self) -> Result<()> {
        self.f.finish()
    }
}

/// One image laid out at a yet unknown address: its floats (written as they are), then `meta`,
/// every other byte (texts, headers, groups) at the end.
struct Image<'e> {
    name: String,
    floats: Vec<&'e [u8]>,
    meta: Buf,
    /// Bytes of the image: floats and `meta`.
    len: u64,
    /// The image group's root entry, addresses relative to the image's start.
    entry: RelEntry,
}

#[derive(Clone, Copy)]
struct RelEntry(Entry);

impl RelEntry {
    fn at(self, base: u64) -> Entry {
        let abs = |a: Addr| match a {
            Addr::Rel(r) => Addr::Abs(base + r),
            a => a,
        };
        let e = self.0;
        Entry { name: e.name, header: abs(e.header), group: e.group.map(|(t, h)| (abs(t), abs(h))) }
    }
}

impl<'e> Image<'e> {
    fn len(&self) -> u64 {
        self.len
    }

    fn lay_out(path: &Path, e: &'e TxtEntry) -> Result<Self> {
        let name = e.id.to_string();
        let mut floats = Vec::with_capacity(6);
        let mut float_at = 0u64;
        let mut places = Vec::with_capacity(3);
        if let Some(message) = e.views_error() {
            return Err(Error::Input { path: path.to_owned(), object: name, message });
        }
        let held: Vec<View> = e.views().collect();
        for &view in &held {
            let v = e.view(view);
            if v.crops != view.crops() {
                return Err(Error::Input {
                    path: path.to_owned(),
                    object: format!("{name}/{view}"),
                    message: format!("{} crops, expected {}", v.crops, view.crops()),
                });
            }
            let shape = view.shape(v.k);
            let mut fshape = shape.clone();
            fshape.push(v.d);
            let obj = |d: &str| schema::txt_object(&e.id, view, d);
            let n = v.crops * v.k;
            for (dataset, dims, len) in [
                (schema::FEATURES, &fshape, v.features.len()),
                (schema::SCORES, &shape, v.scores.len()),
                (schema::TEXTS, &shape, v.texts.len()),
            ] {
                if len != if dataset == schema::FEATURES { n * v.d } else { n } {
                    bounds::check_len(path, &obj(dataset), dims, len)?;
                }
            }
            if let Some(t) = v.texts.iter().find(|t| t.contains('\0')) {
                return Err(Error::Input {
                    path: path.to_owned(),
                    object: obj(schema::TEXTS),
                    message: format!("text {t:?} holds a NUL byte, which HDF5 strings cannot"),
                });
            }
            let features: &[u8] = bytemuck::cast_slice(&v.features);
            let scores: &[u8] = bytemuck::cast_slice(&v.scores);
            places.push((float_at, float_at + features.len() as u64, shape, fshape));
            float_at += (features.len() + scores.len()) as u64;
            floats.extend([features, scores]);
        }
        let aligned = float_at.next_multiple_of(8);
        if aligned > float_at {
            floats.push(&[0; 8][..(aligned - float_at) as usize]);
        }
        let text_bytes: usize = held
            .iter()
            .flat_map(|&v| e.view(v).texts.iter())
            .map(|t| 16 + t.len().next_multiple_of(8) + 16)
            .sum();
        let mut b = Buf::with_capacity(aligned, text_bytes + 4096 + 12 * 1024);
        // Texts: every view's, in one collection (more for over 65,535 texts).
        let texts: Vec<&[u8]> =
            held.iter().flat_map(|&v| e.view(v).texts.iter().map(|t| t.as_bytes())).collect();
        let collections: Vec<u64> = texts
            .chunks(COLLECTION_OBJECTS)
            .map(|c| encode::global_heap(&mut b, c.iter().copied()))
            .collect();
        let mut text_index = 0;
        let mut views = Vec::with_capacity(3);
        for (view, (features_at, scores_at, shape, fshape)) in held.iter().copied().zip(places) {
            let v = e.view(view);
            let refs_at = b.here();
            for t in &v.texts {
                let (c, i) = (text_index / COLLECTION_OBJECTS, text_index % COLLECTION_OBJECTS);
                encode::vlen_ref(&mut b, t.len(), Addr::Rel(collections[c]), i as u32 + 1);
                text_index += 1;
            }
            let data = |at: u64, bytes: usize| {
                encode::contiguous(
                    if bytes == 0 { Addr::Abs(super::UNDEF) } else { Addr::Rel(at) },
                    bytes as u64,
                )
            };
            let f32_dataset = |b: &mut Buf, at: u64, dims: &[usize]| {
                let bytes = dims.iter().product::<usize>() * 4;
                let messages = vec![
                    encode::dataspace(dims),
                    encode::f32_type(),
                    encode::fill_value(false),
                    data(at, bytes),
                ];
                dataset(encode::object_header(b, messages))
            };
            let features = f32_dataset(&mut b, features_at, &fshape);
            let scores = f32_dataset(&mut b, scores_at, &shape);
            let texts = dataset(encode::object_header(
                &mut b,
                vec![
                    encode::dataspace(&shape),
                    encode::vlen_str_type(),
                    encode::fill_value(true),
                    data(refs_at, v.texts.len() * 16),
                ],
            ));
            let members =
                [(schema::FEATURES, features), (schema::SCORES, scores), (schema::TEXTS, texts)];
            views.push((view.name(), encode::small_group(&mut b, &members)));
        }
        let entry = encode::small_group(&mut b, &views);
        Ok(Self { name, floats, len: b.here(), meta: b, entry: RelEntry(entry) })
    }
}

fn dataset(header: u64) -> Entry {
    Entry { name: 0, header: Addr::Rel(header), group: None }
}
