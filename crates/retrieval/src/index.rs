//! [`Index`]: keys resident on a device, searched exactly in batches of queries and chunks of
//! keys (see the crate docs for the two precisions and the proof).

use std::cell::OnceCell;

use tch::{Device, Kind, Tensor};

use crate::host::{self, HostKeys};
use crate::screening::{Screening, cpu_has_bf16};
use crate::topk::Cut;
use crate::{Error, Result, topk};

/// Keys per score chunk on the CPU when [`IndexOptions::key_chunk`] is `None`: the scores are
/// read back while in cache.
pub const DEFAULT_KEY_CHUNK_CPU: usize = 8192;

/// Keys per score chunk on CUDA when [`IndexOptions::key_chunk`] is `None` (f16 screening writes
/// f32 scores: half of the 262,144 keys a chunk held with f16 scores).
pub const DEFAULT_KEY_CHUNK_CUDA: usize = 131_072;

/// Extra f32 candidates re-scored beyond k, so that scores equal up to f32 noise are ordered the
/// same whatever the chunking.
const SLACK: i64 = 16;

/// Low-precision screening keeps at least this many candidates beyond k: the proof needs the
/// k-th exact score to beat the best screened score left out by twice the bound, which the
/// (k + 1)-th rarely does (HAAV's whole view asks for k = 128 while the default candidates
/// are 64).
const MARGIN: i64 = 64;

/// Candidates re-scored per step on a device: after each step, rows whose next candidates
/// cannot reach their best k ([`Cut`]) stop.
const COLUMNS: i64 = 64;

/// Elements of the `(rows, candidates, d)` products that re-scoring on a device holds at
/// once (256 MiB in f32); more rows are scored in turn.
const RESCORE_ELEMENTS: i64 = 1 << 26;

/// What to lower when a search runs out of memory (the binaries' flags).
const SEARCH_HINT: &str =
    "lower --key-chunk (keys per score chunk) or --batch-size (queries per search)";

/// What to change when the keys themselves do not fit.
const KEYS_HINT: &str =
    "the keys do not fit on this device: choose another (--device) or a smaller caption database";

/// How scores are computed (both give exact results; see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Every score in f32.
    F32,
    /// Screening in the type of [`IndexOptions::screening`], then f32 re-scoring of the
    /// candidates with a proof per query.
    Fast,
}

/// Index settings.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Where the keys live and the products run.
    pub device: Device,
    /// How scores are computed.
    pub precision: Precision,
    /// The screening pass's number type in [`Precision::Fast`] (default: chosen from the
    /// device, see [`Screening::Auto`]).
    pub screening: Screening,
    /// Keys per score chunk (default: [`DEFAULT_KEY_CHUNK_CPU`] on the CPU,
    /// [`DEFAULT_KEY_CHUNK_CUDA`] on CUDA).
    pub key_chunk: Option<usize>,
    /// Queries per batch (default: 512 on the CPU, 8,192 on CUDA).
    pub query_batch: Option<usize>,
    /// Screened candidates per query in [`Precision::Fast`] (with bf16 or f16 screening at
    /// least k + 64; with f32 screening k + 16).
    pub candidates: usize,
    /// Keys per block of the block-maximum pre-selection in each score chunk on CUDA (default
    /// 128: a reduction is much cheaper there than `topk` over every score). `Some(0)` turns it
    /// off. Results are the same either way. The CPU selects in Rust and ignores it.
    pub block: Option<usize>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            device: Device::Cpu,
            precision: Precision::Fast,
            screening: Screening::Auto,
            key_chunk: None,
            query_batch: None,
            candidates: 64,
            block: None,
        }
    }
}

/// Search results, row-major `(queries, k)` with `k = min(k, len)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hits {
    /// Results per query.
    pub k: usize,
    /// Scores, descending within a row.
    pub scores: Vec<f32>,
    /// Key ids (row numbers of the keys), ties by the lower id.
    pub ids: Vec<i64>,
    /// Queries that the fast pass could not prove even with widened screening, searched again
    /// in f32.
    pub rescored: usize,
    /// Queries that the first screening could not prove, screened again with 16 times the
    /// candidates (a second pass; those counted in `rescored` are among them).
    pub widened: usize,
}

