//! The CPU's selection and re-scoring, in Rust: running best-`m` selection over score chunks
//! copied out of libtorch, and f32 re-scoring of candidates from host memory.
//!
//! libtorch's `topk` over every score of a chunk cost about a third of the product's time on the
//! CPU (and re-scoring by gather, multiply and sum another tenth). Here each query keeps its
//! best `m` scores so far and their minimum as a threshold; a chunk row is read in blocks whose
//! maximum (an integer reduction over the bit patterns, which the compiler vectorises) is
//! compared with the threshold, and only blocks that beat it (then only their quarters that do)
//! are looked at score by score. After the first chunk almost no block does, so selecting costs
//! little more than reading the scores once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use rayon::prelude::*;

use tch::{Kind, Tensor};

use crate::topk::Cut;
use crate::{Error, Result};

/// Scores per block of the threshold test.
const BLOCK: usize = 64;

/// Scores selected at once to fill an empty row: `FILL_PER_CANDIDATE * m`, at least `FILL_MIN`.
const FILL_PER_CANDIDATE: usize = 4;
const FILL_MIN: usize = 512;

/// Query rows copied out of libtorch and scanned together (their scores stay in cache).
const ROWS_PER_COPY: usize = 16;

/// The CPU search's threads, as many as libtorch's intra-op threads when first used (the count
/// is kept for the process). Each runs libtorch with one thread of its own: [`screen`] splits the
/// keys between them, and each multiplies its share and scans the scores while they are in
/// cache; a batch's smaller steps run on one of them too.
///
/// The alternative, one product over the whole chunk on libtorch's OpenMP threads and the scan
/// after it, measured 1.21-1.40 times the bare products on 2 cores: after each product the
/// OpenMP workers spin for milliseconds unless `OMP_WAIT_POLICY=passive`, holding the cores
/// that the scan needs. Threads of this pool never start an OpenMP team, so none spins.
pub(crate) fn pool() -> Result<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Result<rayon::ThreadPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = tch::get_num_threads().max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .thread_name(|i| format!("retrieval-{i}"))
            .build()
            .map_err(|e| e.to_string())?;
        // `set_num_threads` also records the count for threads that have not used libtorch
        // yet; the caller's count is put back once every pool thread holds its own.
        pool.broadcast(|_| tch::set_num_threads(1));
        tch::set_num_threads(n);
        tracing::debug!(threads = n, "CPU search threads started");
        Ok(pool)
    })
    .as_ref()
    .map_err(|e| Error::Threads(e.clone()))
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
    /// Whether a key of the block is above `t`.
    fn block_beats(block: &[Self], t: Self::Key) -> bool;
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
    fn block_beats(block: &[Self], t: u16) -> bool {
        if t & 0x8000 != 0 {
            // A threshold of +0 or above: the bit patterns as signed integers are ordered like
            // the scores among non-negative scores and negative for every other one, so the
            // plain signed maximum decides (the usual case: the best scores are positive).
            block.iter().fold(i16::MIN, |m, &s| m.max(s)) > (t ^ 0x8000) as i16
        } else {
            block.iter().fold(0, |m, s| m.max(s.key())) > t
        }
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
    fn block_beats(block: &[Self], t: u32) -> bool {
        if t & 0x8000_0000 != 0 {
            // As for bf16: a non-negative threshold compares with the signed bit patterns.
            block.iter().fold(i32::MIN, |m, s| m.max(s.to_bits() as i32)) > (t ^ 0x8000_0000) as i32
        } else {
            block.iter().fold(0, |m, s| m.max(s.key())) > t
        }
    }
}

/// One query's best `m` as a min-heap: the root is the smallest key (and among equal keys the
/// highest id, the first to go), which new scores must beat.
#[derive(Clone)]
pub(crate) struct Row<K: Ord> {
    pub(crate) heap: BinaryHeap<Reverse<(K, Reverse<i64>)>>,
}

impl<K: Ord + Copy> Row<K> {
    /// An empty row for the best `m`.
    pub(crate) fn new(m: usize) -> Self {
        Row { heap: BinaryHeap::with_capacity(m) }
    }

