fn main() {
    // ctx-inspect and ctx-merge only read and write HDF5: they do not load libtorch.
    torch_link::emit_for_bins(&[
        "xctx-doctor",
        "encode-images",
        "encode-captions",
        "retrieve-captions",
    ]);
}
