//! The imports between the files of a crate's `src/`: every `use` of a `crate::`, `super::` or
//! `self::` path (groups such as `use crate::{a::b, c}` expanded), every such path written
//! inline in the code, and every path through a child module the file declares, each resolved
//! to the file that defines it. Comments, strings and character literals are skipped, so a
//! path in a doc comment or a message is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One import of a file from another file of the same crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The importing file's module, e.g. `h5::gzip` (`crate` for `lib.rs`).
    pub from: String,
    /// The module of the file that defines what is imported.
    pub to: String,
    /// The path as resolved, from the crate root, e.g. `h5::gzip::guess_chunk`.
    pub path: String,
    /// The line of the importing file it is on (1-based).
    pub line: usize,
}

/// The files of a crate as modules, and their imports of each other.
#[derive(Clone, Debug, Default)]
pub struct ModuleGraph {
    /// Every file's module (`crate` for `lib.rs`, `h5` for `h5/mod.rs` or `h5.rs`), with the
    /// file's path relative to `src/`.
    pub modules: BTreeMap<String, String>,
    /// Every import between two different files, in file and line order.
    pub imports: Vec<Import>,
}

/// The root module's name in a [`ModuleGraph`].
pub const ROOT: &str = "crate";

impl ModuleGraph {
    /// Reads every `.rs` file under `src` (the crate's `src/` folder; `src/bin/` is left out:
    /// binaries are other crates).
    pub fn from_dir(src: &Path) -> std::io::Result<Self> {
        let files = read_sources(src)?;
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, s)| (p.as_str(), s.as_str())).collect();
        Ok(Self::from_sources(&refs))
    }

    /// The graph of the given files: (path relative to `src/`, e.g. `h5/gzip.rs`, source).
    pub fn from_sources(files: &[(&str, &str)]) -> Self {
        let modules: BTreeMap<String, String> =
            files.iter().map(|(p, _)| (module_of(p), (*p).to_owned())).collect();
        let known: BTreeSet<&str> = modules.keys().map(String::as_str).collect();
        let mut imports = Vec::new();
        for (path, source) in files {
            let from = module_of(path);
            for (resolved, value, line) in paths(&from, &lex(source), &known) {
                // A call `crate::f(..)` or macro `crate::m!`: `f` is no module, whatever a
                // module of the same name says.
                let owner = if value {
                    resolved.rsplit_once("::").map_or(ROOT, |(m, _)| m)
                } else {
                    &resolved
                };
                let to = file_module(owner, &known);
                if to != from {
                    imports.push(Import { from: from.clone(), to, path: resolved, line });
                }
            }
        }
        ModuleGraph { modules, imports }
    }
}

/// Every `.rs` file under `src` but `src/bin/`, as (path relative to `src/`, source), sorted.
pub fn read_sources(src: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    Ok(files)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            if rel != "bin" {
                collect(root, &path, out)?;
            }
        } else if rel.ends_with(".rs") {
            out.push((rel, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

/// `h5/gzip.rs` -> `h5::gzip`, `h5/mod.rs` -> `h5`, `lib.rs` -> `crate`.
fn module_of(file: &str) -> String {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    if stem == "lib" || stem == "main" { ROOT.to_owned() } else { stem.replace('/', "::") }
}

/// The longest prefix of `path` that is a file's module (the root if none).
fn file_module(path: &str, known: &BTreeSet<&str>) -> String {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|m| known.contains(m.as_str()))
        .unwrap_or_else(|| ROOT.to_owned())
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokens with their lines; comments, strings, characters and lifetimes dropped.
fn lex(source: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = source.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let newlines = |from: usize, to: usize| c[from..to].iter().filter(|&&x| x == '\n').count();
    while i < c.len() {
        let start = i;
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        match c[i] {
            '/' if at(i + 1) == '/' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(&c, i + 1),
            'r' | 'b' | 'c' if raw_string_start(&c, i).is_some() => {
                let (hashes, quote) = raw_string_start(&c, i).expect("checked");
                i = quote + 1;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
            }
            'b' | 'c' if at(i + 1) == '"' => i = skip_string(&c, i + 2),
            'b' if at(i + 1) == '\'' => i = skip_char(&c, i + 1),
            '\'' => i = skip_char(&c, i),
            ':' if at(i + 1) == ':' => {
                out.push((Tok::Path, line));
                i += 2;
            }
            x if x.is_alphanumeric() || x == '_' => {
                // A raw identifier `r#name` is the identifier `name`.
                if x == 'r' && at(i + 1) == '#' && (at(i + 2).is_alphabetic() || at(i + 2) == '_') {
                    i += 2;
                }
                let from = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(c[from..i].iter().collect()), line));
            }
            x => {
                if !x.is_whitespace() {
                    out.push((Tok::Punct(x), line));
                }
                i += 1;
            }
        }
        line += newlines(start, i.min(c.len()));
    }
    out
}

/// `r"`, `r#"`, `br##"`, `cr"`: the number of `#` and the index of the opening quote.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if c[j] == 'b' || c[j] == 'c' {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&x| x == '#').count();
    (c.get(j + hashes) == Some(&'"')).then_some((hashes, j + hashes))
}

