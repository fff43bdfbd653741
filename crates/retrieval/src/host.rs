//! The CPU's selection and re-scoring, in Rust: running best-`m` selection over score chunks
//! copied out of libtorch, and f32 re-scoring of candidates from host memory.
//!
//! libtorch's `topk` over every score of a chunk cost about a third of the product's time on the
//! CPU (and re-scoring by gather, multiply and sum another tenth). Here
//! each query keeps its best `m` scores so far and their minimum as a threshold; a chunk row is
//! read in blocks whose maximum (an integer reduction over order-preserving bit patterns, which
//! the compiler vectorises) is compared with the threshold, and only blocks that beat it are
//! looked at score by score. After the first chunk almost no block does, so selecting costs
//! little more than reading the scores once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use tch::{Kind, Tensor};

use crate::Result;

/// Scores per block of the threshold test.
const BLOCK: usize = 64;

/// Query rows per task (copied and scanned together).
const ROWS_PER_TASK: usize = 16;

/// Whether to spread the work over rayon's threads, or keep it on the calling thread.
///
/// After each product libtorch's OpenMP workers spin for a while (milliseconds) unless
/// `OMP_WAIT_POLICY=passive`, holding every core but the caller's: rayon's threads then fight
/// them for the cores, and the search measured slower than doing the same work on the calling
/// thread alone (1.29-1.40 against 1.21-1.30 times the bare products, 2 cores). With passive
/// waits the cores are free and spreading wins (1.23 against 1.28-1.32).
fn spread() -> bool {
    static SPREAD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SPREAD.get_or_init(|| {
        std::env::var("OMP_WAIT_POLICY").is_ok_and(|v| v.eq_ignore_ascii_case("passive"))
    })
}

/// A score type whose bit pattern maps to an integer of the same order.
pub(crate) trait Score: tch::kind::Element + Copy + Send + Sync {
    type Key: Ord + Copy + Send + Sync;
    /// The scores as a tensor of this element kind.
    fn view(scores: &Tensor) -> Result<Tensor> {
        Ok(scores.shallow_clone())
    }
    /// An integer ordered like the score (finite scores; -0 below +0).
    fn key(self) -> Self::Key;
    fn value(key: Self::Key) -> f32;
    /// The largest key of a block.
    fn block_max(block: &[Self]) -> Self::Key;
}

/// bf16 scores, read as their bit patterns (tch 0.24 labels `half::bf16` elements as f16).
impl Score for i16 {
    type Key = u16;
    fn view(scores: &Tensor) -> Result<Tensor> {
        Ok(scores.f_view_dtype(Kind::Int16)?)
    }
    #[inline(always)]
    fn key(self) -> u16 {
        let b = self as u16;
        // Negative: all bits flipped (larger magnitude, smaller key); positive: sign bit set.
        b ^ (((b as i16) >> 15) as u16 | 0x8000)
    }
    fn value(key: u16) -> f32 {
        let b = if key & 0x8000 != 0 { key ^ 0x8000 } else { !key };
        half::bf16::from_bits(b).to_f32()
    }
    #[inline(always)]
    fn block_max(block: &[Self]) -> u16 {
        block.iter().fold(0, |m, s| m.max(s.key()))
    }
}

impl Score for f32 {
    type Key = u32;
    #[inline(always)]
    fn key(self) -> u32 {
        let b = self.to_bits();
        b ^ (((b as i32) >> 31) as u32 | 0x8000_0000)
    }
    fn value(key: u32) -> f32 {
        f32::from_bits(if key & 0x8000_0000 != 0 { key ^ 0x8000_0000 } else { !key })
    }
    #[inline(always)]
    fn block_max(block: &[Self]) -> u32 {
        block.iter().fold(0, |m, s| m.max(s.key()))
    }
}

/// One query's best `m` as a min-heap: the root is the smallest key (and among equal keys the
/// highest id, the first to go), which new scores must beat.
#[derive(Clone)]
struct Row<K: Ord> {
    heap: BinaryHeap<Reverse<(K, Reverse<i64>)>>,
}

impl<K: Ord + Copy> Row<K> {
    /// Offers the scores of keys `start..` to the row.
    fn scan<S: Score<Key = K>>(&mut self, scores: &[S], start: i64, m: usize) {
        if self.heap.is_empty() && scores.len() >= m {
            self.fill(scores, start, m);
            return;
        }
        let mut id = start;
        let mut threshold = self.threshold(m);
        for block in scores.chunks(BLOCK) {
            if threshold.is_none_or(|t| S::block_max(block) > t) {
                for (j, s) in block.iter().enumerate() {
                    let key = s.key();
                    if threshold.is_none_or(|t| key > t) {
                        self.offer(key, id + j as i64, m);
                        threshold = self.threshold(m);
                    }
                }
            }
            id += block.len() as i64;
        }
    }

