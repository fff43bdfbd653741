//! A crate's modules in layers, checked against its imports ([`ModuleGraph`]): a module imports
//! only from lower layers, or from a sibling of its own layer where a rule states it, and no
//! files or units import each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::imports::{Import, ModuleGraph, ROOT, read_sources};

/// One layer: its name (as the crate's documentation writes it) and its units, module paths
/// such as `h5` or `ops::check` that hold every file under them (`crate` is the root file).
#[derive(Clone, Copy, Debug)]
pub struct Layer {
    /// The name, e.g. `Foundation`.
    pub name: &'static str,
    /// The units of the layer.
    pub units: &'static [&'static str],
}

/// The layers of a crate, bottom-up, and the imports allowed between units of one layer.
#[derive(Clone, Copy, Debug)]
pub struct Layering {
    /// Bottom-up.
    pub layers: &'static [Layer],
    /// `(importer, imported)`: units of one layer, the first of which may import the second.
    pub siblings: &'static [(&'static str, &'static str)],
}

impl Layering {
    /// Departures of the crate whose `src/` folder is `src` from the layers (see
    /// [`Layering::violations`]), with the graph they were read from.
    pub fn crate_violations(&self, src: &Path) -> (ModuleGraph, Vec<String>) {
        let graph = ModuleGraph::from_dir(src).expect("the crate's sources read");
        let violations = self.violations(&graph);
        (graph, violations)
    }

    /// Departures of the `//!` documentation of `src/lib.rs` from the layers (see
    /// [`Layering::doc_violations`]).
    pub fn lib_doc_violations(&self, src: &Path) -> Vec<String> {
        let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs reads");
        let doc: Vec<&str> = lib.lines().filter(|l| l.starts_with("//!")).collect();
        self.doc_violations(&doc.join("\n"))
    }

    /// Departures of the crate's sources from the layers once `line` is added to `file` (a path
    /// relative to `src/`): what a planted import would make the check say.
    pub fn violations_with(&self, src: &Path, file: &str, line: &str) -> Vec<String> {
        let mut files = read_sources(src).expect("the crate's sources read");
        let planted = files.iter_mut().find(|(p, _)| p == file).expect("the file is in src/");
        planted.1.push_str(line);
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, s)| (p.as_str(), s.as_str())).collect();
        self.violations(&ModuleGraph::from_sources(&refs))
    }

    /// The unit a module belongs to: the longest unit that is the module or a parent of it.
    pub fn unit_of(&self, module: &str) -> Option<(usize, &'static str)> {
        let mut best: Option<(usize, &'static str)> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            for &unit in layer.units {
                let inside = module == unit
                    || (unit != ROOT
                        && module.starts_with(unit)
                        && module[unit.len()..].starts_with("::"));
                if inside && best.is_none_or(|(_, b)| unit.len() > b.len()) {
                    best = Some((i, unit));
                }
            }
        }
        best
    }

    /// Every departure of `graph` from the layers, one line each: a file in no unit, an import
    /// upward or to a sibling no rule allows, a cycle of files or of units. Empty when the
    /// imports follow the layers.
    pub fn violations(&self, graph: &ModuleGraph) -> Vec<String> {
        let mut out = Vec::new();
        for (module, file) in &graph.modules {
            if self.unit_of(module).is_none() {
                out.push(format!("{file}: module {module} is in no layer's unit"));
            }
        }
        let file_of = |m: &str| graph.modules.get(m).map_or(m.to_owned(), Clone::clone);
        for Import { from, to, path, line } in &graph.imports {
            let (Some((la, ua)), Some((lb, ub))) = (self.unit_of(from), self.unit_of(to)) else {
                continue;
            };
            let at = format!("{}:{line}: {from} imports {path}", file_of(from));
            if ua == ub || lb < la {
                continue;
            }
            let (na, nb) = (self.layers[la].name, self.layers[lb].name);
            if lb > la {
                out.push(format!("{at}: upward, from {na} ({ua}) to {nb} ({ub})"));
            } else if !self.siblings.contains(&(ua, ub)) {
                out.push(format!("{at}: sibling {ub} of {na}, which no rule lets {ua} import"));
            }
        }
        let files: Vec<(String, String)> =
            graph.imports.iter().map(|i| (i.from.clone(), i.to.clone())).collect();
        for cycle in cycles(&files) {
            out.push(format!("import cycle between files: {}", cycle.join(" -> ")));
        }
        let units: Vec<(String, String)> = graph
            .imports
            .iter()
            .filter_map(|i| {
                let (ua, ub) = (self.unit_of(&i.from)?.1, self.unit_of(&i.to)?.1);
                (ua != ub).then(|| (ua.to_owned(), ub.to_owned()))
            })
            .collect();
        for cycle in cycles(&units) {
            out.push(format!("import cycle between units: {}", cycle.join(" -> ")));
        }
        out
    }

    /// Departures of a crate's documentation from the layers: `doc` (the crate's `//!` text)
    /// must hold a numbered list with an item per layer, in order, that starts with the
    /// layer's name and names each of its units (other than `crate`) in backticks, or a module
    /// under it.
    pub fn doc_violations(&self, doc: &str) -> Vec<String> {
        let items = numbered_items(doc);
        let mut out = Vec::new();
        if items.len() != self.layers.len() {
            out.push(format!(
                "the documentation lists {} layers, the table {}",
                items.len(),
                self.layers.len()
            ));
        }
        for (layer, item) in self.layers.iter().zip(&items) {
            if !item.starts_with(layer.name) {
                out.push(format!("layer {:?} is documented as {item:?}", layer.name));
            }
            let named: BTreeSet<&str> = item.split('`').skip(1).step_by(2).collect();
            for unit in layer.units.iter().filter(|u| **u != ROOT) {
                let under = format!("{unit}::");
                if !named.iter().any(|n| n == unit || n.starts_with(&under)) {
                    out.push(format!(
                        "layer {:?}: unit `{unit}` is not named in {item:?}",
                        layer.name
                    ));
                }
            }
        }
        out
    }
}

