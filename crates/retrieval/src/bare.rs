//! The bare products of a search, timed: the reference a search's selection, re-scoring and
//! copies are measured against (`retrieval-bench`, and retrieve-captions' `--measure-search`).

use std::time::Instant;

use tch::{Kind, Tensor};

use crate::{Index, Result, Screening};

/// Seconds for the products `a x b^T` in batches of `query_batch` rows of `a` and chunks of
/// `key_chunk` rows of `b` (a search's shapes), each written into one reused buffer (measured no
/// slower than a fresh buffer per product, and faster with large chunks), after one small
/// warm-up product, synchronised at the end by reading one value back. f16 operands on CUDA
/// give f32 scores, as the screening's products do.
pub fn bare_products(a: &Tensor, b: &Tensor, query_batch: usize, key_chunk: usize) -> Result<f64> {
    let (nq, nk) = (a.size()[0], b.size()[0]);
    if nq == 0 || nk == 0 {
        return Ok(0.0);
    }
    let (qb, kc) = (query_batch.max(1) as i64, key_chunk.max(1) as i64);
    let _ = Screening::mm(&a.f_narrow(0, 0, nq.min(64))?, &b.f_tr()?)?; // warm-up
    let kind = Screening::score_kind(a.kind(), a.device());
    let out = Tensor::f_empty([qb.min(nq) * kc.min(nk)], (kind, a.device()))?;
    let t = Instant::now();
    for start in (0..nq).step_by(qb as usize) {
        let rows = qb.min(nq - start);
        for kstart in (0..nk).step_by(kc as usize) {
            let c = kc.min(nk - kstart);
            let s = out.f_narrow(0, 0, rows * c)?.f_view([rows, c])?;
            let keys = b.f_narrow(0, kstart, c)?.f_tr()?;
            let _ = Screening::mm_out(&a.f_narrow(0, start, rows)?, &keys, &s)?;
        }
    }
    let _ = out.f_double_value(&[0])?;
    Ok(t.elapsed().as_secs_f64())
}

impl Index {
    /// Seconds for the bare products a search of `rows` queries computes: random queries in
    /// the screening keys' type (the f32 keys with [`Precision::F32`](crate::Precision::F32))
    /// times every key, in the index's query batches and key chunks ([`bare_products`]).
    pub fn bare_products_seconds(&self, rows: usize) -> Result<f64> {
        let keys = self.product_keys()?;
        let q = Tensor::f_randn([rows as i64, self.dim() as i64], (Kind::Float, self.device()))?
            .f_to_kind(keys.kind())?;
        bare_products(&q, &keys, self.query_batch(), self.key_chunk())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IndexOptions, Precision};

    #[test]
    fn bare_products_take_time_for_every_precision_and_none_for_no_query() {
        let keys: Vec<f32> = (0..300 * 16).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
        for precision in [Precision::Fast, Precision::F32] {
            let opts = IndexOptions { precision, ..IndexOptions::default() };
            let index = Index::from_slice(&keys, 16, &opts).unwrap();
            let s = index.bare_products_seconds(70).unwrap();
            assert!(s.is_finite() && s > 0.0, "{precision:?}: {s}");
            assert_eq!(index.bare_products_seconds(0).unwrap(), 0.0);
        }
    }
}
