//! Exact cosine top-k over L2-normalised keys (the phrase database), batched over queries and
//! chunked over keys with a running top-k merge, on the CPU or a CUDA device.
//!
//! Two ways to the same (exact) answer:
//! - [`Precision::F32`]: every score in f32.
//! - [`Precision::Fast`] (default): a screening pass in bf16 (CPU) or f16 (CUDA) keeps the best
//!   `candidates + 1` keys per query; the candidates are re-scored in f32. A query's answer is
//!   accepted only when the largest screened score left out, plus a proven bound on the
//!   low-precision error, is below its k-th exact score; otherwise that query is screened again
//!   with 16 times the candidates, and then searched in f32. So results never depend on the
//!   precision, only the speed does.
//!
//! Products run in libtorch on either device. Selecting the best candidates of each score chunk
//! runs in libtorch on CUDA (`topk`, after a block-maximum pre-selection) and in Rust on the
//! CPU (`host`: a per-query threshold scan, and re-scoring from host memory). On the CPU the
//! search runs on threads of its own, one per libtorch intra-op thread, each multiplying its
//! share of the keys with libtorch on one thread and scanning the scores as they are made.
//!
//! Results are sorted by descending score, ties broken by the lower id.

mod error;
mod host;
mod ivf;
mod topk;

use std::cell::OnceCell;
use std::path::Path;

use tch::{Device, Kind, Tensor};

pub use error::{Error, Result};
pub use ivf::{IvfIndex, IvfOptions};

/// Extra f32 candidates re-scored beyond k, so that scores equal up to f32 noise are ordered the
/// same whatever the chunking.
const SLACK: i64 = 16;

/// How scores are computed (both give exact results; see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    Fast,
}

/// Index settings.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub device: Device,
    pub precision: Precision,
    /// Keys per score chunk (default: 8,192 on the CPU, where the scores are read back while
    /// in cache; 262,144 on CUDA).
    pub key_chunk: Option<usize>,
    /// Queries per batch (default: 512 on the CPU, 8,192 on CUDA).
    pub query_batch: Option<usize>,
    /// Screened candidates per query in [`Precision::Fast`] (at least k).
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
    pub k: usize,
    pub scores: Vec<f32>,
    pub ids: Vec<i64>,
    /// Queries that the fast pass could not prove even with widened screening, searched again
    /// in f32.
    pub rescored: usize,
}

