//! `--device auto|cpu|cuda|cuda:N`.

use tch::Device;

use crate::error::{Error, Result};

/// Parses a device flag; `auto` is the first GPU when there is one, else the CPU.
pub fn parse_device(spec: &str) -> Result<Device> {
    let bad = |msg: String| Error::Device { spec: spec.into(), msg };
    let cuda = |n: usize| {
        let count = tch::Cuda::device_count() as usize;
        if n < count {
            Ok(Device::Cuda(n))
        } else if count == 0 {
            Err(bad("no CUDA device is available (libtorch sees none)".into()))
        } else {
            Err(bad(format!("only {count} CUDA device(s): cuda:0..cuda:{}", count - 1)))
        }
    };
    match spec {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => cuda(n),
            _ => Err(bad("expected auto, cpu, cuda or cuda:N".into())),
        },
    }
}
