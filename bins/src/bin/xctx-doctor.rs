fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::doctor::run(clap::Parser::parse()))
}