    /// Offers the scores of keys `start..` to the row.
    pub(crate) fn scan<S: Score<Key = K>>(&mut self, scores: &[S], start: i64, m: usize) {
        let (mut scores, mut start) = (scores, start);
        if self.heap.is_empty() && scores.len() >= m {
            // A prefix sets the first threshold: selecting over the whole first chunk took half
            // of all the scanning time (8,192 keys per row).
            let p = (FILL_PER_CANDIDATE * m).max(FILL_MIN).min(scores.len());
            self.fill(&scores[..p], start, m);
            (scores, start) = (&scores[p..], start + p as i64);
        }
        let mut id = start;
        let mut threshold = self.threshold(m);
        for block in scores.chunks(BLOCK) {
            if threshold.is_none_or(|t| S::block_beats(block, t)) {
                // Most blocks that beat the threshold hold one score that does: the quarters
                // are tested the same way before their scores are looked at one by one.
                for (q, part) in block.chunks(BLOCK / 4).enumerate() {
                    if threshold.is_some_and(|t| !S::block_beats(part, t)) {
                        continue;
                    }
                    let first = id + (q * BLOCK / 4) as i64;
                    for (j, s) in part.iter().enumerate() {
                        let key = s.key();
                        if threshold.is_none_or(|t| key > t) {
                            self.offer(key, first + j as i64, m);
                            threshold = self.threshold(m);
                        }
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

/// The best `m` keys per query (unordered) of `queries` (`(B, d)`, any float kind) against
/// `keys` (`(N, d)`, bf16 or f32), as `(scores, ids)` of shape `(B, m')` with `m' = min(m, N)`,
/// f32 and i64.
///
/// The keys are split into one contiguous range per thread of [`pool`]; each thread multiplies
/// the queries by `chunk` keys of its range at a time (libtorch, one thread), copies the scores
/// out a few query rows at a time and scans them while they are in cache, keeping its own best
/// `m` per query. The threads' rows are merged at the end. Splitting the keys rather than the
/// queries keeps each product's key operand large (libtorch repacks it on every call: tiles of
/// 32 query rows made the products 1.4 times slower).
pub(crate) fn screen(
    queries: &Tensor,
    keys: &Tensor,
    m: usize,
    chunk: i64,
) -> Result<(Tensor, Tensor)> {
    let q = queries.f_to_kind(keys.kind())?;
    match keys.kind() {
        Kind::BFloat16 => screen_as::<i16>(&q, keys, m, chunk),
        _ => screen_as::<f32>(&q, keys, m, chunk),
    }
}

/// [`screen`] with scores of kind `S` (the queries already of the keys' kind).
fn screen_as<S: Score>(
    queries: &Tensor,
    keys: &Tensor,
    m: usize,
    chunk: i64,
) -> Result<(Tensor, Tensor)> {
    let pool = pool()?;
    let b = queries.size2()?.0;
    let n = keys.size2()?.0;
    let m = m.min(n as usize);
    let per = (n as u64).div_ceil(pool.current_num_threads() as u64).max(1) as i64;
    let parts: Vec<(Tensor, Tensor, i64)> = (0..n)
        .step_by(per as usize)
        .map(|start| {
            Ok((queries.shallow_clone(), keys.f_narrow(0, start, per.min(n - start))?, start))
        })
        .collect::<Result<_>>()?;
    let tops: Vec<Vec<Row<S::Key>>> = pool.install(|| {
        parts
            .into_par_iter()
            .map(|(q, keys, start)| scan_range::<S>(&q, &keys, start, m, chunk))
            .collect::<Result<_>>()
    })?;
    merge::<S>(tops, b as usize, m)
}

/// One thread's share of [`screen`]: the best `m` per query among `keys` (ids from `start`).
fn scan_range<S: Score>(
    queries: &Tensor,
    keys: &Tensor,
    start: i64,
    m: usize,
    chunk: i64,
) -> Result<Vec<Row<S::Key>>> {
    let b = queries.size2()?.0;
    let len = keys.size2()?.0;
    let c = chunk.clamp(1, len);
    let mut rows = vec![Row::new(m); b as usize];
    let out = score_buffer(b * c, keys.kind())?;
    let per_copy = (ROWS_PER_COPY as i64).min(b);
    let mut buf = vec![S::ZERO; (per_copy * c) as usize];
    for at in (0..len).step_by(c as usize) {
        let cc = c.min(len - at);
        let scores = out.f_narrow(0, 0, b * cc)?.f_view([b, cc])?;
        let _ = queries.f_mm_out(&scores, &keys.f_narrow(0, at, cc)?.f_tr()?)?;
        let scores = S::view(&scores)?;
        for (r, rows) in (0..b).step_by(per_copy as usize).zip(rows.chunks_mut(per_copy as usize)) {
            let n = rows.len() * cc as usize;
            scores.f_narrow(0, r, rows.len() as i64)?.f_copy_data(&mut buf[..n], n)?;
            for (scores, row) in buf[..n].chunks(cc as usize).zip(rows) {
                row.scan(scores, start + at, m);
            }
        }
    }
    Ok(rows)
}

/// A CPU tensor of at least `numel` elements of `kind`, kept by each thread for its next calls:
/// a fresh buffer for every batch costs its page faults again (8 MiB for 512 queries and 8,192
/// keys).
fn score_buffer(numel: i64, kind: Kind) -> Result<Tensor> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Option<Tensor>> = const { std::cell::RefCell::new(None) };
    }
    BUFFER.with_borrow_mut(|kept| match kept {
        Some(t) if t.kind() == kind && t.numel() >= numel as usize => Ok(t.shallow_clone()),
        _ => {
            // The old buffer goes first, so that the two are not held at once.
            *kept = None;
            let t = Tensor::f_empty([numel], (kind, tch::Device::Cpu))?;
            *kept = Some(t.shallow_clone());
            Ok(t)
        }
    })
}

/// The best `m` of each query's rows over all threads, as `(scores, ids)` tensors `(B, m)`.
fn merge<S: Score>(tops: Vec<Vec<Row<S::Key>>>, b: usize, m: usize) -> Result<(Tensor, Tensor)> {
    let mut scores = Vec::with_capacity(b * m);
    let mut ids = Vec::with_capacity(b * m);
    let mut all: Vec<(S::Key, Reverse<i64>)> = Vec::new();
    for r in 0..b {
        all.clear();
        all.extend(tops.iter().flat_map(|rows| rows[r].heap.iter().map(|e| e.0)));
        // Descending score, then ascending id.
        all.sort_unstable_by(|x, y| y.cmp(x));
        for &(key, Reverse(id)) in &all[..m] {
            scores.push(S::value(key));
            ids.push(id);
        }
    }
    let (b, m) = (b as i64, m as i64);
    let scores = Tensor::f_from_slice(&scores)?.f_view([b, m])?.f_to_kind(Kind::Float)?;
    Ok((scores, Tensor::f_from_slice(&ids)?.f_view([b, m])?))
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
    let queries =
        Vec::<f32>::try_from(queries.f_to_kind(Kind::Float)?.f_contiguous()?.f_flatten(0, -1)?)?;
    let ids = Vec::<i64>::try_from(cand.f_contiguous()?.f_flatten(0, -1)?)?;
    // With a cut: the screened scores and each row's bound, to stop a row once nothing after
    // can enter its top k. Without: every candidate is scored.
    let cut = match cut {
        Some(c) => Some((
            Vec::<f32>::try_from(c.approx.f_contiguous()?.f_flatten(0, -1)?)?,
            Vec::<f32>::try_from(c.bound.f_to_kind(Kind::Float)?)?,
            c.k,
        )),
        None => None,
    };
    let mut scores = vec![f32::NEG_INFINITY; b * m];
    let row = |r: usize, scores: &mut [f32]| {
        let (ids, q) = (&ids[r * m..(r + 1) * m], &queries[r * d..(r + 1) * d]);
        let Some((approx, bound, k)) = &cut else {
            for (s, ids) in scores.chunks_mut(GROUP).zip(ids.chunks(GROUP)) {
                score_group(keys, q, ids, s);
            }
            return;
        };
        let (approx, bound, k) = (&approx[r * m..(r + 1) * m], bound[r], *k);
        // The best k exact scores so far, ascending.
        let mut best: Vec<f32> = Vec::with_capacity(k + GROUP);
        for ((s, ids), approx) in
            scores.chunks_mut(GROUP).zip(ids.chunks(GROUP)).zip(approx.chunks(GROUP))
        {
            if best.len() == k && !Cut::reaches(approx[0], bound, best[0]) {
                break;
            }
            // The rest of the group may be past the cut too: scoring it changes nothing.
            score_group(keys, q, ids, s);
            for &s in s.iter() {
                let at = best.partition_point(|&x| x < s);
                best.insert(at, s);
            }
            best.drain(..best.len().saturating_sub(k));
        }
    };
    pool()?.install(|| scores.par_chunks_mut(m).enumerate().for_each(|(r, s)| row(r, s)));
    Ok(Tensor::f_from_slice(&scores)?.f_view([b as i64, m as i64])?)
}

/// The f32 keys that CPU re-scoring reads: a row-major copy in host memory (kept beside bf16
/// screening keys), or the `(N, d)` tensor itself (f32 screening, [`crate::Precision::F32`]),
/// whose candidate rows are gathered first and scored by the same code, to the same bits.
pub(crate) enum HostKeys<'a> {
    Rows(&'a [f32]),
    Tensor(Tensor),
}

impl HostKeys<'_> {
    /// [`rescore`] against these keys.
    pub(crate) fn rescore(
        &self,
        queries: &Tensor,
        cand: &Tensor,
        cut: Option<Cut>,
    ) -> Result<Tensor> {
        match self {
            HostKeys::Rows(keys) => rescore(keys, queries, cand, cut),
            HostKeys::Tensor(keys) => {
                let (b, m) = cand.size2()?;
                let rows = keys.f_index_select(0, &cand.f_flatten(0, -1)?)?;
                let rows = Vec::<f32>::try_from(rows.f_flatten(0, -1)?)?;
                let at =
                    Tensor::f_arange(b * m, (Kind::Int64, tch::Device::Cpu))?.f_view([b, m])?;
                rescore(&rows, queries, &at, cut)
            }
        }
    }
}

/// Candidates re-scored together: their key rows are read at once, several loads in flight
/// (re-scoring waits on memory, one random key row after another).
const GROUP: usize = 4;

/// Exact scores of the candidates `ids` (at most [`GROUP`]) against query `q`, into `out`.
#[inline]
fn score_group(keys: &[f32], q: &[f32], ids: &[i64], out: &mut [f32]) {
    let d = q.len();
    let row = |id: i64| &keys[id as usize * d..(id as usize + 1) * d];
    if let [a, b, c, e] = *ids {
        out.copy_from_slice(&dots(q, [row(a), row(b), row(c), row(e)]));
    } else {
        for (s, &id) in out.iter_mut().zip(ids) {
            *s = dots(q, [row(id)])[0];
        }
    }
}

/// `a . b` for each `b` of `rows`, each over eight interleaved f32 partial sums added pairwise
/// at the end: one fixed order for a pair whatever `N` (so a score never depends on its
/// group), which the compiler turns into vector instructions.
#[inline]
fn dots<const N: usize>(a: &[f32], rows: [&[f32]; N]) -> [f32; N] {
    let d = a.len();
    let full = d / 8 * 8;
    let rows = rows.map(|r| &r[..d]);
    let mut acc = [[0f32; 8]; N];
    for (i, x) in a.chunks_exact(8).enumerate() {
        for (acc, r) in acc.iter_mut().zip(&rows) {
            let y = &r[i * 8..i * 8 + 8];
            for l in 0..8 {
                acc[l] += x[l] * y[l];
            }
        }
    }
    std::array::from_fn(|j| {
        let tail: f32 = a[full..].iter().zip(&rows[j][full..]).map(|(x, y)| x * y).sum();
        let [a0, a1, a2, a3, a4, a5, a6, a7] = acc[j];
        ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)) + tail
    })
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

    /// A pair's score is the same bits whether it is computed alone or in a group, for
    /// dimensions with and without a tail past the last 8 values.
    #[test]
    fn grouped_scores_equal_single_ones() {
        for d in [512usize, 13, 3] {
            let v = |seed: usize| -> Vec<f32> {
                (0..d)
                    .map(|i| (((i + 1) * (seed + 7) * 7919) % 1013) as f32 / 977.0 - 0.5)
                    .collect()
            };
            let (q, rows) = (v(0), [v(1), v(2), v(3), v(4)]);
            let group = dots(&q, [&rows[0][..], &rows[1], &rows[2], &rows[3]]);
            for (row, g) in rows.iter().zip(group) {
                assert_eq!(dots(&q, [&row[..]])[0].to_bits(), g.to_bits(), "d {d}");
            }
        }
    }

    /// The block test (signed patterns for a non-negative threshold, keys otherwise) against
    /// comparing keys one by one.
    #[test]
    fn block_test_agrees_with_keys() {
        let values = [-3.5f32, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.25, 1.0, 7.0];
        for &t in &values {
            for pair in values.windows(2) {
                let want = pair.iter().any(|a| a.key() > t.key());
                assert_eq!(f32::block_beats(pair, t.key()), want, "f32 {pair:?} {t}");
                let bits = |v: f32| half::bf16::from_f32(v).to_bits() as i16;
                let block = [bits(pair[0]), bits(pair[1])];
                let want = block.iter().any(|a| a.key() > bits(t).key());
                assert_eq!(i16::block_beats(&block, bits(t).key()), want, "bf16 {pair:?} {t}");
            }
        }
    }

    /// Against a full sort by descending score then ascending id, with many equal scores, for
    /// first chunks larger and smaller than `m`.
    #[test]
    fn best_m_over_chunks_equals_a_sort() {
        let (b, n) = (3usize, 1000usize);
        let all: Vec<f32> = (0..b * n).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 37.0).collect();
        // One-hot queries against keys holding the scores: each product is exactly a score.
        let queries = Tensor::eye(b as i64, (Kind::Float, tch::Device::Cpu));
        let keys = Tensor::from_slice(&all).view([b as i64, n as i64]).tr().contiguous();
        for (m, chunk) in [(7, 300), (40, 300), (40, 16), (1, 1), (25, 1000), (25, 7)] {
            let (s, i) = screen(&queries, &keys, m, chunk).unwrap();
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
