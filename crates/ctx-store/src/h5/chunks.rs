//! Chunked float32 datasets read outside libhdf5: HDF5 lists a dataset's chunks (one pass over
//! its chunk index, under HDF5's lock), then any thread reads each chunk's bytes with `pread`
//! and, for deflate-compressed chunks, inflates them, straight into the caller's rows.
//!
//! Only the plain cases are planned: little-endian float32, 2-d, no filter or deflate alone,
//! every chunk allocated and inside the file. Anything else (another filter, chunks left to
//! the fill value) plans to `None` and is read through HDF5.

use std::path::Path;
use std::sync::Arc;

use hdf5::Dataset;
use hdf5::filters::Filter;

use crate::error::{Error, Result};
use crate::h5::h5err;

/// Largest chunk this module inflates or reads into a buffer (HDF5 allows up to 4 GiB).
const MAX_CHUNK_BYTES: usize = 256 << 20;

/// A dataset's chunk as stored: where it starts in the dataset, where its bytes are.
#[derive(Debug)]
pub(crate) struct Stored {
    /// Offset of the chunk's first element, per axis.
    pub(crate) offset: Vec<usize>,
    addr: u64,
    size: u64,
    deflated: bool,
}

/// The chunk shape of `ds` and its stored chunks, in HDF5's index order, if every chunk can be
/// read outside HDF5: no filter or deflate alone, chunks of at most [`MAX_CHUNK_BYTES`] of
/// `element` bytes each, inside a file of `file_len` bytes, uncompressed ones whole.
pub(crate) fn stored(
    path: &Path,
    ds: &Dataset,
    object: &str,
    element: usize,
    file_len: u64,
) -> Result<Option<(Vec<usize>, Vec<Stored>)>> {
    let deflate = match ds.filters().as_slice() {
        [] => false,
        [Filter::Deflate(_)] => true,
        _ => return Ok(None),
    };
    let Some(chunk) = ds.chunk().filter(|c| !c.contains(&0)) else { return Ok(None) };
    let bytes = chunk.iter().try_fold(element, |acc, &n| acc.checked_mul(n));
    let Some(bytes) = bytes.filter(|&b| b <= MAX_CHUNK_BYTES) else { return Ok(None) };
    let mut plain = true;
    let mut chunks = Vec::new();
    ds.chunks_visit(|c| {
        let deflated = deflate && c.filter_mask & 1 == 0;
        let inside = c.addr.checked_add(c.size).is_some_and(|end| end <= file_len);
        let whole = deflated || c.size == bytes as u64;
        let aligned = c.offset.iter().zip(&chunk).all(|(&o, &n)| o % n as u64 == 0);
        plain &= inside && whole && aligned && c.filter_mask & !1 == 0;
        let offset = c.offset.iter().map(|&o| o as usize).collect();
        chunks.push(Stored { offset, addr: c.addr, size: c.size, deflated });
        if plain { 0 } else { 1 }
    })
    .map_err(h5err(path, object))?;
    Ok(plain.then_some((chunk, chunks)))
}

impl Stored {
    /// The chunk's first `len` bytes (at most its size uncompressed, `full`), read from `raw`
    /// and inflated if compressed.
    pub(crate) fn bytes(
        &self,
        path: &Path,
        object: &str,
        raw: &std::fs::File,
        full: usize,
        len: usize,
    ) -> Result<Vec<u8>> {
        let mut out = vec![0u8; if self.deflated { full } else { len }];
        self.read_into(path, object, raw, &mut out)?;
        out.truncate(len);
        Ok(out)
    }

    /// Fills `out` with the chunk's bytes from its start: uncompressed, the first `out.len()`;
    /// compressed, all of them (`out` is the uncompressed chunk's size).
    fn read_into(
        &self,
        path: &Path,
        object: &str,
        raw: &std::fs::File,
        out: &mut [u8],
    ) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let io = |source| Error::Io { path: path.to_owned(), object: object.to_owned(), source };
        if !self.deflated {
            return raw.read_exact_at(out, self.addr).map_err(io);
        }
        let mut packed = vec![0u8; self.size as usize];
        raw.read_exact_at(&mut packed, self.addr).map_err(io)?;
        let mut z = flate2::Decompress::new(true);
        match z.decompress(&packed, out, flate2::FlushDecompress::Finish) {
            Ok(flate2::Status::StreamEnd) if z.total_out() as usize == out.len() => Ok(()),
            other => Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the deflate chunk at byte {} ({} bytes) does not inflate to {} bytes \
                     ({other:?}, {} bytes out)",
                    self.addr,
                    self.size,
                    out.len(),
                    z.total_out()
                ),
            ))),
        }
    }
}

