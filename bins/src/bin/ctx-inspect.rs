fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::inspect::run(clap::Parser::parse()))
}
