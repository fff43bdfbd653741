//! Spherical k-means as faiss trains the quantizer of an inner-product IVF index
//! (`Clustering` with the settings `IndexIVF` gives it: 10 iterations, at most 256 training
//! points per centroid, `spherical = true`, seed 1234): centroids start at distinct sampled
//! points, each iteration assigns every training point to its centroid of largest inner product,
//! takes the clusters' means, splits a large cluster for each empty one (faiss's
//! `split_clusters`), and normalises the centroids.
//!
//! The assignments are products of a chunk of points with every centroid followed by an argmax,
//! chunk by chunk: the `(points, centroids)` score matrix is never made whole (at 2 M keys and
//! 11,314 lists it would take 90 GB in f32), and the products run in the type that the device
//! multiplies fast ([`crate::Screening`]: f32 on CPUs without bf16 instructions).

use tch::{Device, Kind, Tensor};

use crate::Result;

/// Training points per centroid at most (faiss's `max_points_per_centroid`).
pub(crate) const MAX_POINTS_PER_CENTROID: i64 = 256;

/// Settings of one training.
pub(crate) struct Params {
    pub nlist: i64,
    pub iterations: usize,
    pub seed: u64,
    /// The products' number type.
    pub kind: Kind,
    /// Points per assignment product.
    pub chunk: i64,
}

/// The default points per assignment product for `nlist` centroids: about 4 M scores (16 MiB in
/// f32) per product, between 256 and 65,536 points.
pub(crate) fn default_chunk(nlist: i64) -> i64 {
    ((1 << 22) / nlist.max(1)).clamp(256, 65_536)
}

/// Trains `p.nlist` unit centroids (`(nlist, d)`, f32) on `points` (`(n, d)`, f32, n >= nlist).
pub(crate) fn train(points: &Tensor, p: &Params) -> Result<Tensor> {
    let (n, d) = points.size2()?;
    let dev = points.device();
    let mut rng = Rng::new(p.seed);
    let train = if n > p.nlist * MAX_POINTS_PER_CENTROID {
        let sample = rng.sample(n, p.nlist * MAX_POINTS_PER_CENTROID);
        points.f_index_select(0, &Tensor::f_from_slice(&sample)?.f_to_device(dev)?)?
    } else {
        points.shallow_clone()
    };
    let nt = train.size()[0];
    let first = rng.sample(nt, p.nlist);
    let mut centroids =
        normalise(&train.f_index_select(0, &Tensor::f_from_slice(&first)?.f_to_device(dev)?)?)?;
    let train_low =
        if p.kind == Kind::Float { train.shallow_clone() } else { train.f_to_kind(p.kind)? };
    for iteration in 0..p.iterations {
        let assign = assign(&train_low, &centroids, p.kind, p.chunk)?;
        let sums =
            Tensor::f_zeros([p.nlist, d], (Kind::Float, dev))?.f_index_add(0, &assign, &train)?;
        let counts = assign.f_bincount(None::<Tensor>, p.nlist)?;
        let means = sums.f_div(&counts.f_clamp_min(1)?.f_to_kind(Kind::Float)?.f_unsqueeze(1)?)?;
        let sizes = Vec::<i64>::try_from(counts.f_to_device(Device::Cpu)?)?;
        let empty = sizes.iter().filter(|&&s| s == 0).count();
        let means = if empty > 0 { split_empty(&means, sizes, nt, &mut rng)? } else { means };
        centroids = normalise(&means)?;
        tracing::trace!(iteration, empty, "k-means iteration");
    }
    Ok(centroids)
}

