//! Every command in the code blocks of README.md and docs/*.md that names one of our binaries
//! names one that exists, with flags and values it accepts (parsed by the binary's own clap
//! command, as the shell would pass them); `make` targets exist in the Makefile; scripts named by
//! path exist.

use std::collections::HashMap;
use std::path::Path;

use clap::CommandFactory;
use xctx_bins::pipeline::{encode_captions, encode_images, merge, retrieve};
use xctx_bins::{doctor, inspect};

/// Our binaries and their command lines.
fn binary(name: &str) -> Option<clap::Command> {
    Some(match name {
        "encode-images" => encode_images::Args::command(),
        "encode-captions" => encode_captions::Args::command(),
        "retrieve-captions" => retrieve::Args::command(),
        "ctx-merge" => merge::Args::command(),
        "ctx-inspect" => inspect::Args::command(),
        "xctx-doctor" => doctor::Args::command(),
        _ => return None,
    })
}

/// The double-quoted strings of `cmd` (`sbatch --wrap "..."`), which are commands too.
fn quoted(cmd: &str) -> Vec<String> {
    cmd.split('"')
        .skip(1)
        .step_by(2)
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
        .collect()
}

/// The shell commands of a Markdown file's `bash`/`sh` code blocks: continuation lines joined,
/// comments dropped, split at `;`, `&&` and `||`.
fn commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut line = String::new();
    for raw in markdown.lines() {
        let t = raw.trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            in_block = !in_block && matches!(lang.trim(), "bash" | "sh" | "shell");
            continue;
        }
        if !in_block {
            continue;
        }
        let code = match raw.find(" #") {
            Some(at) => &raw[..at],
            None if t.starts_with('#') => "",
            None => raw,
        };
        line.push_str(code.trim_end().trim_end_matches('\\'));
        line.push(' ');
        if code.trim_end().ends_with('\\') {
            continue;
        }
        for part in line.split("&&").flat_map(|p| p.split("||")).flat_map(|p| p.split(';')) {
            let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
            if !part.is_empty() {
                out.push(part);
            }
        }
        line.clear();
    }
    out
}

/// Checks one command; returns the binary it ran, if one of ours. `vars` holds the shell
/// variables set so far.
fn check(
    cmd: &str,
    vars: &mut HashMap<String, String>,
    root: &Path,
) -> Result<Option<String>, String> {
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|k| std::cmp::Reverse(k.len())); // `$MODEL` before `$M`
    let mut words: Vec<String> = Vec::new();
    for w in cmd.split_whitespace() {
        let mut w = w.to_owned();
        for k in &names {
            let v = &vars[*k];
            w = w.replace(&format!("${{{k}}}"), v).replace(&format!("${k}"), v);
        }
        words.push(w);
    }
    // Leading assignments (`M=/models/x cmd ...` or a line of them).
    while let Some((k, v)) = words.first().and_then(|w| w.split_once('=')) {
        let mut chars = k.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || v.starts_with("$(")
        {
            break;
        }
        vars.insert(k.to_owned(), v.to_owned());
        words.remove(0);
    }
    let Some(first) = words.first() else { return Ok(None) };
    let name =
        Path::new(first).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(cmd) = binary(&name) {
        if first.contains('/') && !first.ends_with(&format!("target/release/{name}")) {
            return Err(format!("{first}: our binaries are target/release/{name} or on PATH"));
        }
        cmd.try_get_matches_from(&words).map_err(|e| e.render().to_string())?;
        return Ok(Some(name));
    }
    match first.as_str() {
        "make" => {
            let makefile = std::fs::read_to_string(root.join("Makefile")).unwrap();
            for target in words[1..].iter().filter(|w| !w.contains('=')) {
                if !makefile.lines().any(|l| l.starts_with(&format!("{target}:"))) {
                    return Err(format!("make {target}: no such target in the Makefile"));
                }
            }
        }
        w if (w.starts_with("scripts/") || w.starts_with("./") || w.starts_with("benches/"))
            && !root.join(w).exists() =>
        {
            return Err(format!("{w}: no such file"));
        }
        w if w.starts_with(".venv/bin/python") => {
            let script = words.get(1).filter(|s| s.ends_with(".py"));
            if let Some(script) = script.filter(|s| !root.join(s).exists()) {
                return Err(format!("{script}: no such file"));
            }
        }
        _ => {}
    }
    Ok(None)
}

#[test]
fn documented_commands_name_our_binaries_and_their_flags() {
    let root = test_support::workspace_root();
    let mut docs = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    let mut errors = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    let mut readme_binaries = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let mut vars = HashMap::new();
        for cmd in commands(&text).into_iter().flat_map(|c| [vec![c.clone()], quoted(&c)].concat())
        {
            match check(&cmd, &mut vars, &root) {
                Ok(Some(name)) => {
                    used.insert(name);
                    if doc.ends_with("README.md") {
                        readme_binaries += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("{}: `{cmd}`:\n{e}", doc.display())),
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    assert!(readme_binaries >= 6, "README.md: only {readme_binaries} commands of our binaries");
    for name in
        ["encode-images", "encode-captions", "retrieve-captions", "ctx-merge", "ctx-inspect"]
    {
        assert!(used.contains(name), "{name}: in no documented command");
    }
}

#[test]
fn bad_commands_are_caught() {
    let root = test_support::workspace_root();
    let mut vars = HashMap::new();
    let ok = "target/release/ctx-inspect outputs/retrieved_captions/txt_ctx.hdf5 --check";
    assert_eq!(check(ok, &mut vars, &root), Ok(Some("ctx-inspect".into())));
    for bad in [
        "target/release/ctx-inspect f.h5 --no-such-flag",
        "encode-captions --ann-dir a --model m --num-workers 2",
        "retrieve-captions --dataset-root d --model m --caption-db c --profile other",
        "target/debug/ctx-merge out.h5 a.h5",
        "make no-such-target",
        "scripts/no_such_script.sh",
    ] {
        assert!(check(bad, &mut vars, &root).is_err(), "{bad}");
    }
    let block = "```bash\nM=/m\nencode-images --dataset-root d \\\n  --model $M  # note\n```\n";
    assert_eq!(commands(block), ["M=/m", "encode-images --dataset-root d --model $M"]);
    assert_eq!(quoted(r#"sbatch --wrap "ctx-merge a b" x"#), ["ctx-merge a b"]);
}