/// The text of each item of the first numbered list (`1. ...`, continued on indented lines) in
/// `doc`, the `//!` prefix of each line taken off.
fn numbered_items(doc: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut open = false;
    for line in doc.lines() {
        let text = line.trim_start().strip_prefix("//!").unwrap_or(line).trim_start_matches(' ');
        let number = text.split_once(". ").filter(|(n, _)| n.parse::<usize>().is_ok());
        if let Some((_, rest)) = number {
            items.push(rest.to_owned());
            open = true;
        } else if open && line.contains("//!   ") {
            let last = items.last_mut().expect("open item");
            last.push(' ');
            last.push_str(text.trim());
        } else if !items.is_empty() {
            open = false;
            if !text.trim().is_empty() {
                break;
            }
        }
    }
    items
}

/// One cycle through each strongly connected component of more than one node of the directed
/// graph `edges`, as node names, the first repeated at the end.
pub fn cycles<'a>(edges: &'a [(String, String)]) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().insert(b);
        next.entry(b).or_default();
    }
    let nodes: Vec<&str> = next.keys().copied().collect();
    let reach = |from: &'a str| {
        let mut seen = BTreeSet::from([from]);
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for &m in &next[n] {
                if seen.insert(m) {
                    todo.push(m);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<&str>> = nodes.iter().map(|&n| (n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for &n in &nodes {
        if done.contains(n) {
            continue;
        }
        let component: BTreeSet<&str> =
            reached[n].iter().copied().filter(|m| reached[m].contains(n)).collect();
        done.extend(component.iter().copied());
        if component.len() < 2 {
            continue;
        }
        // The shortest way from n back to n inside the component.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([n]);
        'search: while let Some(a) = queue.pop_front() {
            for &b in &next[a] {
                if !component.contains(b) {
                    continue;
                }
                if b == n {
                    let mut path = vec![a];
                    while let Some(&p) = parent.get(path.last().expect("non-empty")) {
                        path.push(p);
                    }
                    path.reverse();
                    let mut cycle: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
                    if cycle.first().map(String::as_str) != Some(n) {
                        cycle.insert(0, n.to_owned());
                    }
                    cycle.push(n.to_owned());
                    out.push(cycle);
                    break 'search;
                }
                if b != n && !parent.contains_key(b) {
                    parent.insert(b, a);
                    queue.push_back(b);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERING: Layering = Layering {
        layers: &[
            Layer { name: "Base", units: &["error", "schema"] },
            Layer { name: "Files", units: &["h5", "oldh5"] },
            Layer { name: "Face", units: &[ROOT] },
        ],
        siblings: &[("schema", "error")],
    };

    fn violations(files: &[(&str, &str)]) -> Vec<String> {
        LAYERING.violations(&ModuleGraph::from_sources(files))
    }

    #[test]
    fn imports_down_and_to_stated_siblings_pass() {
        let v = violations(&[
            ("lib.rs", "mod error; mod schema; mod h5;\npub use h5::open;"),
            ("error.rs", ""),
            ("schema.rs", "use crate::error::Error;"),
            ("h5/mod.rs", "use crate::schema::X;\npub(crate) mod gzip;"),
            ("h5/gzip.rs", "use crate::h5::open;\nuse crate::error::Error;"),
        ]);
        assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn upward_unstated_sibling_root_and_unplaced_imports_fail() {
        let v = violations(&[
            ("lib.rs", ""),
            ("error.rs", "use crate::schema::X;"),
            ("schema.rs", "fn f() { crate::h5::open(); }"),
            ("h5/mod.rs", "use crate::oldh5::read;\nuse crate::Error;"),
            ("oldh5/mod.rs", ""),
            ("extra.rs", ""),
        ]);
        let want = [
            "extra.rs: module extra is in no layer's unit",
            "error.rs:1: error imports schema::X: sibling schema of Base, which no rule lets error import",
            "schema.rs:1: schema imports h5::open: upward, from Base (schema) to Files (h5)",
            "h5/mod.rs:1: h5 imports oldh5::read: sibling oldh5 of Files, which no rule lets h5 import",
            "h5/mod.rs:2: h5 imports Error: upward, from Files (h5) to Face (crate)",
        ];
        assert_eq!(v, want);
    }

    #[test]
    fn cycles_of_files_and_of_units_are_printed() {
        let v = violations(&[
            ("lib.rs", ""),
            ("h5/mod.rs", "use crate::h5::a::X;"),
            ("h5/a.rs", "use crate::h5::b::Y;"),
            ("h5/b.rs", "use super::Z;"),
        ]);
        assert_eq!(v, ["import cycle between files: h5 -> h5::a -> h5::b -> h5"]);
        let both_ways =
            Layering { siblings: &[("schema", "error"), ("error", "schema")], ..LAYERING };
        let g = ModuleGraph::from_sources(&[
            ("error.rs", "use crate::schema::A;"),
            ("schema/mod.rs", "mod x;"),
            ("schema/x.rs", "use crate::error::B;"),
        ]);
        assert_eq!(
            both_ways.violations(&g),
            ["import cycle between units: error -> schema -> error"]
        );
    }

    #[test]
    fn the_documented_list_must_match_the_table() {
        let good = "//! Intro.\n//!\n//! 1. Base: `error`, and `schema`\n//!    (continued).\n\
                    //! 2. Files: `h5::gzip` and `oldh5`.\n//! 3. Face: this file.\n//!\n//! End.";
        assert_eq!(LAYERING.doc_violations(good), Vec::<String>::new());
        let bad = "//! 1. Base: `error`.\n//! 2. Face: `h5`, `oldh5`.\n";
        assert_eq!(
            LAYERING.doc_violations(bad),
            [
                "the documentation lists 2 layers, the table 3",
                "layer \"Base\": unit `schema` is not named in \"Base: `error`.\"",
                "layer \"Files\" is documented as \"Face: `h5`, `oldh5`.\"",
            ]
        );
    }
}