/// Where the f32 keys live.
enum Keys {
    /// A `(len, d)` tensor on the device.
    Tensor(Tensor),
    /// On the CPU with bf16 screening: row-major in host memory, which re-scoring reads
    /// directly; the tensor is made from them only if the f32 fallback needs it.
    Host(Vec<f32>, OnceCell<Tensor>),
}

/// Keys resident on a device, searched exactly.
pub struct Index {
    keys: Keys,
    /// The screening keys of [`Precision::Fast`] (the f32 tensor itself for f32 screening).
    low: Option<Tensor>,
    screening: Option<Screening>,
    n: i64,
    d: i64,
    /// Largest key norm (1 for normalised keys), for the error bound.
    key_norm: f64,
    /// Bound on |screened score - exact score| per unit of query and key norm.
    eps: f64,
    key_chunk: i64,
    query_batch: i64,
    candidates: i64,
    /// Block of the block-maximum pre-selection (0: off).
    block: i64,
    device: Device,
    /// Screening and re-scoring by the CUDA path's libtorch steps even on the CPU (tests).
    device_path: bool,
}

impl Index {
    /// An index over `keys` (`len * d` values, row-major).
    pub fn from_slice(keys: &[f32], d: usize, opts: &IndexOptions) -> Result<Self> {
        if d == 0 || keys.is_empty() || !keys.len().is_multiple_of(d) {
            return Err(Error::Keys(format!("{} values do not form rows of {d}", keys.len())));
        }
        if let Some(i) = keys.iter().position(|v| !v.is_finite()) {
            return Err(Error::Keys(format!("key {} holds a non-finite value", i / d)));
        }
        let n = (keys.len() / d) as i64;
        let keys = Tensor::f_from_slice(keys)
            .and_then(|t| t.f_view([n, d as i64]))
            .map_err(|e| keys_memory(Error::from(e), opts.device, n, d as i64))?;
        Self::from_tensor(keys, opts)
    }

    /// An index over a `(len, d)` tensor of keys (made f32 and kept on `opts.device`).
    pub fn from_tensor(keys: Tensor, opts: &IndexOptions) -> Result<Self> {
        let _g = tch::no_grad_guard();
        let (n, d) = keys.size2().map_err(|_| Error::Keys("expected a (len, d) tensor".into()))?;
        if n == 0 || d == 0 {
            return Err(Error::Keys("empty key set".into()));
        }
        Self::build(keys, n, d, opts).map_err(|e| keys_memory(e, opts.device, n, d))
    }

