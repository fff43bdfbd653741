//! Nothing in the repository names a path outside it: a user's clone has only what is tracked,
//! so a reference to a sibling folder of the developers' machines (`../<somewhere>`) or to an
//! absolute path of theirs is a broken link for everyone else.

use std::path::{Path, PathBuf};

/// Top-level folders that are build outputs or local set-up, not the repository's files (where
/// git cannot list them).
const SKIPPED: &[&str] =
    &["target", ".git", ".cargo", ".venv", ".venv-h5py-old", ".venv-h5py-1.12", "outputs"];

/// Absolute paths of the machines the project was developed on (split so that this file does not
/// name them itself).
fn forbidden() -> Vec<String> {
    vec![["/wo", "rk/"].concat(), ["../sha", "red/"].concat(), ["shared/do", "cs/"].concat()]
}

/// The repository's files: git's tracked and not-ignored ones, else a walk without the build
/// and set-up folders.
fn files(root: &Path) -> Vec<PathBuf> {
    let git = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output();
    if let Ok(out) = &git
        && out.status.success()
        && !out.stdout.is_empty()
    {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .filter(|p| p.is_file())
            .collect();
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if dir == root && SKIPPED.contains(&name.as_str()) {
            continue;
        }
        if path.is_dir() {
            walk(&path, root, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

/// Relative paths in `text` that climb above the repository root from `depth` folders down:
/// a chain of `../` that starts after a delimiter and goes on into a name.
fn escaping(text: &str, depth: usize) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("../") {
        let start = i + at;
        i = start + 3;
        let before = start.checked_sub(1).map(|p| b[p]);
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/' || c == b'_')
        {
            continue;
        }
        let mut j = start;
        let mut n = 0;
        while text[j..].starts_with("../") {
            n += 1;
            j += 3;
        }
        i = j;
        if n > depth && b.get(j).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
            let end = text[j..].find(|c: char| c.is_whitespace() || "`'\")]".contains(c));
            found.push(text[start..j + end.unwrap_or(text.len() - j)].to_owned());
        }
    }
    found
}

#[test]
fn no_file_names_a_path_outside_the_repository() {
    let root = test_support::workspace_root();
    let all = files(&root);
    assert!(all.len() > 50, "only {} files under {}", all.len(), root.display());
    let forbidden = forbidden();
    let mut bad = Vec::new();
    for path in &all {
        let Ok(text) = std::fs::read_to_string(path) else { continue }; // not text
        let rel = path.strip_prefix(&root).unwrap();
        let depth = rel.components().count() - 1;
        for (n, line) in text.lines().enumerate() {
            for f in &forbidden {
                if line.contains(f.as_str()) {
                    bad.push(format!("{}:{}: {f}", rel.display(), n + 1));
                }
            }
            for p in escaping(line, depth) {
                bad.push(format!("{}:{}: {p}", rel.display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "paths outside the repository:\n{}", bad.join("\n"));
}

#[test]
fn escaping_paths_are_found_and_inner_ones_are_not() {
    assert_eq!(escaping("see `../../x/y.md`", 1), ["../../x/y.md"]);
    assert_eq!(escaping("see (../docs/a.md)", 0), ["../docs/a.md"]);
    assert!(escaping("see ../docs/a.md", 1).is_empty());
    assert!(escaping("a/../b, 0..n, [..], ...", 0).is_empty());
}
