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

use crate::{Error, Result};

/// Largest chunk this module inflates or reads into a buffer (HDF5 allows up to 4 GiB).
const MAX_CHUNK_BYTES: usize = 256 << 20;

/// One stored chunk of a 2-d dataset, as far as a band of rows needs it.
#[derive(Debug)]
struct RawChunk {
    /// First column the chunk covers, and how many of the dataset's columns it holds.
    col: usize,
    cols: usize,
    /// The chunk's own width (its stored rows are this wide).
    chunk_cols: usize,
    /// Values the stored chunk holds (`chunk_rows * chunk_cols`).
    chunk_len: usize,
    addr: u64,
    size: u64,
    deflated: bool,
}

/// A band of `rows` rows of a dataset (one chunk high), with the chunks that hold them, left to
/// right.
#[derive(Debug)]
pub(crate) struct RowBand {
    /// The dataset, for errors.
    object: Arc<str>,
    rows: usize,
    /// The dataset's width: values per row.
    width: usize,
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
    if !cfg!(target_endian = "little") || rows == 0 || width == 0 {
        return Ok(None);
    }
    let little =
        ds.dtype().is_ok_and(|t| t.byte_order() == hdf5::datatype::ByteOrder::LittleEndian);
    let deflate = match ds.filters().as_slice() {
        [] => false,
        [Filter::Deflate(_)] => true,
        _ => return Ok(None),
    };
    let chunk = match ds.chunk() {
        Some(c) if little && c.len() == 2 && c[0] > 0 && c[1] > 0 => c,
        _ => return Ok(None),
    };
    let (chunk_rows, chunk_cols) = (chunk[0], chunk[1]);
    let chunk_len = chunk_rows.saturating_mul(chunk_cols);
    if chunk_len.saturating_mul(4) > MAX_CHUNK_BYTES {
        return Ok(None);
    }
    let object: Arc<str> = object.into();
    let band_count = rows.div_ceil(chunk_rows);
    let mut bands: Vec<RowBand> = (0..band_count)
        .map(|b| RowBand {
            object: object.clone(),
            rows: chunk_rows.min(rows - b * chunk_rows),
            width,
            chunks: Vec::new(),
        })
        .collect();
    let mut plain = true;
    ds.chunks_visit(|c| {
        let (r, col) = (c.offset[0] as usize, c.offset[1] as usize);
        let deflated = deflate && c.filter_mask & 1 == 0;
        let inside = c.addr.checked_add(c.size).is_some_and(|end| end <= file_len);
        let stored_ok = deflated || c.size as usize == chunk_len * 4;
        if r % chunk_rows != 0 || col % chunk_cols != 0 || r >= rows || col >= width {
            plain = false;
        } else if !inside || !stored_ok || c.filter_mask & !1 != 0 {
            plain = false;
        } else {
            bands[r / chunk_rows].chunks.push(RawChunk {
                col,
                cols: chunk_cols.min(width - col),
                chunk_cols,
                chunk_len,
                addr: c.addr,
                size: c.size,
                deflated,
            });
        }
        if plain { 0 } else { 1 }
    })
    .map_err(crate::h5::h5err(path, &object))?;
    for band in &mut bands {
        band.chunks.sort_unstable_by_key(|c| c.col);
        // Every column once: chunks at 0, chunk_cols, ... up to the width (none missing, which
        // would stand for fill values).
        let covered = band.chunks.iter().enumerate().all(|(i, c)| c.col == i * chunk_cols);
        plain &= covered && band.chunks.len() == width.div_ceil(chunk_cols);
    }
    Ok(plain.then_some(bands))
}

impl RowBand {
    /// Values of the caller's output this band fills (`rows * width`).
    pub(crate) fn len(&self) -> usize {
        self.rows * self.width
    }

    /// Reads the band into `out` (`rows * width` values) from `raw`, the file opened by std.
    pub(crate) fn read(&self, path: &Path, raw: &std::fs::File, out: &mut [f32]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let width = self.width;
        debug_assert_eq!(out.len(), self.len());
        let io =
            |source| Error::Io { path: path.to_owned(), object: self.object.to_string(), source };
        for c in &self.chunks {
            if !c.deflated && c.col == 0 && c.cols == width && c.chunk_cols == width {
                // Whole rows, stored as they are: straight into the output.
                raw.read_exact_at(bytemuck::cast_slice_mut(out), c.addr).map_err(io)?;
                continue;
            }
            let mut values = vec![0f32; c.chunk_len];
            if c.deflated {
                let mut packed = vec![0u8; c.size as usize];
                raw.read_exact_at(&mut packed, c.addr).map_err(io)?;
                self.inflate(path, c, &packed, bytemuck::cast_slice_mut(&mut values))?;
            } else {
                let bytes = self.rows * c.chunk_cols * 4;
                let dst = &mut bytemuck::cast_slice_mut(&mut values)[..bytes];
                raw.read_exact_at(dst, c.addr).map_err(io)?;
            }
            for (r, row) in out.chunks_exact_mut(width).enumerate() {
                let src = &values[r * c.chunk_cols..r * c.chunk_cols + c.cols];
                row[c.col..c.col + c.cols].copy_from_slice(src);
            }
        }
        Ok(())
    }

    /// Inflates one chunk (HDF5's deflate filter: a zlib stream) into exactly `out`.
    fn inflate(&self, path: &Path, c: &RawChunk, packed: &[u8], out: &mut [u8]) -> Result<()> {
        let mut z = flate2::Decompress::new(true);
        let status = z.decompress(packed, out, flate2::FlushDecompress::Finish);
        match status {
            Ok(flate2::Status::StreamEnd) if z.total_out() as usize == out.len() => Ok(()),
            other => Err(Error::Io {
                path: path.to_owned(),
                object: self.object.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the deflate chunk at byte {} ({} bytes) does not inflate to {} bytes \
                         ({other:?}, {} bytes out)",
                        c.addr,
                        c.size,
                        out.len(),
                        z.total_out()
                    ),
                ),
            }),
        }
    }
}

/// Cuts `out` (the rows the bands cover, in order) into each band's part.
pub(crate) fn split(bands: Vec<RowBand>, mut out: &mut [f32]) -> Vec<(RowBand, &mut [f32])> {
    let mut parts = Vec::with_capacity(bands.len());
    for band in bands {
        let (head, tail) = std::mem::take(&mut out).split_at_mut(band.len());
        parts.push((band, head));
        out = tail;
    }
    debug_assert!(out.is_empty());
    parts
}