    fn build(keys: Tensor, n: i64, d: i64, opts: &IndexOptions) -> Result<Self> {
        let device = opts.device;
        let keys = keys.f_to_device(device)?.f_to_kind(Kind::Float)?.f_contiguous()?;
        let key_norm = keys.f_norm_scalaropt_dim(2, [1], false)?.f_max()?.f_double_value(&[])?;
        if !key_norm.is_finite() {
            return Err(Error::Keys("a key holds a non-finite value".into()));
        }
        let screening = match opts.precision {
            Precision::F32 => None,
            Precision::Fast => Some(opts.screening.resolve(device)?),
        };
        let low = match screening {
            Some(s) if s.kind() == Kind::Float => Some(keys.shallow_clone()),
            Some(s) => Some(keys.f_to_kind(s.kind())?),
            None => None,
        };
        let eps = screening.map_or(0.0, |s| s.bound(d as usize));
        let cuda = device.is_cuda();
        let key_chunk = opts
            .key_chunk
            .unwrap_or(if cuda { DEFAULT_KEY_CHUNK_CUDA } else { DEFAULT_KEY_CHUNK_CPU })
            .max(1) as i64;
        let query_batch = opts.query_batch.unwrap_or(if cuda { 8192 } else { 512 }).max(1) as i64;
        let block = opts.block.unwrap_or(if cuda { 128 } else { 0 }) as i64;
        if let Some(s) = screening {
            let why = match (device, opts.screening) {
                (Device::Cpu, Screening::Auto) if cpu_has_bf16() => "this CPU multiplies bf16",
                (Device::Cpu, Screening::Auto) => "this CPU has no AVX512-BF16 or AMX-BF16",
                (_, Screening::Auto) => "the device's choice",
                _ => "as asked",
            };
            tracing::info!(device = ?device, screening = ?s, why, "exact search screens in {s:?}");
        }
        tracing::debug!(n, d, key_chunk, query_batch, block, eps, "index ready");
        // bf16 screening on the CPU re-scores from a host copy of the f32 keys; every other
        // setting keeps the f32 keys once, as a tensor.
        let keys = match (device, &low) {
            (Device::Cpu, Some(l)) if l.kind() != Kind::Float => {
                Keys::Host(Vec::<f32>::try_from(keys.f_flatten(0, -1)?)?, OnceCell::new())
            }
            _ => Keys::Tensor(keys),
        };
        Ok(Index {
            keys,
            low,
            screening,
            n,
            d,
            key_norm,
            eps,
            key_chunk,
            query_batch,
            candidates: opts.candidates as i64,
            block,
            device,
            device_path: device != Device::Cpu,
        })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.n as usize
    }
    /// Whether there are no keys (never: an index holds at least one).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Values per key.
    pub fn dim(&self) -> usize {
        self.d as usize
    }
    /// The device of the keys.
    pub fn device(&self) -> Device {
        self.device
    }
    /// Keys per score chunk.
    pub fn key_chunk(&self) -> usize {
        self.key_chunk as usize
    }
    /// Queries per batch.
    pub fn query_batch(&self) -> usize {
        self.query_batch as usize
    }
    /// The screening type in use ([`Screening::Auto`] resolved), `None` for [`Precision::F32`].
    pub fn screening(&self) -> Option<Screening> {
        self.screening
    }

    /// The bound on |screened score - exact score| that the proof uses, per unit of query norm
    /// (0 for [`Precision::F32`]).
    pub fn screening_bound(&self) -> f64 {
        self.eps * self.key_norm
    }

    /// The screening pass alone: the best `m` keys per query of `queries` (`(q, d)`, any
    /// device) by screened scores, as `(scores, ids)` `(q, m)`, f32 and i64, unordered beyond
    /// being the best `m` (for tests of the bound against exact scores).
    pub fn screen_tensor(&self, queries: &Tensor, m: usize) -> Result<(Tensor, Tensor)> {
        let _g = tch::no_grad_guard();
        let q = queries.f_to_device(self.device)?.f_to_kind(Kind::Float)?;
        self.screen(&q, &self.product_keys()?, (m as i64).min(self.n))
    }

    /// Screening and re-scoring by the CUDA path's libtorch steps on the CPU too, so that the
    /// tests run them (results are the same either way).
    #[doc(hidden)]
    pub fn with_device_path(mut self) -> Self {
        self.device_path = true;
        self
    }

    /// The f32 keys as a `(len, d)` tensor on the device.
    fn keys(&self) -> Result<&Tensor> {
        match &self.keys {
            Keys::Tensor(t) => Ok(t),
            Keys::Host(rows, made) => {
                if let Some(t) = made.get() {
                    return Ok(t);
                }
                let t = Tensor::f_from_slice(rows)?.f_view([self.n, self.d])?;
                Ok(made.get_or_init(|| t))
            }
        }
    }

    /// The keys a search's products read: the screening keys, else the f32 keys.
    pub(crate) fn product_keys(&self) -> Result<Tensor> {
        match &self.low {
            Some(t) => Ok(t.shallow_clone()),
            None => Ok(self.keys()?.shallow_clone()),
        }
    }

