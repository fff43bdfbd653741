fn main() {
    // Only the `tch` feature links libtorch.
    if std::env::var_os("CARGO_FEATURE_TCH").is_some() {
        torch_link::emit();
    }
}
