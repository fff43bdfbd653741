//! The modules of `src/` against the layers `lib.rs` documents: every `crate::`, `super::` and
//! child-module import goes down a layer or to a sibling a rule names, and no files import each
//! other in a cycle.

use std::path::{Path, PathBuf};

use test_support::{Layer, Layering, ROOT};

/// The layers, bottom-up, as `lib.rs`'s doc comment lists them.
const LAYERING: Layering = Layering {
    layers: &[
        Layer { name: "Foundation", units: &["limits", "ftfy_tables", "device_name", "error"] },
        Layer {
            name: "Inputs",
            units: &[
                "html",
                "ftfy",
                "clip_tokenize",
                "tokenizer",
                "config",
                "preprocessor",
                "weights",
                "device",
                "levels",
                "device_crops",
            ],
        },
        Layer { name: "Model", units: &["model"] },
        Layer { name: "This file", units: &[ROOT] },
    ],
    siblings: &[
        ("error", "device_name"),
        ("ftfy", "html"),
        ("clip_tokenize", "html"),
        ("clip_tokenize", "ftfy"),
        ("tokenizer", "ftfy"),
        ("tokenizer", "clip_tokenize"),
        ("preprocessor", "config"),
    ],
};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn imports_follow_the_layers() {
    let (graph, violations) = LAYERING.crate_violations(&src());
    assert!(graph.modules.len() >= 14, "{:?}", graph.modules.keys());
    assert!(graph.imports.len() >= 20, "{} imports", graph.imports.len());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn lib_rs_documents_the_same_layers() {
    let violations = LAYERING.lib_doc_violations(&src());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The sources of `src/`, with `line` added to `file`, against the layers.
fn violations_with(file: &str, line: &str) -> String {
    LAYERING.violations_with(&src(), file, line).join("\n")
}

/// The check bites on this crate too: the cycles this layering replaced (`limits` reading
/// `config`'s type, `error` naming devices through the crate root) fail when put back.
#[test]
fn the_old_cycles_fail() {
    let text = violations_with("limits.rs", "\nuse crate::config::ClipConfig;\n");
    assert!(text.contains("limits imports config::ClipConfig: upward"), "{text}");
    assert!(text.contains("import cycle between files: config -> limits -> config"), "{text}");
    let call = "\nfn name(d: tch::Device) -> String {\n    crate::device_name(d)\n}\n";
    let text = violations_with("error.rs", call);
    let upward = "error imports device_name: upward, from Foundation (error) to This file (crate)";
    assert!(text.contains(upward), "{text}");
    assert!(text.contains("import cycle between files: "), "{text}");
}
