//! Preloading `txt_ctx.hdf5` in h5py's default format without the HDF5 library: the root
//! group's index parsed once, then every image's groups, dataset headers, texts and floats read
//! on the calling threads in parallel. Anything outside what h5py writes for the original's
//! datasets (another dtype, a filter, chunks, a newer header version) answers `None`, and the
//! caller reads the file through the HDF5 library instead, which reports what is wrong.

use std::collections::HashMap;
use std::path::Path;

use super::parse::{self, Reader, u32_at, u64_at};
use super::validate::{self, Bad, Collection};
use super::window::Window;
use crate::bounds;
use crate::entry::{TxtEntry, ViewEntry};
use crate::error::Result;
use crate::id::ImageId;
use crate::schema::{self, View};

/// The float32 datatype message h5py writes (little-endian IEEE).
const F32_TYPE: [u8; 20] =
    [0x11, 0x20, 0x1f, 0x00, 4, 0, 0, 0, 0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0];

/// The images of a file whose root group this module can read: id and group header address.
pub(crate) struct NativeIndex {
    images: HashMap<ImageId, u64>,
    ids: Vec<ImageId>,
}

impl NativeIndex {
    /// The root index of `file`, or `None` if it is not in h5py's default format.
    pub(crate) fn read(path: &Path, file: &std::fs::File) -> Result<Option<Self>> {
        let Some(existing) = parse::read(path, file)? else { return Ok(None) };
        let images: HashMap<ImageId, u64> = existing
            .members
            .iter()
            .filter_map(|(name, e)| Some((ImageId::new(&**name), e.header.abs()?)))
            .collect();
        let mut ids: Vec<ImageId> = images.keys().cloned().collect();
        ids.sort_unstable();
        Ok(Some(Self { images, ids }))
    }

    /// The image ids, in [`ImageId`]'s order.
    pub(crate) fn ids(&self) -> &[ImageId] {
        &self.ids
    }
}

/// A file whose root group this module can read, and where each image's group is.
pub(crate) struct NativeTxtFile<'f> {
    path: &'f Path,
    file: &'f std::fs::File,
    len: u64,
    index: &'f NativeIndex,
}

impl<'f> NativeTxtFile<'f> {
    /// Reads the images of `index`, the root index of `file`.
    pub(crate) fn new(
        path: &'f Path,
        file: &'f std::fs::File,
        index: &'f NativeIndex,
    ) -> Result<Self> {
        let len = bounds::file_len(path, file)?;
        Ok(Self { path, file, len, index })
    }

    /// A reader for one thread.
    pub(crate) fn reader(&self) -> ImageReader<'_> {
        let r = Reader::new(self.path, self.file, self.len);
        ImageReader { f: self, r, heaps: Vec::new(), window: Window::default() }
    }
}

/// Reads images of a [`NativeTxtFile`], keeping the last global heap collections it parsed.
pub(crate) struct ImageReader<'f> {
    f: &'f NativeTxtFile<'f>,
    pub(super) r: Reader<'f>,
    heaps: Vec<Collection>,
    /// The stretch of an image read at once.
    window: Window,
}

/// Collections kept per reader (h5py's hold the texts of a few images each).
const COLLECTIONS_KEPT: usize = 4;

