//! The crate's error type.

/// Errors of index construction and search.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The keys cannot form an index (shape, values).
    #[error("keys: {0}")]
    Keys(String),

    /// The queries do not fit the index (shape, values).
    #[error("queries: {0}")]
    Queries(String),

    /// A search for no results.
    #[error("k must be at least 1")]
    ZeroK,

    /// A setting that cannot work (named, with the reason).
    #[error("{option}: {reason}")]
    Option {
        /// The setting.
        option: &'static str,
        /// Why it cannot work.
        reason: String,
    },

    /// The CPU search's thread pool could not be built.
    #[error("the CPU search's threads could not be started: {0}")]
    Threads(String),

    /// libtorch could not allocate what a step needs: `during` says what was being done and
    /// how large it was, `hint` which setting to change.
    #[error("out of {device} memory while {during}: {hint} (libtorch: {detail})")]
    OutOfMemory {
        /// The device, as libtorch names it.
        device: String,
        /// The step and its sizes.
        during: String,
        /// The setting (command-line flag) that makes the step smaller.
        hint: String,
        /// The first line of libtorch's message (the rest is its C++ backtrace).
        detail: String,
    },

    /// Any other libtorch failure.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A libtorch allocation failure becomes [`Error::OutOfMemory`] (with `during` and `hint`
    /// made only then); every other error is returned as it is.
    pub(crate) fn on_memory(
        self,
        device: tch::Device,
        during: impl FnOnce() -> String,
        hint: &str,
    ) -> Self {
        match self {
            Error::Torch(source) if is_allocation_failure(&source) => Error::OutOfMemory {
                device: format!("{device:?}").to_lowercase(),
                during: during(),
                hint: hint.to_string(),
                detail: source.to_string().lines().next().unwrap_or_default().to_string(),
            },
            e => e,
        }
    }
}

/// Whether libtorch's error is a failed allocation: CUDA's caching allocator ("CUDA out of
/// memory"), the CPU allocator ("DefaultCPUAllocator: not enough memory", "can't allocate
/// memory"), or a size that overflows.
fn is_allocation_failure(e: &tch::TchError) -> bool {
    let msg = e.to_string().to_lowercase();
    ["out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory"]
        .iter()
        .any(|m| msg.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed CPU allocation is named as such, with the step and the hint; other libtorch
    /// errors stay as they are.
    #[test]
    fn allocation_failures_are_recognised() {
        let _g = tch::no_grad_guard();
        let huge = tch::Tensor::f_empty([1 << 46], (tch::Kind::Float, tch::Device::Cpu));
        let e = Error::from(huge.expect_err("2^48 bytes cannot be allocated"));
        let e = e.on_memory(tch::Device::Cpu, || "testing".into(), "lower --key-chunk");
        let msg = e.to_string();
        assert!(matches!(e, Error::OutOfMemory { .. }), "{msg}");
        assert!(msg.starts_with("out of cpu memory while testing: lower --key-chunk"), "{msg}");
        assert!(!msg.contains('\n'), "one line, without libtorch's backtrace: {msg}");
        let other = tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu))
            .f_mm(&tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu)))
            .expect_err("shapes do not multiply");
        let e = Error::from(other).on_memory(tch::Device::Cpu, || unreachable!(), "");
        assert!(matches!(e, Error::Torch(_)), "{e}");
    }
}
