//! The workspace root, the project's Python and running reference scripts with it.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (resolved from this crate's manifest, never from the current directory);
/// `XCTX_WORKSPACE_ROOT` overrides it where test binaries run on another machine (the GPU check,
/// `benches/gpu_check.sh`).
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XCTX_WORKSPACE_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The project's Python (`.venv/bin/python`, made by `make setup`; `XCTX_PYTHON` overrides).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("XCTX_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

/// An older h5py on an older HDF5 (the oldest h5py with a wheel for the project's Python: 3.8.0
/// on HDF5 1.12.2 for Python 3.10 and 3.11, 3.10.0 or 3.12.1 on HDF5 1.14.2 for 3.12 and 3.13) in
/// its own venv, `.venv-h5py-old/bin/python`, made by `make test`'s set-up
/// (`scripts/setup.sh --with-old-h5py`; `XCTX_PYTHON_OLD_H5PY` overrides): the tests check that
/// it reads our files as the pinned h5py does.
pub fn old_h5py_python() -> PathBuf {
    if let Some(p) = std::env::var_os("XCTX_PYTHON_OLD_H5PY") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv-h5py-old/bin/python");
    assert!(p.exists(), "{} is missing: run `scripts/setup.sh --with-old-h5py` first", p.display());
    p
}

/// Runs `cmd` with `input` on its stdin (none if `None`), panics with its stderr on failure,
/// returns its stdout.
fn output(mut cmd: Command, what: &str, input: Option<&[u8]>) -> String {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("running {what}: {e}"));
    if let Some(input) = input {
        // Written from a thread: a script that prints before reading all its input must not
        // block on a full pipe while we block on its stdin.
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("running {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} {:?} failed ({}):\n{}",
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what}: output not UTF-8: {e}"))
}

fn script_command(script: &Path, args: &[&dyn AsRef<OsStr>]) -> Command {
    script_command_with(&python(), script, args)
}

fn script_command_with(python: &Path, script: &Path, args: &[&dyn AsRef<OsStr>]) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(script);
    for a in args {
        cmd.arg(a);
    }
    cmd
}

/// Runs `python script args...`, panics with its stderr on failure, returns its stdout.
pub fn run_python(script: &Path, args: &[&dyn AsRef<OsStr>]) -> String {
    output(script_command(script, args), &script.display().to_string(), None)
}

/// Like [`run_python`], with `input` written to the script's stdin.
pub fn run_python_with_input(script: &Path, args: &[&dyn AsRef<OsStr>], input: &[u8]) -> String {
    output(script_command(script, args), &script.display().to_string(), Some(input))
}

/// Like [`run_python`], parsing stdout as JSON.
pub fn run_python_json(script: &Path, args: &[&dyn AsRef<OsStr>]) -> serde_json::Value {
    let out = run_python(script, args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{}: bad JSON ({e}): {out}", script.display()))
}

/// Like [`run_python_json`], with another interpreter (e.g. [`old_h5py_python`]).
pub fn run_python_json_with(
    python: &Path,
    script: &Path,
    args: &[&dyn AsRef<OsStr>],
) -> serde_json::Value {
    let what = format!("{} {}", python.display(), script.display());
    let out = output(script_command_with(python, script, args), &what, None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {out}"))
}

/// Runs `python -c code args...` (for one-off h5py snippets), returns stdout; panics on failure.
pub fn run_python_code(code: &str, args: &[&dyn AsRef<OsStr>]) -> String {
    run_python_code_with(&python(), code, args)
}

/// Like [`run_python_code`], with another interpreter (e.g. [`old_h5py_python`]).
pub fn run_python_code_with(python: &Path, code: &str, args: &[&dyn AsRef<OsStr>]) -> String {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(code);
    for a in args {
        cmd.arg(a);
    }
    output(cmd, &format!("{} -c", python.display()), None)
}