/// Keys resident on a device, searched exactly.
pub struct Index {
    /// The f32 keys as a tensor on the device. On the CPU with [`Precision::Fast`] it is made
    /// from `host` only if the f32 fallback needs it.
    keys: OnceCell<Tensor>,
    /// On the CPU with [`Precision::Fast`]: the f32 keys, row-major, which re-scoring reads
    /// directly. With [`Precision::F32`] the keys are held once, as the products' tensor.
    host: Option<Vec<f32>>,
    low: Option<Tensor>,
    n: i64,
    d: i64,
    /// Largest key norm (1 for normalised keys), for the error bound.
    key_norm: f64,
    /// Bound on |low-precision score - exact score| per unit of query norm.
    eps: f64,
    key_chunk: i64,
    query_batch: i64,
    candidates: i64,
    /// Block of the block-maximum pre-selection (0: off).
    block: i64,
    device: Device,
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
        let keys = Tensor::from_slice(keys).view([n, d as i64]).f_to_device(opts.device)?;
        Self::from_tensor(keys, opts)
    }

    /// An index over the `keys` of a `caption_db.hdf5` (either layout).
    pub fn from_caption_db(path: &Path, opts: &IndexOptions) -> Result<Self> {
        let db = ctx_store::CaptionDb::open(path)
            .map_err(|source| Error::Store { path: path.into(), source })?;
        if db.is_empty() {
            return Err(Error::EmptyDb { path: path.into() });
        }
        let all = db.load().map_err(|source| Error::Store { path: path.into(), source })?;
        Self::from_slice(&all.keys, all.key_dim, opts)
    }

    /// An index over a `(len, d)` f32 tensor (kept on `opts.device`).
    pub fn from_tensor(keys: Tensor, opts: &IndexOptions) -> Result<Self> {
        let _g = tch::no_grad_guard();
        let (n, d) = keys.size2().map_err(|_| Error::Keys("expected a (len, d) tensor".into()))?;
        if n == 0 || d == 0 {
            return Err(Error::Keys("empty key set".into()));
        }
        let keys = keys.f_to_device(opts.device)?.f_to_kind(Kind::Float)?.f_contiguous()?;
        let key_norm = keys.norm_scalaropt_dim(2, [1], false).max().double_value(&[]);
        let cuda = opts.device.is_cuda();
        let (low, eps) = match opts.precision {
            Precision::F32 => (None, 0.0),
            Precision::Fast => {
                let (kind, u, sub) = if cuda {
                    (Kind::Half, 2f64.powi(-11), 2f64.powi(-25))
                } else {
                    (Kind::BFloat16, 2f64.powi(-8), 0.0)
                };
                // Rounding both operands (2u + u^2), the rounded output (u, scores <= norms),
                // f32 accumulation over d terms (screening and re-scoring), and f16 subnormals
                // (absolute, per element).
                let df = d as f64;
                let eps =
                    3.0 * u + 3.0 * u * u + (df + 2.0) * 2f64.powi(-24) + 2.0 * df.sqrt() * sub;
                (Some(keys.f_to_kind(kind)?), eps)
            }
        };
        let key_chunk = opts.key_chunk.unwrap_or(if cuda { 262_144 } else { 8192 }).max(1) as i64;
        let query_batch = opts.query_batch.unwrap_or(if cuda { 8192 } else { 512 }).max(1) as i64;
        let block = opts.block.unwrap_or(if cuda { 128 } else { 0 }) as i64;
        tracing::debug!(n, d, key_chunk, query_batch, block, eps, "index ready");
        let host = match (opts.device, &low) {
            (Device::Cpu, Some(_)) => Some(Vec::<f32>::try_from(keys.flatten(0, -1))?),
            _ => None,
        };
        let resident = OnceCell::new();
        if host.is_none() || low.is_none() {
            let _ = resident.set(keys);
        }
        Ok(Index {
            keys: resident,
            host,
            low,
            n,
            d,
            key_norm,
            eps,
            key_chunk,
            query_batch,
            candidates: opts.candidates as i64,
            block,
            device: opts.device,
        })
    }

    pub fn len(&self) -> usize {
        self.n as usize
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn dim(&self) -> usize {
        self.d as usize
    }
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

    /// The f32 keys as a `(len, d)` tensor on the device.
    fn keys(&self) -> &Tensor {
        self.keys.get_or_init(|| {
            let host = self.host.as_deref().expect("keys on the host when not resident");
            Tensor::from_slice(host).view([self.n, self.d])
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
        let q = Tensor::from_slice(queries).view([(queries.len() / d) as i64, self.d]);
        self.search_tensor(&q, k)
    }

    /// Searches a `(q, dim)` tensor of queries on any device.
    pub fn search_tensor(&self, queries: &Tensor, k: usize) -> Result<Hits> {
        let (s, i, rescored) = self.search_on_device(queries, k)?;
        let kk = s.size()[1] as usize;
        let scores = Vec::<f32>::try_from(s.to_device(Device::Cpu).flatten(0, -1))?;
        let ids = Vec::<i64>::try_from(i.to_device(Device::Cpu).flatten(0, -1))?;
        Ok(Hits { k: kk, scores, ids, rescored })
    }

    /// Like [`Index::search_tensor`], leaving `(scores, ids)` on the index's device.
    pub fn search_on_device(&self, queries: &Tensor, k: usize) -> Result<(Tensor, Tensor, usize)> {
        let _g = tch::no_grad_guard();
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let (q, d) =
            queries.size2().map_err(|_| Error::Queries("expected a (q, d) tensor".into()))?;
        if d != self.d {
            return Err(Error::Queries(format!("dimension {d}, the keys have {}", self.d)));
        }
        let k = (k as i64).min(self.n);
        let queries = queries.f_to_device(self.device)?.f_to_kind(Kind::Float)?;
        let bad = queries.isfinite().all_dim(1, false).logical_not().nonzero();
        if bad.size()[0] > 0 {
            let row = bad.int64_value(&[0, 0]);
            return Err(Error::Queries(format!("query {row} holds a non-finite value")));
        }
        if q == 0 {
            let s = Tensor::zeros([0, k], (Kind::Float, self.device));
            return Ok((s, Tensor::zeros([0, k], (Kind::Int64, self.device)), 0));
        }
        let m = self.candidates.max(k) + 1;
        match &self.low {
            Some(low) if self.n > m => self.fast(&queries, low, k, m),
            _ => {
                let (s, i) = self.exact(&queries, k)?;
                Ok((s, i, 0))
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
            let (s, i) = f(&queries.narrow(0, start, self.query_batch.min(q - start)))?;
            ss.push(s);
            is.push(i);
        }
        Ok((Tensor::cat(&ss, 0), Tensor::cat(&is, 0)))
    }

    /// f32 scores, chunk by chunk; the best `k + SLACK` are re-scored canonically.
    fn exact(&self, queries: &Tensor, k: i64) -> Result<(Tensor, Tensor)> {
        let m = (k + SLACK).min(self.n);
        self.batched(queries, |qb| {
            let (_, cand) = self.screen(qb, self.keys(), m)?;
            self.rescore(qb, &cand, k, None)
        })
    }

    /// The best `m` keys per query by scores against `keys` (f32 or low precision), chunk by
    /// chunk, unordered beyond being the best `m`.
    fn screen(&self, qb: &Tensor, keys: &Tensor, m: i64) -> Result<(Tensor, Tensor)> {
        if self.device == Device::Cpu {
            return host::screen(qb, keys, m as usize, self.key_chunk);
        }
        let q = qb.to_kind(keys.kind());
        let mut run: Option<(Tensor, Tensor)> = None;
        for start in (0..self.n).step_by(self.key_chunk as usize) {
            let chunk = keys.narrow(0, start, self.key_chunk.min(self.n - start));
            let scores = q.mm(&chunk.tr());
            let (s, i) = if self.block > 1 {
                topk::chunk_top_blocked(&scores, start, m, self.block)
            } else {
                topk::chunk_top(&scores, start, m)
            };
            run = Some(match run {
                None => (s, i),
                Some((rs, ri)) => {
                    let all = Tensor::cat(&[rs, s], 1);
                    let (s, at) = all.topk(m.min(all.size()[1]), 1, true, true);
                    (s, Tensor::cat(&[ri, i], 1).gather(1, &at, false))
                }
            });
        }
        Ok(run.expect("at least one key chunk"))
    }

    /// Scores of candidate ids computed one pair at a time (on the CPU by `host::rescore` from
    /// host memory; on CUDA by an elementwise product summed over the dimension), so a pair's
    /// score does not depend on chunking or batch position; then ordered by descending score
    /// and ascending id, and cut to `k`. With `cut` (the CPU only), candidates that the proof's
    /// bound shows cannot reach the best `k` are skipped and left at minus infinity.
    fn rescore(
        &self,
        qb: &Tensor,
        cand: &Tensor,
        k: i64,
        cut: Option<host::Cut>,
    ) -> Result<(Tensor, Tensor)> {
        Ok(topk::order(&self.scores_of(qb, cand, cut)?, cand, k))
    }

    /// The scores of [`Index::rescore`], in the candidates' order.
    fn scores_of(&self, qb: &Tensor, cand: &Tensor, cut: Option<host::Cut>) -> Result<Tensor> {
        let (b, m) = cand.size2().expect("(B, m)");
        Ok(match &self.host {
            Some(keys) => host::rescore(keys, qb, cand, cut)?,
            None if self.device == Device::Cpu => {
                // Precision::F32 keeps no host copy of the keys: the candidates' rows are
                // gathered from the tensor and scored by the same code, to the same bits.
                let rows = self.keys().index_select(0, &cand.flatten(0, -1));
                let rows = Vec::<f32>::try_from(rows.flatten(0, -1))?;
                let at = Tensor::arange(b * m, (Kind::Int64, Device::Cpu)).view([b, m]);
                host::rescore(&rows, qb, &at, cut)?
            }
            None => {
                let keys = self.keys().index_select(0, &cand.flatten(0, -1)).view([b, m, self.d]);
                (keys * qb.unsqueeze(1)).sum_dim_intlist([-1i64].as_slice(), false, Kind::Float)
            }
        })
    }

    /// Low-precision screening of `m` candidates, canonical f32 re-scoring, proof per query;
    /// the queries left unproven (over all batches, so that the wider pass reads the keys once)
    /// are screened again with 16 times the candidates, then searched in f32. The count
    /// returned is of queries that needed the f32 search.
    fn fast(
        &self,
        queries: &Tensor,
        low: &Tensor,
        k: i64,
        m: i64,
    ) -> Result<(Tensor, Tensor, usize)> {
        let eps = self.eps * self.key_norm;
        let (s, i) = self.batched(queries, |qb| match &self.host {
            // On the CPU the whole batch runs on the search's threads, libtorch's small steps
            // included: on the caller's thread each of them would wake libtorch's OpenMP
            // workers, which then spin beside the products (see `host::pool`).
            Some(keys) => {
                let (qb, low, chunk) = (qb.shallow_clone(), low.shallow_clone(), self.key_chunk);
                host::pool()?.install(move || {
                    fast_batch(
                        &qb,
                        (k, m, eps),
                        |q| host::screen(q, &low, m as usize, chunk),
                        |q, cand, cut| host::rescore(keys, q, cand, Some(cut)),
                    )
                })
            }
            None => fast_batch(
                qb,
                (k, m, eps),
                |q| self.screen(q, low, m),
                |q, cand, cut| self.scores_of(q, cand, Some(cut)),
            ),
        })?;
        let (mut s, mut i) = (s.contiguous(), i.contiguous());
        let failed = s.select(1, k - 1).isnan().nonzero().squeeze_dim(1);
        let nf = failed.size()[0];
        let mut exact = 0;
        if nf > 0 {
            let rows = queries.index_select(0, &failed);
            let wider = m * 16;
            let (fs, fi) = if wider < self.n / 4 {
                let (fs, fi, e) = self.fast(&rows, low, k, wider)?;
                exact = e;
                (fs, fi)
            } else {
                exact = nf as usize;
                self.exact(&rows, k)?
            };
            let _ = s.index_copy_(0, &failed, &fs);
            let _ = i.index_copy_(0, &failed, &fi);
            tracing::debug!(
                queries = queries.size()[0],
                unproven = nf,
                candidates = m,
                "screening widened"
            );
        }
        Ok((s, i, exact))
    }
}

/// One batch of [`Index::fast`] (`(k, m, eps)`: eps bounds the screening error per unit of
/// query norm): the best `m` screened candidates, the `m - 1` best re-scored in f32 with the
/// bound's cut (`rescore` gives their scores in the candidates' order), and the proof.
/// Unproven rows are marked by a NaN k-th score.
fn fast_batch(
    qb: &Tensor,
    (k, m, eps): (i64, i64, f64),
    screen: impl FnOnce(&Tensor) -> Result<(Tensor, Tensor)>,
    rescore: impl FnOnce(&Tensor, &Tensor, host::Cut) -> Result<Tensor>,
) -> Result<(Tensor, Tensor)> {
    let (approx, ids) = screen(qb)?;
    // The m-th best screened score bounds every key left out.
    let (approx, at) = approx.sort(1, true);
    let ids = ids.gather(1, &at, false);
    let cand = ids.narrow(1, 0, m - 1);
    let outside = approx.select(1, m - 1).to_kind(Kind::Float);
    let bound = qb.norm_scalaropt_dim(2, [1], false) * eps;
    let approx = approx.narrow(1, 0, m - 1).to_kind(Kind::Float);
    let cut = host::Cut { approx: &approx, bound: &bound, k: k as usize };
    let (s, i) = topk::order(&rescore(qb, &cand, cut)?, &cand, k);
    let proven = (outside + bound).lt_tensor(&s.select(1, k - 1));
    Ok((s.where_self(&proven.unsqueeze(1), &s.full_like(f64::NAN)), i))
}
