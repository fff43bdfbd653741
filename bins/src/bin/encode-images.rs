fn main() -> std::process::ExitCode {
    xctx_bins::exit(xctx_bins::pipeline::encode_images::run(clap::Parser::parse()))
}
