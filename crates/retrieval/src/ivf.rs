//! The original's approximate index, for comparison: faiss `IVF{round(8 sqrt n)},Flat` with inner
//! product and `nprobe = k // 10`, rebuilt on tch (no faiss dependency, so it runs wherever
//! libtorch does, CUDA included). Training is k-means as faiss runs it for an IVF quantizer:
//! at most 256 training points per centroid (a seeded sample), centroids initialised from
//! sampled points, assignments by inner product, empty clusters re-seeded by splitting the
//! largest. Not bit-identical to faiss (different random sample and k-means details); the bench
//! compares recall with faiss's own IVF index.

use tch::{Device, Kind, Tensor};

use crate::topk;
use crate::{Error, Hits, Result};

/// IVF settings; `None` means the original's choice.
#[derive(Debug, Clone)]
pub struct IvfOptions {
    /// Inverted lists (default `round(8 * sqrt(n))`).
    pub nlist: Option<usize>,
    /// Lists probed per query (default `max(1, k / 10)`).
    pub nprobe: Option<usize>,
    /// k-means iterations.
    pub iterations: usize,
    pub seed: i64,
    pub device: Device,
}

impl Default for IvfOptions {
    fn default() -> Self {
        IvfOptions { nlist: None, nprobe: None, iterations: 10, seed: 1234, device: Device::Cpu }
    }
}

/// Keys grouped into inverted lists around trained centroids.
pub struct IvfIndex {
    /// Keys in list order (`order[j]` is the id of row `j`).
    keys: Tensor,
    centroids: Tensor,
    /// Key ids ordered by list, and each list's start in that order (`nlist + 1` offsets).
    order: Tensor,
    offsets: Vec<i64>,
    nprobe: Option<usize>,
}

impl IvfIndex {
    /// Trains the quantizer on `keys` (`len * d` values) and fills the lists.
    pub fn build(keys: &[f32], d: usize, opts: &IvfOptions) -> Result<Self> {
        let _g = tch::no_grad_guard();
        if d == 0 || keys.is_empty() || !keys.len().is_multiple_of(d) {
            return Err(Error::Keys(format!("{} values do not form rows of {d}", keys.len())));
        }
        let n = (keys.len() / d) as i64;
        let keys = Tensor::from_slice(keys).view([n, d as i64]).to_device(opts.device);
        let nlist = opts
            .nlist
            .unwrap_or_else(|| (8.0 * (n as f64).sqrt()).round() as usize)
            .clamp(1, n as usize) as i64;
        tch::manual_seed(opts.seed);
        let sample =
            Tensor::randperm(n, (Kind::Int64, opts.device)).narrow(0, 0, n.min(nlist * 256));
        let train = keys.index_select(0, &sample);
        let mut centroids = train.narrow(0, 0, nlist).copy();
        // Assignments in bf16 (f16 on CUDA): k-means only needs the nearest centroid, and the
        // product is the cost of training.
        let low = if opts.device.is_cuda() { Kind::Half } else { Kind::BFloat16 };
        let train_low = train.to_kind(low);
        for _ in 0..opts.iterations {
            let assign = train_low.mm(&centroids.to_kind(low).tr()).argmax(1, false);
            let sums = Tensor::zeros([nlist, d as i64], (Kind::Float, opts.device))
                .index_add(0, &assign, &train);
            let counts = Tensor::zeros([nlist], (Kind::Float, opts.device)).index_add(
                0,
                &assign,
                &Tensor::ones([assign.size()[0]], (Kind::Float, opts.device)),
            );
            let next = &sums / counts.clamp_min(1.0).unsqueeze(1);
            // Empty clusters take a perturbed copy of the largest one (faiss splits it).
            let empty: Vec<i64> = Vec::try_from(counts.eq(0.0).nonzero().squeeze_dim(1))?;
            if !empty.is_empty() {
                let big = counts.argmax(0, false).int64_value(&[]);
                let base = next.get(big);
                for (j, e) in empty.iter().enumerate() {
                    let eps = if j % 2 == 0 { 1.0 + 1.0 / 1024.0 } else { 1.0 - 1.0 / 1024.0 };
                    next.get(*e).copy_(&(&base * eps));
                }
            }
            centroids = next;
        }
        let assign = keys.mm(&centroids.tr()).argmax(1, false);
        let (sorted, order) = assign.sort(0, false);
        // Keys stored list by list, so a list is a contiguous slice.
        let keys = keys.index_select(0, &order);
        let counts = Tensor::zeros([nlist], (Kind::Int64, opts.device)).index_add(
            0,
            &sorted,
            &Tensor::ones([n], (Kind::Int64, opts.device)),
        );
        let counts: Vec<i64> = Vec::try_from(counts.to_device(Device::Cpu))?;
        let mut offsets = vec![0i64];
        for c in counts {
            offsets.push(offsets.last().unwrap() + c);
        }
        tracing::debug!(n, nlist, "IVF index trained");
        Ok(IvfIndex { keys, centroids, order, offsets, nprobe: opts.nprobe })
    }