impl ImageReader<'_> {
    /// Image `id`, or `None` if it is absent or laid out otherwise than h5py's default (the
    /// caller then asks the HDF5 library, which reports what is wrong). Damaged structures are
    /// errors.
    pub(crate) fn load(&mut self, id: &str) -> Result<Option<TxtEntry>> {
        let Some(members) = self.image(id)? else { return Ok(None) };
        let mut views = [None, None, None];
        for (name, header) in members {
            let Some(view) = View::from_name(&name) else { return Ok(None) };
            let object = format!("{id}/{view}");
            let i = View::ALL.iter().position(|v| *v == view).expect("a view");
            views[i] = self.view(header, view, &object)?;
        }
        let (whole, five, nine) = match views {
            [Some(whole), Some(five), Some(nine)] => (whole, five, nine),
            // A file of the whole view only.
            [Some(whole), None, None] => {
                let d = whole.d;
                (whole, ViewEntry::absent(d), ViewEntry::absent(d))
            }
            _ => return Ok(None),
        };
        Ok(Some(TxtEntry { id: ImageId::new(id), whole, five, nine }))
    }

    /// One view of image `id`, as [`load`](Self::load) reads it.
    pub(crate) fn load_view(&mut self, id: &str, view: View) -> Result<Option<ViewEntry>> {
        let Some(members) = self.image(id)? else { return Ok(None) };
        let Some((_, header)) = members.into_iter().find(|(name, _)| **name == *view.name()) else {
            return Ok(None);
        };
        self.view(header, view, &format!("{id}/{view}"))
    }

    /// The member names of image `id`'s group (`None`: no such group).
    pub(crate) fn member_names(&mut self, id: &str) -> Result<Option<Vec<String>>> {
        let members = self.image(id)?;
        Ok(members.map(|m| m.into_iter().map(|(name, _)| name.into()).collect()))
    }

    /// The members of image `id`'s group, `None` if it has none (absent, or not a group).
    pub(super) fn image(&mut self, id: &str) -> Result<Option<Members>> {
        let Some(&at) = self.f.index.images.get(id) else { return Ok(None) };
        self.window.enter(&mut self.r, at, id)?;
        self.group(at, id)
    }

    /// The members (name, object header) of the old-style group whose header is at `at`.
    fn group(&mut self, at: u64, object: &str) -> Result<Option<Members>> {
        let messages = parse::header_messages(&mut self.r, at, object)?;
        let Some(stab) = messages.iter().find(|m| m.0 == 0x0011 && m.2.len() >= 16) else {
            return Ok(None);
        };
        let (tree, heap) = (u64_at(&stab.2, 0), u64_at(&stab.2, 8));
        let heap = parse::local_heap(&mut self.r, heap, object)?;
        let mut members = Vec::with_capacity(3);
        parse::walk(&mut self.r, tree, &heap, 0, &mut members)?;
        Ok(Some(
            members.into_iter().filter_map(|(name, e)| Some((name, e.header.abs()?))).collect(),
        ))
    }

    fn view(&mut self, at: u64, view: View, object: &str) -> Result<Option<ViewEntry>> {
        let Some(h) = self.view_header(at, view, object)? else { return Ok(None) };
        let (Some(features), Some(scores)) =
            (self.floats(&h.features, h.values, object)?, self.floats(&h.scores, h.n, object)?)
        else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(h.n);
        let pushed = self.texts(&h.texts, h.n, object, |_| true, |s| out.push(s.to_owned()))?;
        if pushed.is_none() {
            return Ok(None);
        }
        let (crops, k, d) = (h.crops, h.k, h.d);
        Ok(Some(ViewEntry { crops, k, d, features, scores, texts: out }))
    }

    /// The datasets of the view group whose header is at `at`, their shapes checked against each
    /// other (`None`: laid out otherwise than h5py's default).
    pub(super) fn view_header(
        &mut self,
        at: u64,
        view: View,
        object: &str,
    ) -> Result<Option<ViewHeader>> {
        let Some(members) = self.group(at, object)? else { return Ok(None) };
        let (mut features, mut scores, mut texts) = (None, None, None);
        for (name, header) in members {
            let d = self.dataset(header, &format!("{object}/{name}"))?;
            match &*name {
                schema::FEATURES => features = d,
                schema::SCORES => scores = d,
                schema::TEXTS => texts = d,
                _ => {}
            }
        }
        let (Some(features), Some(scores), Some(texts)) = (features, scores, texts) else {
            return Ok(None);
        };
        // Shapes: features (k, d) | (crops, k, d); scores and texts (k,) | (crops, k).
        let crops = view.crops();
        let lead: &[usize] = if view == View::Whole { &[] } else { &[crops] };
        let (fd, sd) = (&features.dims, &scores.dims);
        if fd.len() != lead.len() + 2 || fd[..lead.len()] != *lead || *sd != fd[..fd.len() - 1] {
            return Ok(None);
        }
        if texts.dims != *sd || !features.float || !scores.float || !texts.text {
            return Ok(None);
        }
        let (k, d) = (fd[fd.len() - 2], fd[fd.len() - 1]);
        let Some((n, values)) = crops.checked_mul(k).and_then(|n| Some((n, n.checked_mul(d)?)))
        else {
            return Ok(None);
        };
        Ok(Some(ViewHeader { crops, k, d, n, values, features, scores, texts }))
    }

    /// A dataset's shape, type and contiguous storage, if it is of a kind this module reads.
    fn dataset(&mut self, at: u64, object: &str) -> Result<Option<Dataset>> {
        let messages = parse::header_messages(&mut self.r, at, object)?;
        let (mut dims, mut float, mut text, mut data) = (None, false, false, None);
        for (kind, _, body) in &messages {
            match kind {
                0x0000 | 0x0005 | 0x0004 | 0x000e | 0x0012 | 0x000c | 0x0010 => {}
                0x0001 => dims = dataspace(body),
                0x0003 => {
                    float = body.len() >= 20 && body[..20] == F32_TYPE;
                    // Variable-length (class 9) string (type 1), 16 bytes per element.
                    text = body.len() >= 8
                        && body[0] == 0x19
                        && body[1] & 0x0f == 1
                        && u32_at(body, 4) == 16;
                }
                0x0008 => {
                    if body.len() < 18 || body[0] != 3 || body[1] != 1 {
                        return Ok(None); // not contiguous
                    }
                    data = Some((u64_at(body, 2), u64_at(body, 10)));
                }
                _ => return Ok(None), // a filter, or anything else
            }
        }
        let (Some(dims), Some((at, size))) = (dims, data) else { return Ok(None) };
        Ok(Some(Dataset { dims, float, text, at, size }))
    }

    fn floats(&mut self, d: &Dataset, n: usize, object: &str) -> Result<Option<Vec<f32>>> {
        let bytes = n.checked_mul(4);
        if bytes.is_none_or(|b| b as u64 != d.size || (b > 0 && d.size > self.r.len)) {
            return Ok(None);
        }
        let mut v = vec![0f32; n];
        if n > 0 {
            self.r.read_into(d.at, bytemuck::cast_slice_mut(&mut v), object)?;
        }
        Ok(Some(v))
    }

    /// The texts of `d` (`n` elements) whose index `keep` accepts, handed to `push` in order,
    /// each from its global heap collection, which must hold it whole: anything else is damage,
    /// never handed to the HDF5 library.
    pub(super) fn texts(
        &mut self,
        d: &Dataset,
        n: usize,
        object: &str,
        keep: impl Fn(usize) -> bool,
        push: impl FnMut(&str),
    ) -> Result<Option<()>> {
        self.each_text(d, n, object, keep, Collection::string, push)
    }

    /// [`texts`](Self::texts) as bytes whose UTF-8 is left to the caller to check.
    pub(super) fn text_bytes(
        &mut self,
        d: &Dataset,
        n: usize,
        object: &str,
        keep: impl Fn(usize) -> bool,
        push: impl FnMut(&[u8]),
    ) -> Result<Option<()>> {
        self.each_text(d, n, object, keep, Collection::text_bytes, push)
    }

    fn each_text<T: ?Sized>(
        &mut self,
        d: &Dataset,
        n: usize,
        object: &str,
        keep: impl Fn(usize) -> bool,
        get: impl for<'c> Fn(&'c Collection, usize, u32) -> std::result::Result<&'c T, Bad>,
        mut push: impl FnMut(&T),
    ) -> Result<Option<()>>
    where
        for<'a> &'a T: Default,
    {
        if n.checked_mul(16).is_none_or(|b| b as u64 != d.size) || d.size > self.r.len {
            return Ok(None);
        }
        let object = format!("{object}/{}", schema::TEXTS);
        let refs = if n == 0 { Vec::new() } else { self.r.bytes(d.at, n * 16, &object)?.to_vec() };
        for (i, e) in refs.chunks_exact(validate::ELEMENT).enumerate() {
            if !keep(i) {
                continue;
            }
            let (len, at, index) = validate::element(e);
            if at == 0 && len == 0 {
                push(<&T>::default());
                continue;
            }
            let path = self.r.path;
            let c = self.collection(at, &object)?;
            push(get(c, len, index).map_err(|b| b.error(path, &object))?);
        }
        Ok(Some(()))
    }

    /// The collection at `at`, parsed and checked (kept among the last few).
    fn collection(&mut self, at: u64, object: &str) -> Result<&Collection> {
        if let Some(i) = self.heaps.iter().position(|c| c.at == at) {
            return Ok(&self.heaps[i]);
        }
        let path = self.r.path;
        if at.checked_add(16).is_none_or(|end| end > self.r.len) {
            return Err(validate::damaged(path, object, Some(at), "a text's heap past the end"));
        }
        let len = self.r.len;
        let head = self.r.bytes(at, 16, object)?;
        let size = Collection::size(head, at, len).map_err(|b| b.error(path, object))?;
        let bytes = self.r.bytes(at, size as usize, object)?.to_vec();
        let c = Collection::parse(at, bytes).map_err(|b| b.error(path, object))?;
        if self.heaps.len() == COLLECTIONS_KEPT {
            self.heaps.remove(0);
        }
        self.heaps.push(c);
        Ok(self.heaps.last().expect("just pushed"))
    }
}