    /// The keys as CPU re-scoring reads them.
    fn host_keys(&self) -> Result<HostKeys<'_>> {
        Ok(match &self.keys {
            Keys::Host(rows, _) => HostKeys::Rows(rows),
            Keys::Tensor(t) => HostKeys::Tensor(t.shallow_clone()),
        })
    }

    /// Searches `queries` (`q * dim` values, row-major).
    pub fn search(&self, queries: &[f32], k: usize) -> Result<Hits> {
        let d = self.d as usize;
        if !queries.len().is_multiple_of(d) {
            return Err(Error::Queries(format!(
                "{} values do not form rows of {d}",
                queries.len()
            )));
        }
        let q = Tensor::f_from_slice(queries)?.f_view([(queries.len() / d) as i64, self.d])?;
        self.search_tensor(&q, k)
    }

    /// Searches a `(q, dim)` tensor of queries on any device.
    pub fn search_tensor(&self, queries: &Tensor, k: usize) -> Result<Hits> {
        let (s, i, passes) = self.search_passes(queries, k)?;
        let kk = s.size()[1] as usize;
        let host = |t: Tensor| t.f_to_device(Device::Cpu)?.f_flatten(0, -1);
        let scores = Vec::<f32>::try_from(host(s)?)?;
        let ids = Vec::<i64>::try_from(host(i)?)?;
        Ok(Hits { k: kk, scores, ids, rescored: passes.exact, widened: passes.widened })
    }

    /// Like [`Index::search_tensor`], leaving `(scores, ids)` on the index's device. A failed
    /// allocation is an [`Error::OutOfMemory`] that names the sizes and the flags to lower.
    /// The count is of the queries searched again in f32 ([`Hits::rescored`]).
    pub fn search_on_device(&self, queries: &Tensor, k: usize) -> Result<(Tensor, Tensor, usize)> {
        let (s, i, passes) = self.search_passes(queries, k)?;
        Ok((s, i, passes.exact))
    }

    /// [`Index::search_on_device`] with the counts of both later passes.
    fn search_passes(&self, queries: &Tensor, k: usize) -> Result<(Tensor, Tensor, Passes)> {
        let _g = tch::no_grad_guard();
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let (q, d) =
            queries.size2().map_err(|_| Error::Queries("expected a (q, d) tensor".into()))?;
        if d != self.d {
            return Err(Error::Queries(format!("dimension {d}, the keys have {}", self.d)));
        }
        self.search_checked(queries, q, k as i64).map_err(|e| {
            e.on_memory(
                self.device,
                || {
                    format!(
                        "searching {q} queries among {} keys (score chunks of {} queries x {} keys)",
                        self.n,
                        self.query_batch.min(q),
                        self.key_chunk.min(self.n)
                    )
                },
                SEARCH_HINT,
            )
        })
    }

    /// [`Index::search_on_device`] once the shapes are checked.
    fn search_checked(&self, queries: &Tensor, q: i64, k: i64) -> Result<(Tensor, Tensor, Passes)> {
        let k = k.min(self.n);
        let queries = queries.f_to_device(self.device)?.f_to_kind(Kind::Float)?;
        let bad = queries.f_isfinite()?.f_all_dim(1, false)?.f_logical_not()?.f_nonzero()?;
        if bad.size()[0] > 0 {
            let row = bad.f_int64_value(&[0, 0])?;
            return Err(Error::Queries(format!("query {row} holds a non-finite value")));
        }
        if q == 0 {
            let s = Tensor::f_zeros([0, k], (Kind::Float, self.device))?;
            let i = Tensor::f_zeros([0, k], (Kind::Int64, self.device))?;
            return Ok((s, i, Passes::default()));
        }
        // f32 screening's bound is about 1e-4 at d = 512 (bf16's: 1e-2): the k + SLACK
        // candidates of the f32 search nearly always prove the answer, and a heap of 65 costs
        // more to keep than one of 33.
        let candidates = match self.screening {
            Some(Screening::F32) => k + SLACK,
            _ => self.candidates.max(k + MARGIN),
        };
        let m = candidates + 1;
        match &self.low {
            Some(low) if self.n > m => self.fast(&queries, low, k, m, true),
            _ => {
                let (s, i) = self.exact(&queries, k)?;
                Ok((s, i, Passes::default()))
            }
        }
    }

    /// `f` over batches of `query_batch` queries, results concatenated.
    fn batched<F>(&self, queries: &Tensor, mut f: F) -> Result<(Tensor, Tensor)>
    where
        F: FnMut(&Tensor) -> Result<(Tensor, Tensor)>,
    {
        let q = queries.size()[0];
        let (mut ss, mut is) = (Vec::new(), Vec::new());
        for start in (0..q).step_by(self.query_batch as usize) {
            let (s, i) = f(&queries.f_narrow(0, start, self.query_batch.min(q - start))?)?;
            ss.push(s);
            is.push(i);
        }
        Ok((Tensor::f_cat(&ss, 0)?, Tensor::f_cat(&is, 0)?))
    }

    /// f32 scores, chunk by chunk; the best `k + SLACK` are re-scored canonically.
    fn exact(&self, queries: &Tensor, k: i64) -> Result<(Tensor, Tensor)> {
        let m = (k + SLACK).min(self.n);
        self.batched(queries, |qb| {
            let (_, cand) = self.screen(qb, self.keys()?, m)?;
            self.rescore(qb, &cand, k, None)
        })
    }

    /// The best `m` keys per query by scores against `keys` (f32 or low precision), chunk by
    /// chunk, unordered beyond being the best `m`.
    fn screen(&self, qb: &Tensor, keys: &Tensor, m: i64) -> Result<(Tensor, Tensor)> {
        if !self.device_path {
            return host::screen(qb, keys, m as usize, self.key_chunk);
        }
        let q = qb.f_to_kind(keys.kind())?;
        let mut run: Option<(Tensor, Tensor)> = None;
        for start in (0..self.n).step_by(self.key_chunk as usize) {
            let chunk = keys.f_narrow(0, start, self.key_chunk.min(self.n - start))?;
            let scores = Screening::mm(&q, &chunk.f_tr()?)?;
            let (s, i) = if self.block > 1 {
                topk::chunk_top_blocked(&scores, start, m, self.block)?
            } else {
                topk::chunk_top(&scores, start, m)?
            };
            run = Some(match run {
                None => (s, i),
                Some((rs, ri)) => {
                    let all = Tensor::f_cat(&[rs, s], 1)?;
                    let (s, at) = all.f_topk(m.min(all.size()[1]), 1, true, true)?;
                    (s, Tensor::f_cat(&[ri, i], 1)?.f_gather(1, &at, false)?)
                }
            });
        }
        run.ok_or_else(|| Error::Keys("no key to screen".into()))
    }

    /// Scores of candidate ids computed one pair at a time (on the CPU by `host::rescore` from
    /// host memory; on CUDA by an elementwise product summed over the dimension), so a pair's
    /// score does not depend on chunking or batch position; then ordered by descending score
    /// and ascending id, and cut to `k`. With `cut`, candidates that the proof's bound shows
    /// cannot reach the best `k` are skipped and left at minus infinity (the same rule on
    /// both devices, [`Cut`]).
    fn rescore(
        &self,
        qb: &Tensor,
        cand: &Tensor,
        k: i64,
        cut: Option<Cut>,
    ) -> Result<(Tensor, Tensor)> {
        topk::order(&self.scores_of(qb, cand, cut)?, cand, k)
    }

    /// The scores of [`Index::rescore`], in the candidates' order.
    fn scores_of(&self, qb: &Tensor, cand: &Tensor, cut: Option<Cut>) -> Result<Tensor> {
        if !self.device_path {
            return self.host_keys()?.rescore(qb, cand, cut);
        }
        let Some(cut) = cut else {
            return self.pair_scores(qb, cand);
        };
        // Column blocks, the first holding k candidates at least; after each, the rows whose
        // next candidate can still reach their best k go on.
        let (b, m) = cand.size2()?;
        let k = cut.k as i64;
        let scores = Tensor::f_full([b, m], f64::NEG_INFINITY, (Kind::Float, self.device))?;
        let mut rows = Tensor::f_arange(b, (Kind::Int64, self.device))?;
        let mut start = 0;
        while start < m && rows.size()[0] > 0 {
            let w = if start == 0 { k.max(COLUMNS) } else { COLUMNS }.min(m - start);
            let c = cand.f_index_select(0, &rows)?.f_narrow(1, start, w)?;
            let s = self.pair_scores(&qb.f_index_select(0, &rows)?, &c)?;
            let _ = scores.f_narrow(1, start, w)?.f_index_copy_(0, &rows, &s)?;
            start += w;
            if start >= m || start < k {
                continue;
            }
            let so_far = scores.f_index_select(0, &rows)?.f_narrow(1, 0, start)?;
            let (best, _) = so_far.f_topk(k, 1, true, false)?;
            let next = cut.approx.f_index_select(0, &rows)?.f_select(1, start)?;
            let bound = cut.bound.f_to_kind(Kind::Float)?.f_index_select(0, &rows)?;
            let go_on = Cut::reaches_rows(&next, &bound, &best.f_select(1, k - 1)?)?;
            rows = rows.f_masked_select(&go_on)?;
        }
        Ok(scores)
    }

    /// Exact scores of candidate ids on the index's device, as an elementwise product summed
    /// over the dimension, a few rows at a time so that the gathered keys stay within
    /// [`RESCORE_ELEMENTS`].
    fn pair_scores(&self, qb: &Tensor, cand: &Tensor) -> Result<Tensor> {
        let (b, m) = cand.size2()?;
        let per = (RESCORE_ELEMENTS / (m * self.d).max(1)).max(1);
        let mut parts = Vec::new();
        for start in (0..b).step_by(per as usize) {
            let r = per.min(b - start);
            let ids = cand.f_narrow(0, start, r)?.f_flatten(0, -1)?;
            let keys = self.keys()?.f_index_select(0, &ids)?.f_view([r, m, self.d])?;
            let q = qb.f_narrow(0, start, r)?.f_unsqueeze(1)?;
            parts.push(keys.f_mul(&q)?.f_sum_dim_intlist(
                [-1i64].as_slice(),
                false,
                Kind::Float,
            )?);
        }
        if parts.is_empty() {
            return Ok(Tensor::f_zeros([0, m], (Kind::Float, self.device))?);
        }
        Ok(Tensor::f_cat(&parts, 0)?)
    }

    /// Low-precision screening of `m` candidates, canonical f32 re-scoring, proof per query;
    /// with `widen`, the queries left unproven (over all batches, so that the wider pass reads
    /// the keys once) are screened once more with 16 times the candidates, when that is under a
    /// quarter of the keys; those still unproven are searched in f32.
    fn fast(
        &self,
        queries: &Tensor,
        low: &Tensor,
        k: i64,
        m: i64,
        widen: bool,
    ) -> Result<(Tensor, Tensor, Passes)> {
        let eps = self.eps * self.key_norm;
        let (s, i) = self.batched(queries, |qb| {
            if !self.device_path {
                // On the CPU the whole batch runs on the search's threads, libtorch's small
                // steps included: on the caller's thread each of them would wake libtorch's
                // OpenMP workers, which then spin beside the products (see `host::pool`).
                let (qb, low, chunk) = (qb.shallow_clone(), low.shallow_clone(), self.key_chunk);
                let keys = self.host_keys()?;
                host::pool()?.install(move || {
                    fast_batch(
                        &qb,
                        (k, m, eps),
                        |q| host::screen(q, &low, m as usize, chunk),
                        |q, cand, cut| keys.rescore(q, cand, Some(cut)),
                    )
                })
            } else {
                fast_batch(
                    qb,
                    (k, m, eps),
                    |q| self.screen(q, low, m),
                    |q, cand, cut| self.scores_of(q, cand, Some(cut)),
                )
            }
        })?;
        let (mut s, mut i) = (s.f_contiguous()?, i.f_contiguous()?);
        let failed = s.f_select(1, k - 1)?.f_isnan()?.f_nonzero()?.f_squeeze_dim(1)?;
        let nf = failed.size()[0];
        let mut passes = Passes::default();
        if nf > 0 {
            let rows = queries.f_index_select(0, &failed)?;
            let wider = m * 16;
            let (fs, fi) = if widen && wider < self.n / 4 {
                let (fs, fi, p) = self.fast(&rows, low, k, wider, false)?;
                passes = Passes { widened: nf as usize, exact: p.exact };
                (fs, fi)
            } else {
                passes.exact = nf as usize;
                self.exact(&rows, k)?
            };
            let _ = s.f_index_copy_(0, &failed, &fs)?;
            let _ = i.f_index_copy_(0, &failed, &fi)?;
            tracing::debug!(
                queries = queries.size()[0],
                unproven = nf,
                candidates = m - 1,
                "{}",
                if widen && passes.widened > 0 { "screening widened" } else { "searched in f32" }
            );
        }
        Ok((s, i, passes))
    }
}

