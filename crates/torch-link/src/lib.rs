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

/// Prints the cargo instructions; call it from `build.rs`.
pub fn emit() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(lib) = libtorch_lib() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
}