/// A view group's datasets, checked by [`ImageReader::view_header`]: `n` texts and scores
/// (`crops * k`), `values` floats of features (`n * d`).
pub(super) struct ViewHeader {
    pub(super) crops: usize,
    pub(super) k: usize,
    pub(super) d: usize,
    pub(super) n: usize,
    pub(super) values: usize,
    pub(super) features: Dataset,
    pub(super) scores: Dataset,
    pub(super) texts: Dataset,
}

/// A group's members: names and object header addresses.
type Members = Vec<(Box<str>, u64)>;

/// What [`ImageReader::dataset`] needs of a dataset header.
pub(super) struct Dataset {
    dims: Vec<usize>,
    float: bool,
    text: bool,
    pub(super) at: u64,
    pub(super) size: u64,
}

/// The dimensions of a dataspace message (version 1 or 2), if simple and at most 3-d.
fn dataspace(body: &[u8]) -> Option<Vec<usize>> {
    let (version, rank) = (*body.first()?, usize::from(*body.get(1)?));
    let start = match version {
        1 => 8,
        2 if body.get(3) == Some(&1) => 4, // simple
        _ => return None,
    };
    if rank > 3 || body.len() < start + 8 * rank {
        return None;
    }
    (0..rank).map(|i| usize::try_from(u64_at(body, start + 8 * i)).ok()).collect()
}
