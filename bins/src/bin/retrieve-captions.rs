fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::pipeline::retrieve::run(clap::Parser::parse()))
}
