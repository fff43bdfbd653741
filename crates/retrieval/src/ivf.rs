//! The original's approximate index, for comparison: faiss `IVF{L},Flat` with inner product,
//! `L = round(8 sqrt n)` inverted lists trained on the keys, and `nprobe = max(1, L // 10)`
//! lists probed per query (a tenth of the lists, about 1,131 of 11,314 at n = 2 M), rebuilt on
//! tch (no faiss dependency, so it runs wherever libtorch does, CUDA included). Training is
//! spherical k-means as faiss runs it for an IVF quantizer (`kmeans`). Not bit-identical to
//! faiss (another random sample, k-means in another order); the bench and the tests compare its
//! recall with faiss's own IVF index of the same `L` and `nprobe`.
//!
//! Search: each query's `nprobe` lists are those of largest centroid inner product (f32). On
//! the CPU the lists are split between the search's threads; each multiplies a list's keys with
//! the queries that probe it (libtorch, one thread) and keeps each query's best k in Rust. On
//! other devices each chunk of keys is scored against every query and the keys of unprobed
//! lists are masked out (large products instead of one per list).

use std::ops::Range;

use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use crate::host::{self, Row, Score};
use crate::kmeans::{self, Params};
use crate::screening::Screening;
use crate::{Error, Hits, Result};

/// What to change when the IVF index does not fit.
const BUILD_HINT: &str = "build the IVF index on another device (--device) or over fewer keys";

/// What to lower when an IVF search runs out of memory.
const SEARCH_HINT: &str = "lower --batch-size (queries per search)";

/// Keys per masked score chunk off the CPU.
const MASKED_CHUNK: i64 = 65_536;

/// The original's number of inverted lists for `n` keys: `round(8 sqrt n)`.
pub fn original_nlist(n: usize) -> usize {
    (8.0 * (n as f64).sqrt()).round() as usize
}

/// The original's lists probed per query for `nlist` lists: `max(1, nlist // 10)`.
pub fn original_nprobe(nlist: usize) -> usize {
    (nlist / 10).max(1)
}

/// IVF settings; `None` means the original's choice.
#[derive(Debug, Clone)]
pub struct IvfOptions {
    /// Inverted lists (default [`original_nlist`]: `round(8 * sqrt(n))`).
    pub nlist: Option<usize>,
    /// Lists probed per query (default [`original_nprobe`]: `max(1, nlist / 10)`).
    pub nprobe: Option<usize>,
    /// k-means iterations (faiss's for an IVF quantizer: 10).
    pub iterations: usize,
    /// Seed of the training sample and of the initial centroids.
    pub seed: u64,
    /// The number type of the k-means products (default: as the exact search chooses, so f32
    /// on CPUs without bf16 instructions; assignments only need the best centroid).
    pub screening: Screening,
    /// Keys per k-means assignment product (default: about 4 M scores per product).
    pub chunk: Option<usize>,
    /// Where the keys live and the products run.
    pub device: Device,
}

impl Default for IvfOptions {
    fn default() -> Self {
        IvfOptions {
            nlist: None,
            nprobe: None,
            iterations: 10,
            seed: 1234,
            screening: Screening::Auto,
            chunk: None,
            device: Device::Cpu,
        }
    }
}

/// Keys grouped into inverted lists around trained centroids.
pub struct IvfIndex {
    /// Keys in list order (row `j` is key `order[j]`), f32.
    keys: Tensor,
    /// `(nlist, d)` unit centroids, f32.
    centroids: Tensor,
    /// Key ids in list order, on the host.
    order: Vec<i64>,
    /// The list of each row of `keys`, on the device (for the masked search).
    list_of: Tensor,
    /// Each list's first row in `keys`, and the total (`nlist + 1` offsets).
    offsets: Vec<i64>,
    nprobe: usize,
    device: Device,
}

impl IvfIndex {
    /// Trains the quantizer on `keys` (`len * d` values) and fills the lists.
    pub fn build(keys: &[f32], d: usize, opts: &IvfOptions) -> Result<Self> {
        let _g = tch::no_grad_guard();
        if d == 0 || keys.is_empty() || !keys.len().is_multiple_of(d) {
            return Err(Error::Keys(format!("{} values do not form rows of {d}", keys.len())));
        }
        if let Some(i) = keys.iter().position(|v| !v.is_finite()) {
            return Err(Error::Keys(format!("key {} holds a non-finite value", i / d)));
        }
        let n = keys.len() / d;
        let nlist = opts.nlist.unwrap_or_else(|| original_nlist(n)).clamp(1, n);
        let nprobe = opts.nprobe.unwrap_or_else(|| original_nprobe(nlist)).clamp(1, nlist);
        let chunk = opts.chunk.map_or_else(|| kmeans::default_chunk(nlist as i64), |c| c as i64);
        Self::train_and_fill(keys, d as i64, nlist as i64, nprobe, chunk, opts).map_err(|e| {
            e.on_memory(
                opts.device,
                || {
                    format!(
                        "building the IVF index ({nlist} lists over {n} keys of {d}, assignment \
                         products of {chunk} keys x {nlist} centroids)"
                    )
                },
                BUILD_HINT,
            )
        })
    }