/// One stored chunk of a 2-d dataset, as far as a band of rows needs it.
#[derive(Debug)]
struct RawChunk {
    stored: Stored,
    /// First column the chunk covers, and how many of the dataset's columns it holds.
    col: usize,
    cols: usize,
}

/// A band of `rows` rows of a dataset (one chunk high), with the chunks that hold them, left to
/// right.
#[derive(Debug)]
pub(crate) struct RowBand {
    /// The dataset, for errors.
    object: Arc<str>,
    rows: usize,
    /// The dataset's width (values per row), and its chunks' shape.
    width: usize,
    chunk: [usize; 2],
    chunks: Vec<RawChunk>,
}

/// The bands of rows of `ds` (float32, `(rows, width)`, checked by the caller), in row order;
/// `None` when the dataset is not one of the plain cases above.
pub(crate) fn plan(
    path: &Path,
    ds: &Dataset,
    object: &str,
    (rows, width): (usize, usize),
    file_len: u64,
) -> Result<Option<Vec<RowBand>>> {
    let little =
        ds.dtype().is_ok_and(|t| t.byte_order() == hdf5::datatype::ByteOrder::LittleEndian);
    if !cfg!(target_endian = "little") || !little || rows == 0 || width == 0 {
        return Ok(None);
    }
    let Some((chunk, all)) = stored(path, ds, object, 4, file_len)? else { return Ok(None) };
    let [chunk_rows, chunk_cols] = chunk[..] else { return Ok(None) };
    let object: Arc<str> = object.into();
    let mut bands: Vec<RowBand> = (0..rows.div_ceil(chunk_rows))
        .map(|b| RowBand {
            object: object.clone(),
            rows: chunk_rows.min(rows - b * chunk_rows),
            width,
            chunk: [chunk_rows, chunk_cols],
            chunks: Vec::new(),
        })
        .collect();
    for stored in all {
        let (r, col) = (stored.offset[0], stored.offset[1]);
        if r >= rows || col >= width {
            return Ok(None);
        }
        let cols = chunk_cols.min(width - col);
        bands[r / chunk_rows].chunks.push(RawChunk { stored, col, cols });
    }
    for band in &mut bands {
        band.chunks.sort_unstable_by_key(|c| c.col);
        // Every column once: chunks at 0, chunk_cols, ... up to the width (none missing, which
        // would stand for fill values).
        let covered = band.chunks.iter().enumerate().all(|(i, c)| c.col == i * chunk_cols);
        if !covered || band.chunks.len() != width.div_ceil(chunk_cols) {
            return Ok(None);
        }
    }
    Ok(Some(bands))
}

impl RowBand {
    /// Values of the caller's output this band fills (`rows * width`).
    pub(crate) fn len(&self) -> usize {
        self.rows * self.width
    }

    /// Reads the band into `out` (`rows * width` values) from `raw`, the file opened by std.
    pub(crate) fn read(&self, path: &Path, raw: &std::fs::File, out: &mut [f32]) -> Result<()> {
        let [_, chunk_cols] = self.chunk;
        let full = self.chunk[0] * chunk_cols * 4;
        let width = self.width;
        debug_assert_eq!(out.len(), self.len());
        for c in &self.chunks {
            if !c.stored.deflated && c.col == 0 && chunk_cols == width {
                // Whole rows, stored as they are: straight into the output.
                let dst = bytemuck::cast_slice_mut(out);
                c.stored.read_into(path, &self.object, raw, dst)?;
                continue;
            }
            let mut values = vec![0f32; full / 4];
            let dst = &mut bytemuck::cast_slice_mut(&mut values)[..];
            if c.stored.deflated {
                c.stored.read_into(path, &self.object, raw, dst)?;
            } else {
                c.stored.read_into(
                    path,
                    &self.object,
                    raw,
                    &mut dst[..self.rows * chunk_cols * 4],
                )?;
            }
            for (r, row) in out.chunks_exact_mut(width).enumerate() {
                let src = &values[r * chunk_cols..r * chunk_cols + c.cols];
                row[c.col..c.col + c.cols].copy_from_slice(src);
            }
        }
        Ok(())
    }
}

/// Cuts `out` (the rows the bands cover, in order) into each band's part.
pub(crate) fn split<B, T>(
    bands: Vec<B>,
    len: impl Fn(&B) -> usize,
    mut out: &mut [T],
) -> Vec<(B, &mut [T])> {
    let mut parts = Vec::with_capacity(bands.len());
    for band in bands {
        let (head, tail) = std::mem::take(&mut out).split_at_mut(len(&band));
        parts.push((band, head));
        out = tail;
    }
    debug_assert!(out.is_empty());
    parts
}
