//! glibc's allocator settings for the steps that run the model on the CPU.
//!
//! libtorch allocates each batch's large temporaries (activations, attention scores) afresh.
//! With glibc's defaults, blocks above the dynamic mmap threshold are mapped and unmapped on
//! every batch, and freed memory at the top of the heap is given back to the kernel, so every
//! batch pays page faults to get it again: a CPU retrieve-captions run with a patch-16
//! checkpoint at 224 pixels spent 4.9 s in the kernel for 26.5 s of user time. With the mmap
//! threshold at glibc's largest (32 MiB) and a 1 GiB trim threshold, freed blocks are reused:
//! 1.3 s for 26.3 s (docs/benchmarks.md, "crops").
//!
//! glibc reads these settings from the environment once, before `main`, so the step re-executes
//! itself with them set (a safe `exec`; no `mallopt` call, which would need `unsafe`).

use std::os::unix::process::CommandExt;

/// The settings, as glibc's environment variables.
pub const SETTINGS: [(&str, &str); 2] =
    [("MALLOC_MMAP_THRESHOLD_", "33554432"), ("MALLOC_TRIM_THRESHOLD_", "1073741824")];

/// Set in the re-executed process (and by a user who wants glibc's defaults): no re-execution.
pub const DONE: &str = "XCTX_MALLOC_TUNED";

/// Re-executes this program with [`SETTINGS`] in its environment, same arguments, unless it runs
/// on another C library, [`DONE`] is set, or the user set either variable. Returns only when it
/// does not re-execute (or the `exec` fails: the step then runs with glibc's defaults).
pub fn tune() {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os(DONE).is_some()
        || SETTINGS.iter().any(|(name, _)| std::env::var_os(name).is_some())
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        cmd.arg0(name);
    }
    // `exec` returns only on failure.
    let _ = cmd.args(args).envs(SETTINGS).env(DONE, "1").exec();
}
