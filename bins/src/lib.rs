//! The command-line tools of xmodal-ctx. Each binary in `src/bin/` is a few lines that parse
//! arguments and call a `run` here, so that tests can call the same code.

pub mod doctor;
pub mod inspect;
pub mod pipeline;

use std::process::ExitCode;

/// Prints an error chain once, on one line, and turns the result into an exit code.
pub fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let name = std::env::args()
                .next()
                .and_then(|a| {
                    std::path::Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "xctx".into());
            #[allow(clippy::print_stderr)] // the one place a binary reports its error
            {
                eprintln!("{name}: error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Installs the tracing subscriber on stderr: `-v` debug, `-vv` trace, `--quiet` warnings only;
/// `RUST_LOG` overrides.
pub fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "warn,xctx_bins={level},clip_encoder={level},crops={level},retrieval={level},ctx_store={level},datasets={level}"
        ))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
