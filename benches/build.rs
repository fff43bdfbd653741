fn main() {
    // Only the drivers that run models or searches on a device need libtorch.so forced in (CUDA
    // detection); io-bench then does not load libtorch, whose ~360 MB of resident start-up pages
    // would otherwise count in its preload's peak memory.
    torch_link::emit_for_bins_only(&["clip-bench", "retrieval-bench", "pipeline-bench"]);
}
