//! `--shard I/N`: slice I of N of the work list, each slice into its own file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("expected I/N, got {s:?}"))?;
        let index: usize = i.trim().parse().map_err(|_| format!("bad shard index {i:?}"))?;
        let count: usize = n.trim().parse().map_err(|_| format!("bad shard count {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }

    /// From Slurm's job-array variables (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN`), when the job is an array.
    pub fn from_slurm() -> Result<Option<Shard>> {
        let var = |n: &str| std::env::var(n).ok();
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(None);
        };
        let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let (Ok(id), Ok(count), Ok(min)) =
            (id.parse::<usize>(), count.parse::<usize>(), min.parse::<usize>())
        else {
            bail!("SLURM_ARRAY_TASK_ID/COUNT/MIN are not numbers");
        };
        match Shard::parse(&format!("{}/{count}", id.saturating_sub(min))) {
            Ok(s) => {
                tracing::info!(shard = %s, "shard from Slurm's array variables");
                Ok(Some(s))
            }
            Err(e) => bail!("from SLURM_ARRAY_TASK_*: {e}"),
        }
    }

    /// This shard's contiguous part of `len` items.
    pub fn range(&self, len: usize) -> Range<usize> {
        self.index * len / self.count..(self.index + 1) * len / self.count
    }

    /// `dir/name.hdf5` -> `dir/name.shard-I-of-N.hdf5`.
    pub fn path(&self, out: &Path) -> PathBuf {
        let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = out.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        out.with_file_name(format!("{stem}.shard-{}-of-{}{ext}", self.index, self.count))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard's slice of `items` and the output path for it. Slices are cut at multiples of
/// `batch`, so that every model batch of a sharded run is a batch of the single run too and the
/// merged result is bit-identical to it.
pub fn apply<T>(
    shard: Option<Shard>,
    items: Vec<T>,
    batch: usize,
    out: &Path,
) -> (Vec<T>, PathBuf) {
    match shard {
        None => (items, out.to_owned()),
        Some(s) => {
            let batch = batch.max(1);
            let r = s.range(items.len().div_ceil(batch));
            let (start, end) = (r.start * batch, (r.end * batch).min(items.len()));
            let part = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
            (part, s.path(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once() {
        for len in [0, 1, 5, 17, 100] {
            for n in 1..6 {
                let mut all = Vec::new();
                for i in 0..n {
                    all.extend(Shard { index: i, count: n }.range(len));
                }
                assert_eq!(all, (0..len).collect::<Vec<_>>());
            }
        }
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
        assert_eq!(
            Shard::parse("1/4").unwrap().path(Path::new("o/vis_ctx.hdf5")),
            Path::new("o/vis_ctx.shard-1-of-4.hdf5")
        );
    }

    /// Every shard gets a contiguous run of whole batches, floor(B/N) or ceil(B/N) of the B
    /// batches: none is empty when B >= N, and together they are the list once, in order.
    #[test]
    fn apply_spreads_whole_batches_evenly() {
        let out = Path::new("o/vis_ctx.hdf5");
        for batch in [1usize, 2, 3, 32] {
            for len in 0..=9 * batch + 1 {
                let batches = len.div_ceil(batch);
                for n in 1..8 {
                    let mut next = 0;
                    for index in 0..n {
                        let shard = Shard { index, count: n };
                        let (part, path) = apply(Some(shard), (0..len).collect(), batch, out);
                        let case = format!("{len} items, batch {batch}, shard {shard}");
                        assert_eq!(path, shard.path(out), "{case}");
                        assert_eq!(part, (next..next + part.len()).collect::<Vec<_>>(), "{case}");
                        assert_eq!(next % batch, 0, "{case}: starts inside a batch");
                        let got = part.len().div_ceil(batch);
                        assert!(got == batches / n || got == batches.div_ceil(n), "{case}: {got}");
                        assert!(batches < n || got > 0, "{case}: empty with {batches} batches");
                        next += part.len();
                    }
                    assert_eq!(next, len, "{len} items, batch {batch}, {n} shards");
                }
            }
        }
        // The case: 14 images in batches of 32 over 4 shards is one batch, in shard 3.
        let sizes: Vec<usize> = (0..4)
            .map(|index| apply(Some(Shard { index, count: 4 }), vec![0; 14], 32, out).0.len())
            .collect();
        assert_eq!(sizes, vec![0, 0, 0, 14]);
        assert_eq!(apply(None, vec![1, 2], 32, out), (vec![1, 2], out.to_owned()));
    }
}