/// The centroid (row of `centroids`, f32) of largest inner product with each point (row of
/// `points`, already of `kind`), as an `(n,)` i64 tensor; products of `chunk` points at a time,
/// written into one reused buffer.
pub(crate) fn assign(
    points: &Tensor,
    centroids: &Tensor,
    kind: Kind,
    chunk: i64,
) -> Result<Tensor> {
    let (n, _) = points.size2()?;
    let nlist = centroids.size2()?.0;
    let c = centroids.f_to_kind(kind)?.f_tr()?;
    let chunk = chunk.clamp(1, n.max(1));
    let out = Tensor::f_empty([chunk * nlist], (kind, points.device()))?;
    let mut parts = Vec::new();
    for start in (0..n).step_by(chunk as usize) {
        let len = chunk.min(n - start);
        let scores = out.f_narrow(0, 0, len * nlist)?.f_view([len, nlist])?;
        let _ = points.f_narrow(0, start, len)?.f_mm_out(&scores, &c)?;
        parts.push(scores.f_argmax(1, false)?);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// Rows scaled to unit norm (a zero row stays zero).
fn normalise(rows: &Tensor) -> Result<Tensor> {
    let norms = rows.f_norm_scalaropt_dim(2, [1], true)?.f_clamp_min(1e-30)?;
    Ok(rows.f_div(&norms)?)
}

/// faiss's `split_clusters`: each empty cluster takes a copy of a cluster chosen with
/// probability proportional to its size less one, and the two are pushed apart by a relative
/// 1/1024 in alternating directions per dimension; the chosen cluster's size is shared between
/// them. `n` training points, `sizes` per cluster.
fn split_empty(means: &Tensor, mut sizes: Vec<i64>, n: i64, rng: &mut Rng) -> Result<Tensor> {
    let (k, d) = means.size2()?;
    if n <= k {
        return Ok(means.shallow_clone());
    }
    let mut c = Vec::<f32>::try_from(means.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?;
    let d = d as usize;
    const EPS: f32 = 1.0 / 1024.0;
    for ci in 0..k as usize {
        if sizes[ci] != 0 {
            continue;
        }
        // The sizes less one sum to n - (non-empty clusters) >= n - k > 0, so this ends.
        let mut cj = 0;
        loop {
            let p = (sizes[cj] as f32 - 1.0) / (n - k) as f32;
            if rng.f32() < p {
                break;
            }
            cj = (cj + 1) % k as usize;
        }
        let row = c[cj * d..(cj + 1) * d].to_vec();
        for (j, &v) in row.iter().enumerate() {
            let (up, down) = (v * (1.0 + EPS), v * (1.0 - EPS));
            (c[ci * d + j], c[cj * d + j]) = if j % 2 == 0 { (up, down) } else { (down, up) };
        }
        sizes[ci] = sizes[cj] / 2;
        sizes[cj] -= sizes[ci];
    }
    Ok(Tensor::f_from_slice(&c)?.f_view([k, d as i64])?.f_to_device(means.device())?)
}

/// SplitMix64: a small seeded generator, so that training touches no global libtorch state.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// `count` distinct values of `0..n` in random order (a partial Fisher-Yates shuffle).
    pub(crate) fn sample(&mut self, n: i64, count: i64) -> Vec<i64> {
        let mut all: Vec<i64> = (0..n).collect();
        let count = count.clamp(0, n) as usize;
        for i in 0..count {
            let j = i + (self.next_u64() % (n as u64 - i as u64)) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_and_in_range() {
        let mut rng = Rng::new(7);
        let s = rng.sample(1000, 300);
        let mut sorted = s.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((s.len(), sorted.len()), (300, 300));
        assert!(sorted[0] >= 0 && sorted[299] < 1000);
        assert_eq!(rng.sample(5, 9).len(), 5);
    }

    /// Training gives the same centroids whatever the chunk of the assignments; they are unit
    /// rows, and with as many groups as centroids each group gets its own.
    #[test]
    fn training_does_not_depend_on_the_chunk() {
        let angles = [0.3f32, 2.4, 4.4];
        let pts: Vec<f32> = (0..300)
            .flat_map(|i| {
                let a = angles[i % 3] + (i as f32 * 0.618).fract() * 0.1;
                [a.cos(), a.sin()]
            })
            .collect();
        let points = Tensor::from_slice(&pts).view([300, 2]);
        let run = |chunk| {
            let p = Params { nlist: 3, iterations: 10, seed: 1, kind: Kind::Float, chunk };
            let c = train(&points, &p).unwrap();
            let a = assign(&points, &c, Kind::Float, chunk).unwrap();
            (Vec::<f32>::try_from(c.flatten(0, -1)).unwrap(), Vec::<i64>::try_from(a).unwrap())
        };
        let (c, a) = run(300);
        for r in c.chunks(2) {
            assert!((r[0] * r[0] + r[1] * r[1] - 1.0).abs() < 1e-5, "{c:?}");
        }
        for chunk in [1, 7, 299] {
            assert_eq!(run(chunk), (c.clone(), a.clone()), "chunk {chunk}");
        }
        // Each point's centroid is its best by inner product.
        for (p, &j) in pts.chunks(2).zip(&a) {
            let ip = |r: &[f32]| p[0] * r[0] + p[1] * r[1];
            let best = c.chunks(2).map(ip).fold(f32::MIN, f32::max);
            assert_eq!(ip(&c[j as usize * 2..j as usize * 2 + 2]), best);
        }
    }

    /// An empty cluster is re-seeded from a populated one (sizes from the empty one's split).
    #[test]
    fn empty_clusters_are_split_from_populated_ones() {
        let means = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0]).view([3, 2]);
        let out = split_empty(&means, vec![10, 0, 5], 15, &mut Rng::new(3)).unwrap();
        let out = Vec::<f32>::try_from(out.flatten(0, -1)).unwrap();
        assert_ne!(&out[2..4], &[0.0, 0.0], "{out:?}");
        assert!(out[2..4].iter().all(|v| v.is_finite()), "{out:?}");
    }
}