/// The index after the string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index after a character literal at `i` (its opening quote), or after the quote of a
/// lifetime or label.
fn skip_char(c: &[char], i: usize) -> usize {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    if at(i + 1) == '\\' {
        // After the backslash and the escaped character: `'\''`, `'\u{1F600}'`.
        let mut j = i + 3;
        while j < c.len() && c[j] != '\'' {
            j += 1;
        }
        j + 1
    } else if at(i + 2) == '\'' {
        i + 3
    } else {
        i + 1
    }
}

/// A scope while reading a file: the module it is (the file's, or an inline `mod x { ... }`
/// in it) and the brace depth its body ends at.
struct Scope {
    module: String,
    depth: usize,
}

/// Every crate-local path of a file's tokens, resolved from the crate root, whether it names a
/// function or macro (a path followed by `(` or `!`), and its line.
fn paths(file: &str, toks: &[(Tok, usize)], known: &BTreeSet<&str>) -> Vec<(String, bool, usize)> {
    let ident = |k: usize| match toks.get(k) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |k: usize, t: &Tok| toks.get(k).map(|(x, _)| x) == Some(t);
    // Child modules a scope declares (`mod x;` files, `mod x { }` inline).
    let children = |module: &str, name: &str| {
        let child = join(module, name);
        known.contains(child.as_str())
            || toks.windows(2).any(|w| {
                matches!((&w[0].0, &w[1].0), (Tok::Ident(m), Tok::Ident(n)) if m == "mod" && n == name)
            })
    };
    let mut scopes = vec![Scope { module: file.to_owned(), depth: 0 }];
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let line = toks[k].1;
        let module = scopes.last().expect("the file's scope").module.clone();
        match &toks[k].0 {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if scopes.len() > 1 && scopes.last().is_some_and(|s| s.depth > depth) {
                    scopes.pop();
                }
            }
            Tok::Ident(m)
                if m == "mod" && ident(k + 1).is_some() && is(k + 2, &Tok::Punct('{')) =>
            {
                let name = ident(k + 1).expect("checked");
                scopes.push(Scope { module: join(&module, name), depth: depth + 1 });
                depth += 1;
                k += 3;
                continue;
            }
            // Not `use<'a>` (precise capturing): a use declaration starts with a path or group.
            Tok::Ident(u) if u == "use" && !is(k + 1, &Tok::Punct('<')) => {
                let end = (k..toks.len()).find(|&j| is(j, &Tok::Punct(';'))).unwrap_or(toks.len());
                let mut leaves = Vec::new();
                use_tree(&toks[k + 1..end], Vec::new(), &mut leaves);
                for leaf in leaves {
                    if let Some(p) = resolve(&module, &leaf, |n| children(&module, n)) {
                        out.push((p, false, line));
                    }
                }
                k = end + 1;
                continue;
            }
            Tok::Ident(first) if is(k + 1, &Tok::Path) && !(k > 0 && is(k - 1, &Tok::Path)) => {
                let mut segments = vec![first.clone()];
                let mut j = k + 1;
                while is(j, &Tok::Path) {
                    match ident(j + 1) {
                        Some(s) => segments.push(s.to_owned()),
                        None => break,
                    }
                    j += 2;
                }
                if let Some(p) = resolve(&module, &segments, |n| children(&module, n)) {
                    let value = is(j, &Tok::Punct('(')) || is(j, &Tok::Punct('!'));
                    out.push((p, value, line));
                }
                k = j;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    out
}

fn join(module: &str, name: &str) -> String {
    if module == ROOT { name.to_owned() } else { format!("{module}::{name}") }
}

/// Expands a use tree (the tokens between `use` and `;`) into its leaf paths; `self` in a
/// group names the group's prefix, a glob the prefix itself, `as` aliases are dropped.
fn use_tree(toks: &[(Tok, usize)], prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    let mut k = 0;
    // `pub(crate) use`, attributes and the like come before `use`; here only the tree.
    while k < toks.len() {
        match &toks[k].0 {
            Tok::Ident(s) if s == "as" => break,
            Tok::Ident(s) if s == "self" && !path.is_empty() => {}
            Tok::Ident(s) => path.push(s.clone()),
            Tok::Path => {}
            Tok::Punct('*') => break,
            Tok::Punct('{') => {
                let mut depth = 0;
                let mut start = k + 1;
                for j in k..toks.len() {
                    match toks[j].0 {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                if start < j {
                                    use_tree(&toks[start..j], path.clone(), out);
                                }
                                return;
                            }
                        }
                        Tok::Punct(',') if depth == 1 => {
                            use_tree(&toks[start..j], path.clone(), out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            Tok::Punct(_) => {}
        }
        k += 1;
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// `segments` as written in `module`, from the crate root; `None` for another crate's path.
fn resolve(module: &str, segments: &[String], is_child: impl Fn(&str) -> bool) -> Option<String> {
    let mut base: Vec<&str> =
        if module == ROOT { Vec::new() } else { module.split("::").collect() };
    let mut rest = segments;
    match segments.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &segments[1..];
        }
        Some("self") => rest = &segments[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) if is_child(first) => {}
        _ => return None,
    }
    base.extend(rest.iter().map(String::as_str));
    Some(if base.is_empty() { ROOT.to_owned() } else { base.join("::") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(files: &[(&str, &str)]) -> Vec<(String, String)> {
        let g = ModuleGraph::from_sources(files);
        g.imports.into_iter().map(|i| (i.from, i.path)).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn groups_self_globs_and_aliases_expand_to_their_files() {
        let got = imports(&[
            ("lib.rs", "mod a; mod b;"),
            ("a/mod.rs", "pub(crate) mod x;\nuse crate::b::{self, y::{Z, W as V}, *};\nuse x::Q;"),
            ("a/x.rs", "use super::super::b::y as yy;\nuse self::inner::K;"),
            ("b/mod.rs", "pub mod y;"),
            ("b/y.rs", "use crate::{a::x::T, Error};"),
        ]);
        // `use x::Q` reaches the child file `a/x.rs`; `self::inner::K` stays in its file.
        let want = pairs(&[
            ("a", "b"),
            ("a", "b::y::Z"),
            ("a", "b::y::W"),
            ("a", "b"),
            ("a", "a::x::Q"),
            ("a::x", "b::y"),
            ("b::y", "a::x::T"),
            ("b::y", "Error"),
        ]);
        assert_eq!(got, want);
        let g = ModuleGraph::from_sources(&[("lib.rs", "mod b;"), ("b/y.rs", "use crate::Z;")]);
        assert_eq!(g.imports[0].to, ROOT);
        assert_eq!(g.modules.get("b::y").map(String::as_str), Some("b/y.rs"));
    }

    #[test]
    fn inline_paths_and_super_in_inline_modules_resolve() {
        let src = "fn f() { let x = crate::b::g(); self::h(); }\n\
                   mod tests {\n    use super::*;\n    fn t() { super::super::c::k(); }\n}\n\
                   fn after() { crate::c::m(); }";
        let got = imports(&[("a/s.rs", src), ("b.rs", ""), ("c.rs", ""), ("a/mod.rs", "")]);
        assert_eq!(got, pairs(&[("a::s", "b::g"), ("a::s", "a::c::k"), ("a::s", "c::m")]));
    }

    #[test]
    fn comments_strings_chars_and_lifetimes_hide_nothing_else() {
        let src = "// use crate::b::X;\n/* crate::b /* nested */ crate::b */\n\
                   /// [`x`](crate::b::x)\nconst S: &str = \"crate::b::y \\\" crate::b\";\n\
                   const R: &str = r#\"crate::b \" crate::b\"#;\nconst C: char = '\"';\n\
                   fn f<'a>(x: &'a str) -> &'a str { x }\nuse crate::c::Z;\n";
        let g = ModuleGraph::from_sources(&[("a.rs", src), ("b.rs", ""), ("c.rs", "")]);
        assert_eq!(g.imports.len(), 1, "{:?}", g.imports);
        assert_eq!((g.imports[0].to.as_str(), g.imports[0].line), ("c", 8));
    }

    #[test]
    fn a_call_names_a_function_not_a_module_of_its_name() {
        let src = "fn f() { crate::name(1); crate::name::Kind::A; }";
        let g = ModuleGraph::from_sources(&[("lib.rs", ""), ("name.rs", ""), ("a.rs", src)]);
        let to: Vec<&str> = g.imports.iter().map(|i| i.to.as_str()).collect();
        assert_eq!(to, [ROOT, "name"]);
    }

    #[test]
    fn other_crates_are_not_imports() {
        let src =
            "use std::path::Path;\nuse hdf5::{File, Group};\nfn f() { std::fs::read(\"x\"); }";
        assert!(ModuleGraph::from_sources(&[("a.rs", src)]).imports.is_empty());
    }
}
