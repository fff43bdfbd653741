//! The contiguous layout through the native writer (`oldh5::caption_db`): a new file, or an
//! existing one whose datasets it can continue (read here through HDF5).

use std::path::Path;

use hdf5::File;

use crate::error::Result;
use crate::h5::{self, h5err};
use crate::kind::{CaptionLayout, FileKind};
use crate::oldh5::caption_db::{Growing, NativeCaptionDb};
use crate::oldh5::caption_groups::NativeCaptionGroups;
use crate::oldh5::chunked::{ChunkRef, Dtype};
use crate::oldh5::file::NativeFile;
use crate::provenance::Provenance;
use crate::schema;

/// The native writer of either layout.
pub(super) enum Native {
    Contiguous(Box<NativeCaptionDb>),
    Original(Box<NativeCaptionGroups>),
}

impl Native {
    /// Appends one batch (checked by the caller) and commits it.
    pub(super) fn write_batch(
        &mut self,
        keys: (&[f32], usize),
        features: (&[f32], usize),
        captions: &[&str],
        sources: Option<&[&str]>,
    ) -> Result<()> {
        match self {
            Native::Contiguous(w) => w.write_batch(keys.0, features.0, captions, sources),
            Native::Original(w) => w.write_batch(keys, features, captions, sources),
        }
    }

    pub(super) fn finish(self) -> Result<()> {
        match self {
            Native::Contiguous(w) => w.finish(),
            Native::Original(w) => w.finish(),
        }
    }
}

/// A new `caption_db.hdf5`: the provenance (and, contiguous, `layout`) root attributes, as the
/// HDF5 writer orders them, and the contiguous layout's empty datasets.
pub(super) fn create(
    path: &Path,
    layout: CaptionLayout,
    key_dim: usize,
    feature_dim: usize,
    provenance: &Provenance,
    overwrite: bool,
) -> Result<Native> {
    let mut attributes = provenance.attributes(FileKind::CaptionDb(layout)).to_vec();
    Ok(match layout {
        CaptionLayout::Contiguous => {
            attributes.push((schema::LAYOUT, schema::LAYOUT_CONTIGUOUS));
            let w = NativeCaptionDb::create(path, &attributes, key_dim, feature_dim, overwrite)?;
            Native::Contiguous(Box::new(w))
        }
        CaptionLayout::Original => {
            let w = NativeCaptionGroups::create(path, &attributes, schema::FEATURES, overwrite)?;
            Native::Original(Box::new(w))
        }
    })
}

/// The native writer over an existing file of the original layout (`batches` groups, `rows`
/// rows), if it is in h5py's default format; `None` otherwise.
pub(super) fn append_groups(path: &Path, batches: usize, rows: usize) -> Result<Option<Native>> {
    Ok(NativeCaptionGroups::append(path, schema::FEATURES, batches, rows)?
        .map(|w| Native::Original(Box::new(w))))
}

/// Rolls a contiguous file back to its last sync if a power cut may have torn what came after
/// (before it is opened through HDF5).
pub(super) fn recover(path: &Path) -> Result<()> {
    NativeFile::recover(path)
}

/// The native writer over an existing contiguous file (`rows` rows, `sources`: whether it has
/// them), if its datasets are the ones it writes (uncompressed chunks of its shapes, each
/// allocated whole) and the file is in h5py's default format; `None` otherwise.
pub(super) fn append(
    path: &Path,
    key_dim: usize,
    feature_dim: usize,
    rows: usize,
    sources: bool,
) -> Result<Option<Native>> {
    let sets = {
        let (file, checks) = h5::open_checked(path)?;
        let mut sets = Vec::with_capacity(4);
        let wanted = [
            (schema::KEYS, Some(key_dim)),
            (schema::FEATURES, Some(feature_dim)),
            (schema::CAPTIONS, None),
        ];
        for (name, width) in wanted.into_iter().chain(sources.then_some((schema::SOURCES, None))) {
            match existing(path, &checks, &file, name, width, rows)? {
                Some(g) => sets.push(g),
                None => return Ok(None),
            }
        }
        sets
    };
    let mut sets = sets.into_iter();
    let [k, f, c] = [(); 3].map(|()| sets.next().expect("three datasets"));
    Ok(NativeCaptionDb::append(path, [k, f, c], sets.next())?
        .map(|w| Native::Contiguous(Box::new(w))))
}

/// Dataset `name` as [`Growing::new`] makes it with `rows` rows, its chunks as HDF5 lists
/// them; `None` if it differs (another chunk shape, a filter, a chunk not whole).
fn existing(
    path: &Path,
    checks: &h5::Checks,
    file: &File,
    name: &'static str,
    width: Option<usize>,
    rows: usize,
) -> Result<Option<Growing>> {
    let ds = h5::dataset(path, checks, file, name, name)?;
    let mut g = Growing::new(name, width);
    let chunk: Option<Vec<u64>> = ds.chunk().map(|c| c.iter().map(|&c| c as u64).collect());
    if chunk.as_ref() != Some(&g.d.chunk) || !ds.filters().is_empty() {
        return Ok(None);
    }
    let is_f32 = ds.dtype().map_err(h5err(path, name))?.is::<f32>();
    if is_f32 != (g.d.dtype == Dtype::F32) {
        return Ok(None);
    }
    g.d.dims[0] = rows as u64;
    let n = ds.num_chunks().unwrap_or(0);
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        let Some(info) = ds.chunk_info(i) else { return Ok(None) };
        chunks.push(ChunkRef {
            offset: info.offset.clone(),
            addr: info.addr,
            size: info.size as u32,
            filter_mask: info.filter_mask,
        });
    }
    chunks.sort_unstable_by(|a, b| a.offset.cmp(&b.offset));
    // Every chunk up to the rows' end, in order, whole.
    let per = g.d.chunk[0];
    let whole = chunks.iter().enumerate().all(|(i, c)| {
        c.offset[0] == i as u64 * per
            && c.offset[1..].iter().all(|&o| o == 0)
            && u64::from(c.size) == g.d.chunk_bytes()
            && c.filter_mask == 0
    });
    if !whole || chunks.len() as u64 != (rows as u64).div_ceil(per) {
        return Ok(None);
    }
    g.chunks = chunks;
    Ok(Some(g))
}
