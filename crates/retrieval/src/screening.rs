//! The number type of the screening pass, chosen from what the device does fast, and the bound
//! on its error that the proof of each answer uses.
//!
//! On CUDA the screening runs in f16 (tensor cores). On the CPU bf16 is fast only where the CPU
//! multiplies bf16 itself (x86 AVX512-BF16 or AMX-BF16, which oneDNN uses): elsewhere libtorch
//! converts every element and its bf16 product is several times slower than f32 (an AVX2-only
//! AMD Zen 3 took 20.1 s against 3.5 s in f32 for the same products), so the screening runs in
//! f32 there. The choice is read from CPUID, not timed, so it does not depend on the load of the
//! machine at the moment the index is built; `XCTX_SCREENING=bf16|f32` overrides it (CPU only).

use tch::{Device, Kind, Tensor};

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
    /// keys of dimension `d` (a resolved choice). The reasoning, term by term, is in
    /// `docs/architecture.md` ("The screening bound").
    ///
    /// Screening rounds both operands to the screening type (unit roundoff `u`: relative error
    /// at most `(1 + u)^2 - 1`), then accumulates `d` exact products:
    /// - bf16 and f32 (the CPU, and f32 on CUDA): in f32 with rounding to nearest, whatever the
    ///   order of the sums (`gamma_d = d u32 / (1 - d u32)`, `u32 = 2^-24`); a bf16 result is
    ///   rounded to bf16 (`u` again, scores being at most the norms' product);
    /// - f16 (CUDA): by cuBLAS with an f32 output ([`Screening::mm`]), so no partial sum is ever
    ///   rounded to f16 (split-K reductions included); tensor cores may align the addends of a
    ///   block to its largest exponent and truncate rather than round, which costs at most one
    ///   f32 ulp of the running magnitude per addend and one per addition: `gamma_2d` with
    ///   `u32 = 2^-23`. f16 adds its subnormals: an absolute error of up to 2^-25 per element of
    ///   either operand, at most `2 sqrt(d) 2^-25` over a dot product of unit vectors.
    ///
    /// Re-scoring is an f32 dot product (`gamma_d`). In f32 the operands and the result are not
    /// rounded (`u = 0`).
    pub(crate) fn bound(self, d: usize) -> f64 {
        let df = d as f64;
        let gamma = |n: f64, u: f64| n * u / (1.0 - n * u);
        let rescoring = gamma(df, 2f64.powi(-24));
        let (u, roundings, accumulation, sub) = match self {
            Screening::F16 => (2f64.powi(-11), 2, gamma(2.0 * df, 2f64.powi(-23)), 2f64.powi(-25)),
            Screening::Bf16 => (2f64.powi(-8), 3, rescoring, 0.0),
            Screening::Auto | Screening::F32 => (0.0, 0, rescoring, 0.0),
        };
        // (1 + u)^roundings (1 + accumulation) - 1, written so that u = 0 leaves the
        // accumulation's term exact.
        let rounded = (1.0 + u).powi(roundings) - 1.0;
        let screening = rounded * (1.0 + accumulation) + accumulation;
        screening + rescoring + 2.0 * df.sqrt() * sub
    }

    /// The screening product `queries x keys^T` in this type: on CUDA, f16 operands give f32
    /// scores (`mm` with an f32 output type: cuBLAS accumulates and reduces in f32, which the
    /// bound needs); elsewhere the scores are of the operands' type.
    pub(crate) fn mm(queries: &Tensor, keys_t: &Tensor) -> Result<Tensor> {
        if queries.kind() == Kind::Half && queries.device().is_cuda() {
            return Ok(queries.f_mm_dtype(keys_t, Kind::Float)?);
        }
        Ok(queries.f_mm(keys_t)?)
    }

    /// [`Screening::mm`] into `out` (f32 for f16 operands on CUDA, else the operands' type).
    pub(crate) fn mm_out(queries: &Tensor, keys_t: &Tensor, out: &Tensor) -> Result<Tensor> {
        if queries.kind() == Kind::Half && queries.device().is_cuda() {
            return Ok(queries.f_mm_dtype_out(out, keys_t, Kind::Float)?);
        }
        Ok(queries.f_mm_out(out, keys_t)?)
    }

    /// The kind of [`Screening::mm`]'s scores for operands of `kind` on `device`.
    pub(crate) fn score_kind(kind: Kind, device: Device) -> Kind {
        if kind == Kind::Half && device.is_cuda() { Kind::Float } else { kind }
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
        // f16 on CUDA: two operand roundings and a truncating f32 accumulation of twice d
        // steps, far below a bound that let partial sums round to f16 (about d 2^-11).
        let d = 768;
        let f16 = Screening::F16.bound(d);
        let floor = 2.0 * 2f64.powi(-11) + 2.0 * d as f64 * 2f64.powi(-23);
        assert!(f16 > floor && f16 < 1.3e-3, "{f16}");
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