    /// An empty row takes the best `m` of `scores` (ids from `start`), found by selection
    /// rather than by offering every score while the threshold is still low.
    fn fill<S: Score<Key = K>>(&mut self, scores: &[S], start: i64, m: usize) {
        let mut keys: Vec<K> = scores.iter().map(|s| s.key()).collect();
        let (_, &mut mth, _) = keys.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
        let mut ties = m - keys.iter().filter(|&&k| k > mth).count();
        let mut best = Vec::with_capacity(m);
        for (j, s) in scores.iter().enumerate() {
            // Scores above the m-th, and the first (lowest-id) of those equal to it.
            let k = s.key();
            if k > mth || (k == mth && ties > 0) {
                ties -= usize::from(k == mth);
                best.push(Reverse((k, Reverse(start + j as i64))));
            }
        }
        self.heap = BinaryHeap::from(best);
    }

    /// The key to beat, `None` while fewer than `m` are kept.
    #[inline]
    fn threshold(&self, m: usize) -> Option<K> {
        (self.heap.len() == m).then(|| self.heap.peek().expect("m >= 1").0.0)
    }

    #[inline]
    fn offer(&mut self, key: K, id: i64, m: usize) {
        if self.heap.len() < m {
            self.heap.push(Reverse((key, Reverse(id))));
        } else if let Some(mut root) = self.heap.peek_mut()
            && key > root.0.0
        {
            // Ids arrive in ascending order, so on equal keys the earlier (lower) id stays.
            *root = Reverse((key, Reverse(id)));
        }
    }
}

/// The best `m` keys per query over a sequence of `(B, C)` score chunks on the CPU.
pub(crate) struct HostTop<S: Score> {
    m: usize,
    rows: Vec<Row<S::Key>>,
    buf: Vec<S>,
}

impl<S: Score> HostTop<S> {
    pub(crate) fn new(queries: usize, m: usize) -> Self {
        let row = Row { heap: BinaryHeap::with_capacity(m) };
        HostTop { m, rows: vec![row; queries], buf: Vec::new() }
    }

    /// Takes in the scores of keys `start..start + C` (a CPU tensor of kind `S`).
    pub(crate) fn push(&mut self, scores: &Tensor, start: i64) -> Result<()> {
        let (b, c) = scores.size2()?;
        debug_assert_eq!(b as usize, self.rows.len());
        let (c, numel) = (c as usize, (b * c) as usize);
        if self.buf.len() < numel {
            self.buf.resize(numel, S::ZERO);
        }
        // Each task copies a few rows out of libtorch and scans them while they are in cache.
        let per_task = ROWS_PER_TASK.min(b as usize);
        let scores = S::view(scores)?;
        let parts: Vec<Tensor> = (0..b)
            .step_by(per_task)
            .map(|r| scores.narrow(0, r, (per_task as i64).min(b - r)))
            .collect();
        let m = self.m;
        let task = |buf: &mut [S], rows: &mut [Row<S::Key>], part: Tensor| -> Result<()> {
            part.f_copy_data(buf, buf.len())?;
            for (scores, row) in buf.chunks(c).zip(rows) {
                row.scan(scores, start, m);
            }
            Ok(())
        };
        if !spread() {
            self.buf[..numel]
                .chunks_mut(per_task * c)
                .zip(self.rows.chunks_mut(per_task))
                .zip(parts)
                .try_for_each(|((buf, rows), part)| task(buf, rows, part))
        } else {
            self.buf[..numel]
                .par_chunks_mut(per_task * c)
                .zip(self.rows.par_chunks_mut(per_task))
                .zip(parts.into_par_iter())
                .try_for_each(|((buf, rows), part)| task(buf, rows, part))
        }
    }

    /// `(scores, ids)` of shape `(B, m)` as f32 and i64 tensors, unordered within a row.
    pub(crate) fn finish(self) -> (Tensor, Tensor) {
        let b = self.rows.len() as i64;
        let m = self.m as i64;
        let mut scores = Vec::with_capacity(self.rows.len() * self.m);
        let mut ids = Vec::with_capacity(self.rows.len() * self.m);
        for row in &self.rows {
            for Reverse((key, Reverse(id))) in row.heap.iter() {
                scores.push(S::value(*key));
                ids.push(*id);
            }
        }
        let scores = Tensor::from_slice(&scores).view([b, m]).to_kind(Kind::Float);
        (scores, Tensor::from_slice(&ids).view([b, m]))
    }
}

/// What re-scoring may skip: candidates ordered by descending screened score `approx` (`(B, m)`,
/// f32), each within `bound` (`(B,)`) of its exact score. Once a candidate's `approx + bound`
/// is below the k-th best exact score so far, neither it nor any after it can be among the
/// best k, and they are left at minus infinity.
pub(crate) struct Cut<'a> {
    pub approx: &'a Tensor,
    pub bound: &'a Tensor,
    pub k: usize,
}