    fn train_and_fill(
        keys: &[f32],
        d: i64,
        nlist: i64,
        nprobe: usize,
        chunk: i64,
        opts: &IvfOptions,
    ) -> Result<Self> {
        let started = std::time::Instant::now();
        let device = opts.device;
        let n = keys.len() as i64 / d;
        let kind = opts.screening.resolve(device)?.kind();
        let keys = Tensor::f_from_slice(keys)?.f_view([n, d])?.f_to_device(device)?;
        let params = Params { nlist, iterations: opts.iterations, seed: opts.seed, kind, chunk };
        let centroids = kmeans::train(&keys, &params)?;
        let trained_s = started.elapsed().as_secs_f64();
        let low = if kind == Kind::Float { keys.shallow_clone() } else { keys.f_to_kind(kind)? };
        let assign = kmeans::assign(&low, &centroids, kind, chunk)?;
        drop(low);
        // Keys stored list by list (ascending ids within a list), so a list is a slice.
        let (list_of, order) = assign.f_sort_stable(true, 0, false)?;
        let keys = keys.f_index_select(0, &order)?;
        let sizes = Vec::<i64>::try_from(
            assign.f_bincount(None::<Tensor>, nlist)?.f_to_device(Device::Cpu)?,
        )?;
        let mut offsets = Vec::with_capacity(sizes.len() + 1);
        offsets.push(0);
        for s in sizes {
            offsets.push(offsets[offsets.len() - 1] + s);
        }
        let order = Vec::<i64>::try_from(order.f_to_device(Device::Cpu)?)?;
        tracing::info!(
            n,
            nlist,
            nprobe,
            kind = ?kind,
            train_s = trained_s,
            total_s = started.elapsed().as_secs_f64(),
            "IVF index built"
        );
        Ok(IvfIndex { keys, centroids, order, list_of, offsets, nprobe, device })
    }