    pub fn nlist(&self) -> usize {
        self.offsets.len() - 1
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
        let nq = (queries.len() / d) as i64;
        let n = self.keys.size()[0];
        let k = (k as i64).min(n);
        let nprobe = self.nprobe.unwrap_or((k as usize / 10).max(1)).min(self.nlist()) as i64;
        let q = Tensor::from_slice(queries).view([nq, d as i64]).to_device(self.keys.device());
        let (_, probes) = q.mm(&self.centroids.tr()).topk(nprobe, 1, true, true);
        let probes: Vec<i64> = Vec::try_from(probes.to_device(Device::Cpu).flatten(0, -1))?;
        // Group (query, probe slot) pairs by list: one product per list for all its queries.
        let mut by_list: Vec<Vec<(i64, i64)>> = vec![Vec::new(); self.nlist()];
        for (j, &l) in probes.iter().enumerate() {
            by_list[l as usize].push((j as i64 / nprobe, j as i64 % nprobe));
        }
        let dev = self.keys.device();
        // Candidates per (query, probe slot): k best of that list, padded with -FLT_MAX / -1.
        let cand_s = Tensor::full([nq, nprobe, k], f64::from(f32::MIN), (Kind::Float, dev));
        let cand_i = Tensor::full([nq, nprobe, k], -1, (Kind::Int64, dev));
        for (l, pairs) in by_list.iter().enumerate() {
            let (a, b) = (self.offsets[l], self.offsets[l + 1]);
            if pairs.is_empty() || a == b {
                continue;
            }
            let members = self.order.narrow(0, a, b - a);
            let rows: Vec<i64> = pairs.iter().map(|p| p.0).collect();
            let slots: Vec<i64> = pairs.iter().map(|p| p.0 * nprobe + p.1).collect();
            let qs = q.index_select(0, &Tensor::from_slice(&rows).to_device(dev));
            let s = qs.mm(&self.keys.narrow(0, a, b - a).tr());
            let kk = k.min(b - a);
            let (v, i) = s.topk(kk, 1, true, true);
            let ids = members.index_select(0, &i.flatten(0, -1)).view([pairs.len() as i64, kk]);
            let slots = Tensor::from_slice(&slots).to_device(dev);
            let flat_s = cand_s.view([nq * nprobe, k]);
            let flat_i = cand_i.view([nq * nprobe, k]);
            let _ = flat_s.narrow(1, 0, kk).index_copy_(0, &slots, &v);
            let _ = flat_i.narrow(1, 0, kk).index_copy_(0, &slots, &ids);
        }
        let (s, i) = topk::order(&cand_s.view([nq, nprobe * k]), &cand_i.view([nq, nprobe * k]), k);
        // order() puts the paddings last; their ids are -1 already.
        let scores: Vec<f32> = Vec::try_from(s.to_device(Device::Cpu).flatten(0, -1))?;
        let ids: Vec<i64> = Vec::try_from(i.to_device(Device::Cpu).flatten(0, -1))?;
        Ok(Hits { k: k as usize, scores, ids, rescored: 0 })
    }
}
