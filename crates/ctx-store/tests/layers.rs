//! The modules of `src/` against the layers `lib.rs` documents: every `crate::`, `super::` and
//! child-module import goes down a layer or to a sibling a rule names, none goes through
//! `lib.rs`, and no files or units import each other in a cycle.

use std::path::{Path, PathBuf};

use test_support::{Layer, Layering, ROOT};

/// The layers, bottom-up, as `lib.rs`'s doc comment lists them.
const LAYERING: Layering = Layering {
    layers: &[
        Layer {
            name: "Foundation",
            units: &[
                "error",
                "schema",
                "id",
                "testing",
                "sync",
                "bounds",
                "kind",
                "entry",
                "provenance",
                "gzip_chunks",
            ],
        },
        Layer { name: "Format back-ends", units: &["h5", "oldh5"] },
        Layer { name: "Typed files", units: &["original", "haav", "compact"] },
        Layer {
            name: "Operations over files",
            units: &[
                "ops",
                "ops::inspect",
                "ops::check",
                "ops::merge",
                "ops::batch",
                "ops::commit",
            ],
        },
        Layer { name: "This file", units: &[ROOT] },
    ],
    siblings: &[
        ("bounds", "error"),
        ("testing", "entry"),
        ("gzip_chunks", "error"),
        ("kind", "schema"),
        ("entry", "schema"),
        ("entry", "id"),
        ("id", "schema"),
        ("id", "error"),
        ("provenance", "kind"),
        ("provenance", "schema"),
        ("h5", "oldh5"),
        ("haav", "original"),
        ("original", "compact"),
        ("haav", "compact"),
        ("ops::check", "ops::inspect"),
        ("ops::merge", "ops::inspect"),
    ],
};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn imports_follow_the_layers() {
    let (graph, violations) = LAYERING.crate_violations(&src());
    // The scanner reads the crate: its files and the imports between them.
    assert!(graph.modules.len() >= 30, "{:?}", graph.modules.keys());
    assert!(graph.imports.len() >= 100, "{} imports", graph.imports.len());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn lib_rs_documents_the_same_layers() {
    let violations = LAYERING.lib_doc_violations(&src());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The crate's sources with `line` added to `file`, against the layers.
fn violations_with(file: &str, line: &str) -> Vec<String> {
    LAYERING.violations_with(&src(), file, line)
}

/// The check bites: one upward import added to the crate's own sources (the foundation's
/// `schema` calling into the `h5` back-end, which imports `schema`) fails, naming the import and
/// the cycle it closes; so does an import through `lib.rs`.
#[test]
fn an_upward_import_and_a_cycle_fail() {
    let call = "\nfn upward() -> bool {\n    crate::h5::open_read(\"x\".as_ref()).is_ok()\n}\n";
    let violations = violations_with("schema.rs", call);
    let text = violations.join("\n");
    let upward =
        "schema imports h5::open_read: upward, from Foundation (schema) to Format back-ends (h5)";
    assert!(violations.iter().any(|v| v.starts_with("schema.rs:") && v.contains(upward)), "{text}");
    // The planted import closes a cycle through `h5`, which imports `schema`.
    let cycle = violations
        .iter()
        .find(|v| v.starts_with("import cycle between files") && v.contains("schema -> h5"))
        .expect(&text);
    assert!(cycle.contains("h5 -> ") && cycle.contains("schema -> h5"), "{cycle}");
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("import cycle between units:") && v.contains("schema -> h5")),
        "{text}"
    );

    let violations = violations_with("original/vis.rs", "\nuse crate::Error as ThroughTheFace;\n");
    let face =
        "original::vis imports Error: upward, from Typed files (original) to This file (crate)";
    assert!(violations.iter().any(|v| v.contains(face)), "{}", violations.join("\n"));
}
