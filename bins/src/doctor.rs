//! `xctx-doctor`: what this build of the tools can use (libtorch, CUDA devices, HDF5).

use std::io::Write;
use std::process::ExitCode;

/// Report what the tools can run on: libtorch's CUDA and cuDNN, the devices, HDF5's version.
#[derive(Debug, clap::Parser)]
#[command(name = "xctx-doctor", version)]
pub struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub log: crate::Verbosity,
}

/// Runs `xctx-doctor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.log.init();
    let devices = tch::Cuda::device_count();
    let report = serde_json::json!({
        "cuda_available": tch::Cuda::is_available(),
        "cudnn_available": tch::Cuda::cudnn_is_available(),
        "cuda_devices": devices,
        "cpu_threads": tch::get_num_threads(),
        "hdf5_version": ctx_store::hdf5_version(),
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{report}")?;
    } else {
        for (k, v) in report.as_object().expect("an object") {
            writeln!(out, "{k:16} {v}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
