fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::pipeline::convert::run(clap::Parser::parse()))
}
