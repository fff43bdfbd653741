//! The decoding stage's time by step, summed over its threads, for benchmarks that split the
//! host's part of an image (`crops-bench device-host`): the clocks are read only when a
//! [`StepTimes`] is given in the stage's options.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A step of the decoding stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reading an image's bytes and decoding them (workers).
    Decode,
    /// The plans of an image's crops (workers).
    Plans,
    /// A batch's tables for the device (the source).
    Tables,
    /// Taking a batch's buffer and moving into it what was decoded apart (the source).
    Packing,
}

impl Step {
    const ALL: [Step; 4] = [Step::Decode, Step::Plans, Step::Tables, Step::Packing];

    fn name(self) -> &'static str {
        match self {
            Step::Decode => "decode",
            Step::Plans => "plans",
            Step::Tables => "tables",
            Step::Packing => "packing",
        }
    }
}

/// Nanoseconds spent in each [`Step`], summed over threads.
#[derive(Debug, Default)]
pub struct StepTimes {
    nanos: [AtomicU64; 4],
}

impl StepTimes {
    /// Each step's name and seconds.
    pub fn seconds(&self) -> Vec<(&'static str, f64)> {
        Step::ALL
            .iter()
            .map(|&s| (s.name(), self.nanos[s as usize].load(Ordering::Relaxed) as f64 * 1e-9))
            .collect()
    }
}

/// Runs `f`, adding its time to `step` when there are `times` to add to.
pub(super) fn timed<T>(times: Option<&Arc<StepTimes>>, step: Step, f: impl FnOnce() -> T) -> T {
    let Some(times) = times else {
        return f();
    };
    let start = Instant::now();
    let r = f();
    let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    times.nanos[step as usize].fetch_add(ns, Ordering::Relaxed);
    r
}
