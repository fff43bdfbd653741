fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::pipeline::merge::run(clap::Parser::parse()))
}