    /// Number of inverted lists.
    pub fn nlist(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Lists probed per query.
    pub fn nprobe(&self) -> usize {
        self.nprobe
    }

    /// Approximate top-k of each query among the keys of its `nprobe` nearest lists; rows with
    /// fewer candidates than k are padded with id -1 and score `f32::MIN` (-FLT_MAX), as faiss
    /// pads them.
    pub fn search(&self, queries: &[f32], k: usize) -> Result<Hits> {
        let _g = tch::no_grad_guard();
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let d = self.keys.size()[1] as usize;
        if !queries.len().is_multiple_of(d) {
            return Err(Error::Queries(format!(
                "{} values do not form rows of {d}",
                queries.len()
            )));
        }
        if let Some(i) = queries.iter().position(|v| !v.is_finite()) {
            return Err(Error::Queries(format!("query {} holds a non-finite value", i / d)));
        }
        let nq = queries.len() / d;
        let k = k.min(self.order.len());
        self.search_checked(queries, nq, d, k).map_err(|e| {
            e.on_memory(
                self.device,
                || format!("searching {nq} queries in {} lists of the IVF index", self.nprobe),
                SEARCH_HINT,
            )
        })
    }

    fn search_checked(&self, queries: &[f32], nq: usize, d: usize, k: usize) -> Result<Hits> {
        let q = Tensor::f_from_slice(queries)?.f_view([nq as i64, d as i64])?;
        let q = q.f_to_device(self.device)?;
        let (_, probes) =
            q.f_mm(&self.centroids.f_tr()?)?.f_topk(self.nprobe as i64, 1, true, false)?;
        let (scores, pos) = if self.device == Device::Cpu {
            let probes = Vec::<i64>::try_from(probes.f_flatten(0, -1)?)?;
            self.search_lists(&q, &probes, k)?
        } else {
            self.search_masked(&q, &probes, k)?
        };
        // Rows of the lists to key ids; padding stays -1.
        let ids = pos.iter().map(|&p| if p < 0 { -1 } else { self.order[p as usize] }).collect();
        Ok(Hits { k, scores, ids, rescored: 0, widened: 0 })
    }

    /// The CPU search: lists split between the search's threads by work, each query's best
    /// `k` rows kept in Rust. Returns `(scores, rows)` row-major, padded.
    fn search_lists(&self, q: &Tensor, probes: &[i64], k: usize) -> Result<(Vec<f32>, Vec<i64>)> {
        let nq = q.size()[0] as usize;
        let mut by_list: Vec<Vec<i64>> = vec![Vec::new(); self.nlist()];
        for (j, &l) in probes.iter().enumerate() {
            by_list[l as usize].push((j / self.nprobe) as i64);
        }
        let pool = host::pool()?;
        let work: Vec<u64> = by_list
            .iter()
            .enumerate()
            .map(|(l, qs)| qs.len() as u64 * (self.offsets[l + 1] - self.offsets[l]) as u64)
            .collect();
        let parts: Vec<(Tensor, Tensor, Range<usize>)> =
            split_by_work(&work, 4 * pool.current_num_threads())
                .into_iter()
                .map(|r| (q.shallow_clone(), self.keys.shallow_clone(), r))
                .collect();
        let (by_list, offsets) = (&by_list, &self.offsets);
        let tops: Vec<Vec<Row<u32>>> = pool.install(|| {
            parts
                .into_par_iter()
                .map(|(q, keys, lists)| scan_lists(&q, &keys, lists, by_list, offsets, nq, k))
                .collect::<Result<_>>()
        })?;
        let (mut scores, mut rows) = (Vec::with_capacity(nq * k), Vec::with_capacity(nq * k));
        let mut all: Vec<(u32, i64)> = Vec::new();
        for r in 0..nq {
            all.clear();
            all.extend(tops.iter().flat_map(|t| t[r].heap.iter().map(|e| (e.0.0, e.0.1.0))));
            // Descending score, then ascending key id.
            all.sort_unstable_by(|x, y| {
                y.0.cmp(&x.0).then(self.order[x.1 as usize].cmp(&self.order[y.1 as usize]))
            });
            for j in 0..k {
                let (s, p) = all.get(j).map_or((f32::MIN, -1), |&(key, p)| (f32::value(key), p));
                scores.push(s);
                rows.push(p);
            }
        }
        Ok((scores, rows))
    }

    /// The search off the CPU: every chunk of keys scored against every query, the keys of
    /// unprobed lists masked out, a running top-k. Returns `(scores, rows)` row-major, padded.
    fn search_masked(&self, q: &Tensor, probes: &Tensor, k: usize) -> Result<(Vec<f32>, Vec<i64>)> {
        let (nq, n, k) = (q.size()[0], self.order.len() as i64, k as i64);
        let probed = Tensor::f_zeros([nq, self.nlist() as i64], (Kind::Bool, self.device))?
            .f_scatter_value(1, probes, 1)?;
        let mut run: Option<(Tensor, Tensor)> = None;
        for start in (0..n).step_by(MASKED_CHUNK as usize) {
            let len = MASKED_CHUNK.min(n - start);
            let scores = q.f_mm(&self.keys.f_narrow(0, start, len)?.f_tr()?)?;
            let keep = probed.f_index_select(1, &self.list_of.f_narrow(0, start, len)?)?;
            let scores = scores.f_masked_fill(&keep.f_logical_not()?, f64::NEG_INFINITY)?;
            let (s, i) = crate::topk::chunk_top(&scores, start, k)?;
            run = Some(match run {
                None => (s, i),
                Some((rs, ri)) => {
                    let all = Tensor::f_cat(&[rs, s], 1)?;
                    let (s, at) = all.f_topk(k.min(all.size()[1]), 1, true, true)?;
                    (s, Tensor::f_cat(&[ri, i], 1)?.f_gather(1, &at, false)?)
                }
            });
        }
        let (s, i) = run.ok_or_else(|| Error::Keys("no key to search".into()))?;
        // A single chunk's selection is unordered.
        let (s, at) = s.f_sort(1, true)?;
        let i = i.f_gather(1, &at, false)?;
        let ids = Tensor::f_full([nq, k], -1, (Kind::Int64, self.device))?;
        let ids = ids.f_where_self(&s.f_isinf()?, &i)?;
        let s = s.f_clamp_min(f64::from(f32::MIN))?;
        let host = |t: Tensor| t.f_to_device(Device::Cpu)?.f_flatten(0, -1);
        Ok((Vec::<f32>::try_from(host(s)?)?, Vec::<i64>::try_from(host(ids)?)?))
    }
}

/// One thread's share of [`IvfIndex::search_lists`]: for each list of `lists` with queries,
/// the product of those queries with the list's keys, offered to each query's row (ids are
/// rows of the list-ordered keys).
fn scan_lists(
    q: &Tensor,
    keys: &Tensor,
    lists: Range<usize>,
    by_list: &[Vec<i64>],
    offsets: &[i64],
    nq: usize,
    k: usize,
) -> Result<Vec<Row<u32>>> {
    let mut rows = vec![Row::new(k); nq];
    let mut buf: Vec<f32> = Vec::new();
    for l in lists {
        let (a, b) = (offsets[l], offsets[l + 1]);
        let qs = &by_list[l];
        if qs.is_empty() || a == b {
            continue;
        }
        let len = (b - a) as usize;
        let scores = q
            .f_index_select(0, &Tensor::f_from_slice(qs)?)?
            .f_mm(&keys.f_narrow(0, a, b - a)?.f_tr()?)?;
        buf.resize(qs.len() * len, 0.0);
        scores.f_copy_data(&mut buf, qs.len() * len)?;
        for (s, &r) in buf.chunks(len).zip(qs) {
            rows[r as usize].scan::<f32>(s, a, k);
        }
    }
    Ok(rows)
}

/// `parts` contiguous ranges of `0..work.len()` with about equal sums of `work`.
fn split_by_work(work: &[u64], parts: usize) -> Vec<Range<usize>> {
    let total: u64 = work.iter().sum();
    let per = total.div_ceil(parts.max(1) as u64).max(1);
    let (mut out, mut start, mut acc) = (Vec::new(), 0, 0);
    for (i, &w) in work.iter().enumerate() {
        acc += w;
        if acc >= per {
            out.push(start..i + 1);
            (start, acc) = (i + 1, 0);
        }
    }
    if start < work.len() {
        out.push(start..work.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_split_into_contiguous_ranges_covering_everything() {
        let work = [5u64, 0, 1, 9, 2, 2, 0, 7];
        for parts in [1, 2, 3, 8, 20] {
            let r = split_by_work(&work, parts);
            assert_eq!(r.first().unwrap().start, 0);
            assert_eq!(r.last().unwrap().end, work.len());
            assert!(r.windows(2).all(|w| w[0].end == w[1].start), "{r:?}");
        }
    }

    /// The CPU's list-by-list search and the masked search of other devices give the same
    /// results (run here on the CPU).
    #[test]
    fn list_search_equals_masked_search() {
        let mut rng = kmeans::Rng::new(5);
        let (n, d, nq) = (3000usize, 16usize, 40usize);
        let unit = |rng: &mut kmeans::Rng, m: usize| -> Vec<f32> {
            let mut v: Vec<f32> = rng
                .sample(1 << 20, (m * d) as i64)
                .iter()
                .map(|&x| x as f32 / 524288.0 - 1.0)
                .collect();
            for r in v.chunks_mut(d) {
                let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                r.iter_mut().for_each(|x| *x /= norm);
            }
            v
        };
        let (keys, queries) = (unit(&mut rng, n), unit(&mut rng, nq));
        let index = IvfIndex::build(&keys, d, &IvfOptions::default()).unwrap();
        assert_eq!(index.nprobe(), original_nprobe(original_nlist(n)));
        let q = Tensor::from_slice(&queries).view([nq as i64, d as i64]);
        let (_, probes) = q.mm(&index.centroids.tr()).topk(index.nprobe as i64, 1, true, false);
        for k in [1, 16, 2000] {
            let k = k.min(n);
            let lists = index
                .search_lists(&q, &Vec::<i64>::try_from(probes.flatten(0, -1)).unwrap(), k)
                .unwrap();
            let masked = index.search_masked(&q, &probes, k).unwrap();
            let ids = |rows: &[i64]| {
                rows.iter()
                    .map(|&p| if p < 0 { -1 } else { index.order[p as usize] })
                    .collect::<Vec<_>>()
            };
            // The products differ in shape, so scores may differ in their last bits; ids may
            // then swap only between near-equal scores.
            let (li, mi) = (ids(&lists.1), ids(&masked.1));
            for j in 0..lists.0.len() {
                let (a, b) = (lists.0[j], masked.0[j]);
                assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "k {k} at {j}: {a} vs {b}");
                let near = |i: usize| (lists.0[i] - a).abs() <= 1e-5;
                let tied = (j % k > 0 && near(j - 1)) || (j % k + 1 < k && near(j + 1));
                assert!(li[j] == mi[j] || tied, "k {k} at {j}: id {} vs {}", li[j], mi[j]);
            }
            if k == 2000 {
                assert!(lists.1.contains(&-1), "k {k}: padded rows expected");
            }
        }
    }
}