/// Queries of a search that took a later pass.
#[derive(Debug, Default, Clone, Copy)]
struct Passes {
    /// Screened again with 16 times the candidates.
    widened: usize,
    /// Searched in f32.
    exact: usize,
}

/// An allocation failure while the index of `n` keys of `d` is built, as such.
fn keys_memory(e: Error, device: Device, n: i64, d: i64) -> Error {
    e.on_memory(
        device,
        || format!("holding {n} keys of {d} ({} MiB in f32)", (n as u128 * d as u128 * 4) >> 20),
        KEYS_HINT,
    )
}

/// One batch of [`Index::fast`] (`(k, m, eps)`: eps bounds the screening error per unit of
/// query norm): the best `m` screened candidates, the `m - 1` best re-scored in f32 with the
/// bound's cut (`rescore` gives their scores in the candidates' order), and the proof.
/// Unproven rows are marked by a NaN k-th score.
fn fast_batch(
    qb: &Tensor,
    (k, m, eps): (i64, i64, f64),
    screen: impl FnOnce(&Tensor) -> Result<(Tensor, Tensor)>,
    rescore: impl FnOnce(&Tensor, &Tensor, Cut) -> Result<Tensor>,
) -> Result<(Tensor, Tensor)> {
    let (approx, ids) = screen(qb)?;
    // The m-th best screened score bounds every key left out.
    let (approx, at) = approx.f_sort(1, true)?;
    let ids = ids.f_gather(1, &at, false)?;
    let cand = ids.f_narrow(1, 0, m - 1)?;
    let outside = approx.f_select(1, m - 1)?.f_to_kind(Kind::Float)?;
    let bound = qb.f_norm_scalaropt_dim(2, [1], false)?.f_mul_scalar(eps)?;
    let approx = approx.f_narrow(1, 0, m - 1)?.f_to_kind(Kind::Float)?;
    let cut = Cut { approx: &approx, bound: &bound, k: k as usize };
    let (s, i) = topk::order(&rescore(qb, &cand, cut)?, &cand, k)?;
    let proven = outside.f_add(&bound)?.f_lt_tensor(&s.f_select(1, k - 1)?)?;
    Ok((s.f_where_self(&proven.f_unsqueeze(1)?, &s.f_full_like(f64::NAN)?)?, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` pseudo-random unit rows of `d`.
    fn unit_rows(seed: u64, n: usize, d: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..n * d)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        for row in v.chunks_mut(d) {
            let norm = row.iter().map(|a| a * a).sum::<f32>().sqrt();
            row.iter_mut().for_each(|a| *a /= norm);
        }
        v
    }

    fn make_index(keys: &[f32], d: usize, screening: Screening) -> Index {
        let opts = IndexOptions { screening, ..IndexOptions::default() };
        Index::from_slice(keys, d, &opts).unwrap()
    }

    fn ids(t: &Tensor) -> Vec<i64> {
        Vec::<i64>::try_from(t.f_flatten(0, -1).unwrap()).unwrap()
    }

    /// HAAV's k (16 per nine-crop row, 32 per five-crop row, 128 for the whole view) at CLIP
    /// L/14's width, proven by f16's bound (f32 screening stands in for the product: its error
    /// is far below the bound, so every proof made still holds): no query needs a second pass
    /// with k + 64 candidates, while k + 1 candidates send most of them to one.
    #[test]
    fn haavs_ks_need_no_second_pass_under_f16s_bound() {
        let d = 768;
        let keys = unit_rows(1, 20_000, d);
        let queries = unit_rows(2, 40, d);
        let mut index = make_index(&keys, d, Screening::F32);
        index.screening = Some(Screening::F16);
        index.eps = Screening::F16.bound(d);
        let exact = make_index(&keys, d, Screening::F32);
        let q = Tensor::from_slice(&queries).view([40, d as i64]);
        for k in [16usize, 32, 128] {
            let (_, got, passes) = index.search_passes(&q, k).unwrap();
            assert_eq!(passes.widened, 0, "k {k}: second passes");
            assert_eq!(passes.exact, 0, "k {k}: f32 searches");
            let (_, want, _) = exact.search_passes(&q, k).unwrap();
            assert_eq!(ids(&got), ids(&want), "k {k}");
        }
        let low = index.low.as_ref().unwrap().shallow_clone();
        let (_, _, passes) = index.fast(&q, &low, 128, 130, true).unwrap();
        assert!(passes.widened >= 20, "k + 1 candidates: only {} widened", passes.widened);
    }

    /// The CUDA path's libtorch steps (screening, re-scoring with the cut in column blocks) on
    /// the CPU give the host path's answers, for both CPU screening types and a k above the
    /// first column block.
    #[test]
    fn the_device_path_gives_the_host_paths_answers() {
        let d = 48;
        let keys = unit_rows(3, 9000, d);
        let q = Tensor::from_slice(&unit_rows(4, 70, d)).view([70, d as i64]);
        for screening in [Screening::F32, Screening::Bf16] {
            let host = make_index(&keys, d, screening);
            let device = make_index(&keys, d, screening).with_device_path();
            for k in [1usize, 16, 100] {
                let (hs, hi, _) = host.search_passes(&q, k).unwrap();
                let (ds, di, _) = device.search_passes(&q, k).unwrap();
                assert_eq!(ids(&hi), ids(&di), "{screening:?} k {k}");
                let diff = hs.f_sub(&ds).unwrap().abs().max().double_value(&[]);
                assert!(diff <= 1e-6, "{screening:?} k {k}: {diff}");
            }
        }
    }

    /// Re-scoring on the device path stops each row where the cut says nothing after can
    /// reach its best k: with a bound that leaves no doubt, only the first column block is
    /// scored; with a huge bound, every candidate; the best k are the same.
    #[test]
    fn the_device_cut_skips_what_cannot_reach_the_best_k() {
        let d = 32;
        let keys = unit_rows(5, 4000, d);
        let q = Tensor::from_slice(&unit_rows(6, 9, d)).view([9, d as i64]);
        let index = make_index(&keys, d, Screening::F32).with_device_path();
        let (k, m) = (16i64, 300i64);
        let (approx, cand) = index.screen(&q, &index.product_keys().unwrap(), m).unwrap();
        let (approx, at) = approx.sort(1, true);
        let cand = cand.gather(1, &at, false);
        let mut best = Vec::new();
        for (bound, scored) in [(0.0f64, COLUMNS.max(k)), (10.0, m)] {
            let bound = Tensor::full([9], bound, (Kind::Float, Device::Cpu));
            let cut = Cut { approx: &approx, bound: &bound, k: k as usize };
            let s = index.scores_of(&q, &cand, Some(cut)).unwrap();
            let finite = s.isfinite().sum_dim_intlist([1i64].as_slice(), false, Kind::Int64);
            assert_eq!(ids(&finite), vec![scored; 9], "bound {bound}");
            best.push(ids(&topk::order(&s, &cand, k).unwrap().1));
        }
        assert_eq!(best[0], best[1]);
    }

    /// Rows the widened pass cannot prove go to the f32 search, not to a third pass.
    #[test]
    fn screening_widens_once() {
        let d = 16;
        let mut keys = unit_rows(7, 100_000, d);
        let target = keys[..d].to_vec();
        // 3,334 copies of key 0: more than the widened pass's 1,296 candidates, fewer than a
        // third pass's 20,736 (under a quarter of the keys).
        for i in (0..100_000).step_by(30) {
            keys[i * d..(i + 1) * d].copy_from_slice(&target);
        }
        let index = make_index(&keys, d, Screening::F32);
        let q = Tensor::from_slice(&target).view([1, d as i64]);
        let low = index.low.as_ref().unwrap().shallow_clone();
        let (_, i, passes) = index.fast(&q, &low, 16, 81, true).unwrap();
        assert_eq!((passes.widened, passes.exact), (1, 1));
        assert_eq!(ids(&i), (0..16).map(|j| j * 30).collect::<Vec<i64>>());
    }
}
