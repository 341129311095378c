//! Tidy checks on cdr-core's own source, run as ordinary tests: the modules
//! use each other one way only (no cycle), so that each can be read knowing
//! only those it uses; and no file grows past 600 lines unless its first
//! lines say it is one piece on purpose (`One file on purpose:`).
//!
//! Test code (files named `tests.rs` or under a `tests` folder, and the
//! `#[cfg(test)]` module at the end of a file) is left out of the module
//! graph: a test module uses its parent by design.
//!
//! `cargo test -p cdr-core --test tidy -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MAX_LINES: usize = 600;
const ONE_PIECE: &str = "One file on purpose:";

/// A source file of the crate.
struct Source {
    /// The module it defines, e.g. `response::scan::body`; `` for lib.rs.
    module: String,
    /// Path inside `src/`, for messages.
    path: String,
    /// Whether it is test code as a whole.
    test: bool,
    /// Its text.
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).expect("under src");
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "lib" || p == "mod") {
                parts.pop();
            }
            out.push(Source {
                module: parts.join("::"),
                path: rel.display().to_string(),
                test: parts.iter().any(|p| p == "tests"),
                text: std::fs::read_to_string(&path).expect("a readable file"),
            });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if !t.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The paths in `code` that start with `start` (`crate::`, `super::`, ...),
/// as their segments (`crate::a::b::{C, D}` gives `[a, b]`, then `C` and `D`
/// are left to the caller's resolution of the longest module prefix).
fn paths_after<'a>(code: &'a str, start: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(start) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + start.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut segments = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            segments.push(&tail[..end]);
            match tail[end..].strip_prefix("::") {
                Some(next) => tail = next,
                None => break,
            }
        }
        out.push(segments);
    }
    out
}

/// The module a path names: its longest prefix that is a module, from `base`.
fn resolve(modules: &BTreeSet<String>, base: &str, segments: &[&str]) -> Option<String> {
    let mut found = None;
    let mut path = base.to_string();
    for s in segments {
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(s);
        if modules.contains(&path) {
            found = Some(path.clone());
        } else {
            break;
        }
    }
    found
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map_or("", |(p, _)| p)
}

/// The items the crate root re-exports, by name, with their modules.
fn reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in lib.split("pub use ").skip(1) {
        let item = item.split(';').next().unwrap_or("");
        let Some((module, names)) = item.split_once("::") else {
            continue;
        };
        if !modules.contains(module.trim()) {
            continue;
        }
        for name in names.trim_matches(|c: char| "{} \n".contains(c)).split(',') {
            out.insert(name.trim().to_string(), module.trim().to_string());
        }
    }
    out
}

/// Which modules each module uses (test code, the root and self-uses left out).
fn graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let lib = sources
        .iter()
        .find(|s| s.module.is_empty())
        .expect("lib.rs");
    let reexported = reexports(&lib.text, &modules);
    // A macro's `$crate::` paths are uses of the module that invokes it.
    let mut macro_uses: Vec<(String, Vec<Vec<&str>>)> = Vec::new();
    for s in sources.iter().filter(|s| s.text.contains("macro_rules!")) {
        let after = s
            .text
            .split("macro_rules!")
            .nth(1)
            .unwrap_or("")
            .trim_start();
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = after[..end].to_string();
        macro_uses.push((name, paths_after(&s.text, "$crate::")));
    }
    let mut out = BTreeMap::new();
    for s in sources.iter().filter(|s| !s.test && !s.module.is_empty()) {
        let code = code(&s.text).replace("$crate::", "$macro::");
        let mut uses = BTreeSet::new();
        let mut add = |base: &str, segments: &[&str]| {
            let found = resolve(&modules, base, segments).or_else(|| {
                let first = segments.first()?;
                (base.is_empty()).then(|| reexported.get(*first).cloned())?
            });
            if let Some(m) = found.filter(|m| *m != s.module && !m.is_empty()) {
                uses.insert(m);
            }
        };
        for segments in paths_after(&code, "crate::") {
            add("", &segments);
        }
        for segments in paths_after(&code, "super::") {
            add(parent(&s.module), &segments);
        }
        for segments in paths_after(&code, "self::") {
            add(&s.module, &segments);
        }
        // Paths that start with a child module's name, e.g. `scan::decode`.
        for child in modules.iter().filter(|m| parent(m) == s.module) {
            let name = child.rsplit("::").next().unwrap_or(child);
            for segments in paths_after(&code, &format!("{name}::")) {
                let mut full = vec![name];
                full.extend(segments);
                add(&s.module, &full);
            }
        }
        for (name, paths) in &macro_uses {
            if code.contains(&format!("{name}! {{")) || code.contains(&format!("{name}!(")) {
                for segments in paths {
                    add("", segments);
                }
            }
        }
        out.insert(s.module.clone(), uses);
    }
    out
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut done, &mut Vec::new()))
}

#[test]
fn modules_use_each_other_one_way() {
    let graph = graph(&sources());
    for (m, uses) in &graph {
        let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("{m} -> {}", uses.join(", "));
    }
    assert!(graph.contains_key("response::scan::body"), "{graph:?}");
    assert!(graph["response::scan::body"].contains("response::scan::lexer"));
    assert!(
        graph["record"].contains("field"),
        "the table's macro uses field"
    );
    if let Some(cycle) = cycle(&graph) {
        panic!("modules that use each other: {}", cycle.join(" -> "));
    }
}

#[test]
fn files_stay_short_unless_they_say_why() {
    for s in sources() {
        let lines = s.text.lines().count();
        let head: Vec<&str> = s.text.lines().take(12).collect();
        assert!(
            lines <= MAX_LINES || head.iter().any(|l| l.contains(ONE_PIECE)),
            "src/{} has {lines} lines: split it, or say at its top why it is one \
             piece (`{ONE_PIECE} ...`)",
            s.path
        );
    }
}

#[test]
fn a_cycle_is_found() {
    let g = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(cycle(&g(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(
        cycle(&g(&[("a", "b"), ("b", "c"), ("c", "b")])),
        Some(vec!["b".into(), "c".into(), "b".into()])
    );
}
