//! A batch of gzip-compressed chunked datasets (HAAV's files), laid out for one append: every
//! chunk first, back to back, then the metadata (each dataset's chunk index and object header,
//! and the groups around them) in one [`Buf`]. The float chunks are compressed on rayon's
//! threads by `h5::packed`, the string chunks by [`chunked::deflate_chunks`].

use std::path::Path;

use super::chunked::{self, ChunkRef, Chunked, Dtype};
use super::encode::{Addr, Entry};
use crate::error::Result;
use crate::gzip_chunks;

/// A dataset of a batch: its description and its stored (compressed) chunks, row-major.
pub(crate) struct Stored {
    pub(crate) d: Chunked,
    pub(crate) chunks: Vec<Vec<u8>>,
}

/// The float32 datasets `arrays` (checked by the caller), gzip-compressed in h5py's chunks.
pub(crate) fn f32_datasets(
    packer: &gzip_chunks::Packer,
    arrays: &[gzip_chunks::F32Array<'_>],
) -> Result<Vec<Stored>> {
    if arrays.is_empty() {
        return Ok(Vec::new());
    }
    let staged = packer.stage(arrays)?.into_chunks();
    Ok(arrays
        .iter()
        .zip(staged)
        .map(|(a, (chunk, chunks))| Stored {
            d: Chunked::fixed(
                Dtype::F32,
                &u64s(&a.shape),
                &u64s(&chunk),
                Some(gzip_chunks::H5PY_GZIP_LEVEL),
            ),
            chunks,
        })
        .collect())
}

/// Datasets of variable-length strings: for each, its shape and its elements (16-byte
/// references into global heaps, row-major), gzip-compressed in h5py's chunks.
pub(crate) fn string_datasets(
    path: &Path,
    object: &str,
    datasets: &[(Vec<usize>, Vec<u8>)],
) -> Result<Vec<Stored>> {
    let size = Dtype::VlenStr.size() as usize;
    let mut described = Vec::with_capacity(datasets.len());
    let mut raw = Vec::new();
    for (shape, elements) in datasets {
        let chunk = gzip_chunks::guess_chunk(shape, gzip_chunks::STRING_ITEMSIZE);
        let d = Chunked::fixed(
            Dtype::VlenStr,
            &u64s(shape),
            &u64s(&chunk),
            Some(gzip_chunks::H5PY_GZIP_LEVEL),
        );
        let offsets = d.chunk_offsets();
        raw.extend(offsets.iter().map(|o| gather(elements, size, shape, &chunk, o)));
        described.push((d, offsets.len()));
    }
    let slices: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    let mut stored =
        chunked::deflate_chunks(path, object, &slices, gzip_chunks::H5PY_GZIP_LEVEL)?.into_iter();
    Ok(described
        .into_iter()
        .map(|(d, n)| Stored { d, chunks: stored.by_ref().take(n).collect() })
        .collect())
}

/// Places the chunks of `datasets` from `start` on, back to back: each dataset's chunk
/// references, and the end (rounded up to 8 bytes, where the metadata starts).
pub(crate) fn place(start: u64, datasets: &[Stored]) -> (Vec<Vec<ChunkRef>>, u64) {
    let mut at = start;
    let refs = datasets
        .iter()
        .map(|s| {
            s.d.chunk_offsets()
                .into_iter()
                .zip(&s.chunks)
                .map(|(offset, bytes)| {
                    let r = ChunkRef { offset, addr: at, size: bytes.len() as u32, filter_mask: 0 };
                    at += bytes.len() as u64;
                    r
                })
                .collect()
        })
        .collect();
    (refs, at.next_multiple_of(8))
}

/// Every chunk of `datasets` in the order [`place`] placed them, then the padding to its end.
pub(crate) fn chunk_slices(datasets: &[Stored]) -> Vec<&[u8]> {
    const PAD: [u8; 8] = [0; 8];
    let mut slices: Vec<&[u8]> = datasets.iter().flat_map(|s| &s.chunks).map(|c| &c[..]).collect();
    let len: usize = slices.iter().map(|s| s.len()).sum();
    slices.push(&PAD[..len.next_multiple_of(8) - len]);
    slices
}

/// A dataset's chunk index and object header, appended to `meta`: its entry (addresses
/// relative to `meta`'s region).
pub(crate) fn dataset(meta: &mut super::encode::Buf, s: &Stored, refs: &[ChunkRef]) -> Entry {
    let tree = s.d.btree(meta, refs);
    let header = s.d.header(meta, tree);
    Entry { name: 0, header: Addr::Rel(header), group: None }
}

/// `e` with its relative addresses moved to `base`.
pub(crate) fn absolute(e: Entry, base: u64) -> Entry {
    let abs = |a: Addr| match a {
        Addr::Rel(r) => Addr::Abs(base + r),
        a => a,
    };
    Entry { name: e.name, header: abs(e.header), group: e.group.map(|(t, h)| (abs(t), abs(h))) }
}

fn u64s(v: &[usize]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

/// The chunk at `offset` (elements, per axis) of `all` (row-major elements of `size` bytes,
/// `shape`), chunks of `chunk` elements, zero beyond the dataset's edges.
fn gather(all: &[u8], size: usize, shape: &[usize], chunk: &[usize], offset: &[u64]) -> Vec<u8> {
    let mut out = vec![0u8; chunk.iter().product::<usize>() * size];
    let rank = shape.len();
    let first: Vec<usize> = offset.iter().map(|&o| o as usize).collect();
    let inside: Vec<usize> = (0..rank).map(|a| chunk[a].min(shape[a] - first[a])).collect();
    // Runs along the last axis, for every index of the other axes inside the dataset.
    let outer: usize = inside[..rank - 1].iter().product();
    let mut idx = vec![0usize; rank - 1];
    for _ in 0..outer {
        let (mut src, mut dst) = (0, 0);
        for a in 0..rank {
            let i = if a + 1 < rank { idx[a] } else { 0 };
            src = src * shape[a] + first[a] + i;
            dst = dst * chunk[a] + i;
        }
        let n = inside[rank - 1] * size;
        out[dst * size..dst * size + n].copy_from_slice(&all[src * size..src * size + n]);
        for a in (0..rank - 1).rev() {
            idx[a] += 1;
            if idx[a] < inside[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::gather;

    #[test]
    fn gather_takes_the_chunk_and_zeroes_past_the_edges() {
        // A 3 x 5 dataset of 2-byte elements (element i is [i, 100 + i]), chunks of 2 x 3.
        let all: Vec<u8> = (0..15u8).flat_map(|i| [i, 100 + i]).collect();
        let c = gather(&all, 2, &[3, 5], &[2, 3], &[2, 3]);
        assert_eq!(c, [13, 113, 14, 114, 0, 0, 0, 0, 0, 0, 0, 0]);
        let c = gather(&all, 2, &[3, 5], &[2, 3], &[0, 0]);
        assert_eq!(c, [0, 100, 1, 101, 2, 102, 5, 105, 6, 106, 7, 107]);
        let c = gather(&all[..8], 2, &[4], &[3], &[3]);
        assert_eq!(c, [3, 103, 0, 0, 0, 0]);
    }
}