/// Scores of candidate keys, `(B, m)` f32: each the dot product of a query row of `queries`
/// (`(B, d)`) with key row `cand[b, j]` of `keys` (row-major), summed in one fixed order whatever
/// the batch, so a pair's score never depends on how the search was cut.
pub(crate) fn rescore(
    keys: &[f32],
    queries: &Tensor,
    cand: &Tensor,
    cut: Option<Cut>,
) -> Result<Tensor> {
    let (b, m) = cand.size2()?;
    let (b, m) = (b as usize, m as usize);
    let d = queries.size2()?.1 as usize;
    let queries = Vec::<f32>::try_from(queries.to_kind(Kind::Float).contiguous().flatten(0, -1))?;
    let ids = Vec::<i64>::try_from(cand.contiguous().flatten(0, -1))?;
    // With a cut: the screened scores and each row's bound, to stop a row once nothing after
    // can enter its top k. Without: every candidate is scored.
    let cut = match cut {
        Some(c) => Some((
            Vec::<f32>::try_from(c.approx.contiguous().flatten(0, -1))?,
            Vec::<f32>::try_from(c.bound.to_kind(Kind::Float))?,
            c.k,
        )),
        None => None,
    };
    let mut scores = vec![f32::NEG_INFINITY; b * m];
    let row = |r: usize, scores: &mut [f32]| {
        let (ids, q) = (&ids[r * m..(r + 1) * m], &queries[r * d..(r + 1) * d]);
        let score = |id: i64| dot(q, &keys[id as usize * d..(id as usize + 1) * d]);
        let Some((approx, bound, k)) = &cut else {
            scores.iter_mut().zip(ids).for_each(|(s, &id)| *s = score(id));
            return;
        };
        let (approx, bound, k) = (&approx[r * m..(r + 1) * m], bound[r], *k);
        // The best k exact scores so far, ascending.
        let mut best: Vec<f32> = Vec::with_capacity(k + 1);
        for ((s, &id), &a) in scores.iter_mut().zip(ids).zip(approx) {
            if best.len() == k && a + bound < best[0] {
                break;
            }
            *s = score(id);
            let at = best.partition_point(|&x| x < *s);
            best.insert(at, *s);
            if best.len() > k {
                best.remove(0);
            }
        }
    };
    if spread() {
        scores.par_chunks_mut(m).enumerate().for_each(|(r, s)| row(r, s));
    } else {
        scores.chunks_mut(m).enumerate().for_each(|(r, s)| row(r, s));
    }
    Ok(Tensor::from_slice(&scores).view([b as i64, m as i64]))
}

/// `a . b` over eight interleaved f32 partial sums added pairwise at the end: one fixed order,
/// which the compiler turns into vector instructions.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_order_of_scores() {
        let values = [-3.5f32, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.25, 1.0, 7.0, f32::MAX];
        for pair in values.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(a.key() < b.key(), "{a} {b}");
            assert_eq!(f32::value(a.key()), a);
            let (x, y) = (half::bf16::from_f32(a), half::bf16::from_f32(b));
            let (kx, ky) = ((x.to_bits() as i16).key(), (y.to_bits() as i16).key());
            assert!(kx <= ky, "{a} {b}");
            assert_eq!(i16::value(kx), x.to_f32());
        }
    }

    /// Against a full sort by descending score then ascending id, with many equal scores, for
    /// first chunks larger and smaller than `m`.
    #[test]
    fn best_m_over_chunks_equals_a_sort() {
        let (b, n) = (3usize, 1000usize);
        let all: Vec<f32> = (0..b * n).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 37.0).collect();
        let t = Tensor::from_slice(&all).view([b as i64, n as i64]);
        for (m, chunk) in [(7, 300), (40, 300), (40, 16), (1, 1), (25, 1000)] {
            let mut top = HostTop::<f32>::new(b, m);
            for start in (0..n as i64).step_by(chunk) {
                let c = (chunk as i64).min(n as i64 - start);
                top.push(&t.narrow(1, start, c).contiguous(), start).unwrap();
            }
            let (s, i) = top.finish();
            for r in 0..b {
                let row = &all[r * n..(r + 1) * n];
                let mut want: Vec<(f32, i64)> =
                    row.iter().enumerate().map(|(j, &v)| (v, j as i64)).collect();
                want.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                let mut got: Vec<(f32, i64)> = (0..m as i64)
                    .map(|j| (s.double_value(&[r as i64, j]) as f32, i.int64_value(&[r as i64, j])))
                    .collect();
                got.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                assert_eq!(got, want[..m].to_vec(), "m {m} chunk {chunk} row {r}");
            }
        }
    }
}
