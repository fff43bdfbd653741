//! The command-line tools of xmodal-ctx. Each binary in `src/bin/` is a few lines that parse
//! arguments and call a `run` here, so that tests can call the same code.

pub mod compact_view;
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
                eprintln!("{name}: error: {}", one_line(&e));
            }
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: the libraries' errors quote their source
/// in their own message (`file: truncated HDF5 file (H5Fopen(): ...)`), which anyhow's `{:#}`
/// would print a second time.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(text.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// The log flags of every binary.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Verbosity {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors (a step still prints its one-line summary); no progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Verbosity {
    /// Installs the log subscriber these flags ask for ([`init_tracing`]).
    pub fn init(&self) {
        init_tracing(self.verbose, self.quiet);
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

#[cfg(test)]
mod tests {
    /// An error that quotes its source in its message, as the libraries' errors do.
    #[derive(Debug)]
    struct Quoting {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: truncated ({})", self.path, self.source)
        }
    }

    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn one_line_prints_each_cause_once() {
        let io = std::io::Error::other("eof = 1000\nstored_eof = 330560");
        let e =
            anyhow::Error::new(Quoting { path: "f.h5".into(), source: io }).context("reading f.h5");
        assert_eq!(
            super::one_line(&e),
            "reading f.h5: f.h5: truncated (eof = 1000; stored_eof = 330560)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(super::one_line(&plain), "outer: inner");
    }
}
