//! Link arguments for every package whose binaries (including test and bench binaries) link
//! libtorch through `tch`. Call [`emit`] from that package's `build.rs`.
//!
//! - `-Wl,--no-as-needed -ltorch`: without it the linker drops `libtorch.so` (nothing references
//!   it directly), `libtorch_cuda.so` is never loaded and CUDA is never detected (tch-rs issue 980).
//! - `-Wl,-rpath,<libtorch>/lib`: `target/*/<binary>` then finds `libtorch_cpu.so` without
//!   `LD_LIBRARY_PATH`. `LIBTORCH` is set by `.cargo/config.toml`, which `make setup` writes.
#![allow(clippy::print_stdout)] // a build script talks to cargo through stdout

use std::path::PathBuf;

/// The `lib/` directory of libtorch, from `LIBTORCH` (set by `make setup`).
pub fn libtorch_lib() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("LIBTORCH")?);
    Some(dir.join("lib"))
}

/// Prints the cargo instructions for every binary of the package; call it from `build.rs`.
pub fn emit() {
    search_and_rpath();
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
}

/// Like [`emit`], with `libtorch.so` forced in only for the binaries named in `bins` (those that
/// run models, so need CUDA detected) and for the package's tests (it must have some: cargo
/// refuses link arguments for a kind of target a package lacks). The package's other
/// binaries keep the linker's `--as-needed`: one that never calls libtorch (`ctx-inspect`) then
/// does not load it, and starts in milliseconds instead of a third of a second.
pub fn emit_for_bins(bins: &[&str]) {
    println!("cargo:rustc-link-arg-tests=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg-tests=-ltorch");
    emit_for_bins_only(bins);
}

/// Like [`emit_for_bins`], for a package without tests (cargo refuses test link arguments
/// there): only the binaries named in `bins` get `libtorch.so` forced in.
pub fn emit_for_bins_only(bins: &[&str]) {
    search_and_rpath();
    for bin in bins {
        println!("cargo:rustc-link-arg-bin={bin}=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg-bin={bin}=-ltorch");
    }
}

fn search_and_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(lib) = libtorch_lib() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
