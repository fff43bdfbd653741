//! When writers force what they wrote to the disk (`fdatasync`), for files to survive a power
//! cut or a node crash, not only a killed process (whose writes the kernel's page cache keeps).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a writer syncs its file to the disk.
///
/// Whatever the policy, a file is synced when its writer finishes, and a writer's commit of a
/// batch is one write of its commit record after the batch's data, so a killed process loses
/// nothing it committed. The policy decides what a power cut can take: at most the batches
/// committed after the last completed sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every batch: its data, a sync, its commit record, a sync. A batch is on the disk when
    /// `write_batch` returns.
    Batch,
    /// The same barriers, at the first batch committed once this long has passed since the last
    /// sync; the batches in between are committed without a sync.
    Every(Duration),
    /// Only when the writer finishes.
    End,
}

impl Default for SyncPolicy {
    /// Every 10 seconds: the cost of [`SyncPolicy::Batch`] at the pipeline's batch rate is given
    /// in `docs/benchmarks.md`.
    fn default() -> Self {
        Self::Every(Duration::from_secs(10))
    }
}

impl std::str::FromStr for SyncPolicy {
    type Err = String;

    /// `batch`, `end`, or `secs:N` (N seconds, N > 0, decimals allowed).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batch" => Ok(Self::Batch),
            "end" => Ok(Self::End),
            _ => {
                let secs = s
                    .strip_prefix("secs:")
                    .and_then(|n| n.parse::<f64>().ok())
                    .filter(|n| n.is_finite() && *n > 0.0)
                    .ok_or_else(|| {
                        format!("{s:?}: expected batch, end, or secs:N with N > 0 seconds")
                    })?;
                Ok(Self::Every(Duration::from_secs_f64(secs)))
            }
        }
    }
}

impl std::fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Batch => f.write_str("batch"),
            Self::End => f.write_str("end"),
            Self::Every(d) => write!(f, "secs:{}", d.as_secs_f64()),
        }
    }
}

static POLICY: Mutex<Option<SyncPolicy>> = Mutex::new(None);

/// Sets the policy of the writers created or opened from now on in this process (the
/// pipeline's `--sync`); [`SyncPolicy::default`] until then.
pub fn set_sync_policy(policy: SyncPolicy) {
    *POLICY.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(policy);
}

/// The policy [`set_sync_policy`] set, or the default.
pub fn sync_policy() -> SyncPolicy {
    POLICY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or_default()
}

/// A writer's clock for its policy: whether the batch being committed syncs.
#[derive(Debug)]
pub(crate) struct SyncClock {
    policy: SyncPolicy,
    last: Instant,
}

impl SyncClock {
    /// A clock for the process's current policy, started now.
    pub(crate) fn new() -> Self {
        Self { policy: sync_policy(), last: Instant::now() }
    }

    /// Whether the batch committed now syncs (its barriers).
    pub(crate) fn due(&self) -> bool {
        match self.policy {
            SyncPolicy::Batch => true,
            SyncPolicy::End => false,
            SyncPolicy::Every(d) => self.last.elapsed() >= d,
        }
    }

    /// A sync completed now.
    pub(crate) fn synced(&mut self) {
        self.last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_print_back() {
        for s in ["batch", "end", "secs:10", "secs:0.5"] {
            let p: SyncPolicy = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        assert_eq!("secs:2".parse(), Ok(SyncPolicy::Every(Duration::from_secs(2))));
        for bad in ["", "secs:", "secs:0", "secs:-1", "secs:x", "always", "secs:inf"] {
            assert!(bad.parse::<SyncPolicy>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_clock_is_due_by_its_policy() {
        let clock = |policy| SyncClock { policy, last: Instant::now() };
        assert!(clock(SyncPolicy::Batch).due());
        assert!(!clock(SyncPolicy::End).due());
        let mut c = clock(SyncPolicy::Every(Duration::from_millis(20)));
        assert!(!c.due());
        std::thread::sleep(Duration::from_millis(30));
        assert!(c.due());
        c.synced();
        assert!(!c.due());
    }
}
