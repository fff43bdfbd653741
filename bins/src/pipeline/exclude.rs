//! `retrieve-captions --exclude-source`: hits whose source is the query image itself are left
//! out, SmallCap's rule for a datastore built from the same images' captions. Each search fetches
//! as many extra hits as the most rows any one source has, so that after dropping the image's
//! own, the first k that remain are the top k of the other sources' rows.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};

/// The caption database's sources, to drop a query image's own captions.
pub struct OwnCaptions {
    sources: Vec<String>,
    /// The most rows of one source: what a search fetches beyond the k it keeps.
    extra: usize,
}

impl OwnCaptions {
    /// From the database's sources (`None`: it has none, a one-line error naming `db`), for
    /// views keeping at most `most` hits per query.
    pub fn new(db: &Path, sources: Option<Vec<String>>, most: usize) -> Result<Self> {
        let Some(sources) = sources else {
            bail!(
                "--exclude-source: {} records no sources (encode it from --texts FILE.jsonl with \
                 \"source\", or --texts karpathy:FILE)",
                db.display()
            );
        };
        let mut rows: HashMap<&str, usize> = HashMap::new();
        for s in &sources {
            *rows.entry(s.as_str()).or_default() += 1;
        }
        let extra = rows.values().copied().max().unwrap_or(0);
        if sources.len() < most + extra {
            bail!(
                "--exclude-source: {} holds {} phrases, {extra} of one source; keeping {most} \
                 per query after dropping a query's own needs {}",
                db.display(),
                sources.len(),
                most + extra
            );
        }
        tracing::info!(extra, "--exclude-source: extra hits fetched per query");
        Ok(Self { sources, extra })
    }

    /// Hits to fetch per query to keep `k`.
    pub fn fetch(&self, k: usize) -> usize {
        k + self.extra
    }

    /// The first `k` of a query's `fetched` hit positions (`ids[i]` the phrase of position `i`,
    /// `phrase` maps it to a row) whose source is not `image`.
    pub fn keep(
        &self,
        positions: std::ops::Range<usize>,
        ids: &[i64],
        phrase: impl Fn(i64) -> usize,
        image: &str,
        k: usize,
    ) -> Vec<usize> {
        positions.filter(|&i| self.sources[phrase(ids[i])] != image).take(k).collect()
    }
}
