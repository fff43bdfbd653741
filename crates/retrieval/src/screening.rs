//! The number type of the screening pass, chosen from what the device does fast, and the bound
//! on its error that the proof of each answer uses.
//!
//! On CUDA the screening runs in f16 (tensor cores). On the CPU bf16 is fast only where the CPU
//! multiplies bf16 itself (x86 AVX512-BF16 or AMX-BF16, which oneDNN uses): elsewhere libtorch
//! converts every element and its bf16 product is several times slower than f32 (an AVX2-only
//! AMD Zen 3 took 20.1 s against 3.5 s in f32 for the same products), so the screening runs in
//! f32 there. The choice is read from CPUID, not timed, so it does not depend on the load of the
//! machine at the moment the index is built; `XCTX_SCREENING=bf16|f32` overrides it (CPU only).

use tch::{Device, Kind};

use crate::{Error, Result};

/// The environment variable that overrides [`Screening::Auto`] on the CPU.
pub const SCREENING_ENV: &str = "XCTX_SCREENING";

/// The number type of [`crate::Precision::Fast`]'s screening pass. Every choice gives the same
/// (exact) results: only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screening {
    /// f16 on CUDA; on the CPU bf16 where the CPU has bf16 instructions (AVX512-BF16 or
    /// AMX-BF16), f32 otherwise, unless `XCTX_SCREENING` says `bf16` or `f32`.
    #[default]
    Auto,
    /// f16 (CUDA only: libtorch's CPU f16 product is slow).
    F16,
    /// bf16.
    Bf16,
    /// f32: the screening's product is then the f32 product itself.
    F32,
}

impl Screening {
    /// The type used on `device` (never [`Screening::Auto`]).
    pub(crate) fn resolve(self, device: Device) -> Result<Screening> {
        let chosen = match self {
            Screening::Auto if device.is_cuda() => Screening::F16,
            Screening::Auto => match std::env::var(SCREENING_ENV) {
                Ok(v) if v.eq_ignore_ascii_case("bf16") => Screening::Bf16,
                Ok(v) if v.eq_ignore_ascii_case("f32") => Screening::F32,
                Ok(v) if !v.is_empty() && !v.eq_ignore_ascii_case("auto") => {
                    return Err(Error::Option {
                        option: SCREENING_ENV,
                        reason: format!("{v:?} is none of bf16, f32, auto"),
                    });
                }
                _ if cpu_has_bf16() => Screening::Bf16,
                _ => Screening::F32,
            },
            Screening::F16 if !device.is_cuda() => {
                return Err(Error::Option {
                    option: "screening",
                    reason: "f16 screening runs on CUDA only".into(),
                });
            }
            s => s,
        };
        Ok(chosen)
    }

    /// The tensor kind of a resolved choice.
    pub(crate) fn kind(self) -> Kind {
        match self {
            Screening::F16 => Kind::Half,
            Screening::Bf16 => Kind::BFloat16,
            Screening::Auto | Screening::F32 => Kind::Float,
        }
    }

    /// A bound on |screened score - re-scored score| per unit of query norm and key norm, for
    /// keys of dimension `d` (a resolved choice).
    ///
    /// Screening rounds both operands to the screening type (unit roundoff `u`: relative error
    /// at most `(1 + u)^2 - 1`), accumulates `d` products in f32 (`gamma_d = d u32 / (1 - d
    /// u32)`, `u32 = 2^-24`, whatever the order of the sums) and rounds the result to the
    /// screening type (`u` again, scores being at most the norms' product). Re-scoring is
    /// an f32 dot product (`gamma_d`). In f32 the operands and the result are not rounded
    /// (`u = 0`). f16 adds its subnormals: an absolute error of up to 2^-25 per element of
    /// either operand, at most `2 sqrt(d) 2^-25` over a dot product of unit vectors.
    pub(crate) fn bound(self, d: usize) -> f64 {
        let df = d as f64;
        let u32 = 2f64.powi(-24);
        let gamma = df * u32 / (1.0 - df * u32);
        let (u, sub) = match self {
            Screening::F16 => (2f64.powi(-11), 2f64.powi(-25)),
            Screening::Bf16 => (2f64.powi(-8), 0.0),
            Screening::Auto | Screening::F32 => (0.0, 0.0),
        };
        // (1 + u)^3 (1 + gamma) - 1 for the screening, written so that u = 0 leaves gamma exact.
        let screening = u * (3.0 + u * (3.0 + u)) * (1.0 + gamma) + gamma;
        screening + gamma + 2.0 * df.sqrt() * sub
    }
}

/// Whether this CPU multiplies bf16 in hardware (x86: AVX512-BF16, or AMX-BF16 from CPUID leaf
/// 7, EDX bit 22, which the standard library does not test on stable Rust). Other
/// architectures are not measured and screen in f32.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let amx_bf16 = std::arch::x86_64::__cpuid_count(7, 0).edx >> 22 & 1 == 1;
        std::arch::is_x86_feature_detected!("avx512bf16") || amx_bf16
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds are ordered as the types' precisions, and f32's is the two f32 dot products'.
    #[test]
    fn bounds_follow_the_types() {
        let d = 512;
        let (f32, bf16, f16) =
            (Screening::F32.bound(d), Screening::Bf16.bound(d), Screening::F16.bound(d));
        let gamma = 512.0 * 2f64.powi(-24) / (1.0 - 512.0 * 2f64.powi(-24));
        assert_eq!(f32, 2.0 * gamma);
        assert!(f32 < f16 && f16 < bf16, "{f32} {f16} {bf16}");
        assert!(bf16 > 3.0 * 2f64.powi(-8) && bf16 < 3.1 * 2f64.powi(-8), "{bf16}");
    }

    #[test]
    fn explicit_choices_resolve_to_themselves_and_f16_needs_cuda() {
        for s in [Screening::Bf16, Screening::F32] {
            assert_eq!(s.resolve(Device::Cpu).unwrap(), s);
        }
        assert_eq!(Screening::Auto.resolve(Device::Cuda(0)).unwrap(), Screening::F16);
        let e = Screening::F16.resolve(Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("CUDA only"), "{e}");
    }
}
