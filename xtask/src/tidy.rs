//! Tidy checks on a crate's own source: its modules use each other one way
//! only (no cycle), so that each can be read knowing only those it uses; and
//! no file grows past [`MAX_LINES`] unless its first lines say it is one
//! piece on purpose ([`ONE_PIECE`]).
//!
//! The module graph is read from the text: every path that starts with
//! `crate::`, `super::`, `self::` or a child module's name, braces of a
//! `use` expanded, names the longest module prefix it has; an item the crate
//! root re-exports (`crate::Item`) names the module it comes from; a
//! macro's `$crate::` paths count for each module that invokes it. Test code
//! (files named `tests.rs` or under a `tests` folder, and everything from a
//! file's `#[cfg(test)]` on) is left out: a test module uses its parent by
//! design. A binary's `main.rs` beside a `lib.rs` is a crate of its own and
//! is only measured.
//!
//! `cargo xtask tidy [CRATE...]` checks every crate ([`checked`]) or those
//! named, and prints each graph; the test below checks every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The longest a source file may be, unless it says why it is one piece.
pub const MAX_LINES: usize = 600;
/// What the first lines of a longer file say.
pub const ONE_PIECE: &str = "One file on purpose:";
/// How many of a file's first lines may say it.
const HEAD_LINES: usize = 12;

/// The workspace's crates held to these rules: every crate under `crates/`,
/// and xtask. Read from the tree, so a new crate is held from its first day.
pub fn checked(root: &Path) -> Result<Vec<PathBuf>> {
    let crates = root.join("crates");
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(&crates).with_context(|| format!("reading {}", crates.display()))?
    {
        let dir = entry?.path();
        if dir.join("Cargo.toml").is_file() {
            out.push(dir);
        }
    }
    out.sort();
    out.push(root.join("xtask"));
    Ok(out)
}

/// A source file of the crate.
#[derive(Debug)]
pub struct Source {
    /// The module it defines, e.g. `response::scan::body`; empty for the root.
    pub module: String,
    /// Path inside `src/`, for messages.
    pub path: String,
    /// Whether it is test code as a whole.
    pub test: bool,
    /// Whether it is part of the module graph (not a second crate root).
    pub in_graph: bool,
    /// Its text.
    pub text: String,
}

/// The Rust files under `crate_dir/src`, sorted by module.
pub fn sources(crate_dir: &Path) -> Result<Vec<Source>> {
    let root = crate_dir.join("src");
    let has_lib = root.join("lib.rs").is_file();
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).context("a file under src")?;
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            // A binary beside a library is a crate of its own (so are `src/bin/*`).
            let second_root = (has_lib && parts == ["main"]) || parts[0] == "bin";
            if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") && !second_root {
                parts.clear();
            } else if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.push(Source {
                module: parts.join("::"),
                path: rel.display().to_string(),
                test: parts.iter().any(|p| p == "tests"),
                in_graph: !second_root,
                text: std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
            });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(out)
}

/// The code of a file without comments and without its test module (from a
/// `#[cfg(test)]` that precedes a `mod` on; one before another item only
/// leaves that attribute out).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            let next = lines.peek().map_or("", |l| l.trim_start());
            if next.starts_with("mod ") || next.starts_with("pub(crate) mod ") {
                break;
            }
            continue;
        }
        if !t.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The paths in `code` that start with `start` (`crate::`, `super::`, ...),
/// as their segments, with `use` braces expanded: `crate::a::{b::C, d}`
/// gives `[a, b, C]` and `[a, d]`.
fn paths_after(code: &str, start: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(start) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + start.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        tree(rest, Vec::new(), &mut out);
    }
    out
}

/// Reads one use tree at the start of `text` after the segments `prefix`.
fn tree(text: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut segments = prefix;
    let mut tail = text;
    loop {
        let tail_trimmed = tail.trim_start();
        if let Some(inner) = tail_trimmed.strip_prefix('{') {
            for item in top_level_items(inner) {
                let item = item.trim();
                if item == "self" {
                    out.push(segments.clone());
                } else if !item.is_empty() {
                    tree(item, segments.clone(), out);
                }
            }
            return;
        }
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if end == 0 {
            break;
        }
        segments.push(tail[..end].to_string());
        match tail[end..].strip_prefix("::") {
            Some(next) => tail = next,
            None => break,
        }
    }
    out.push(segments);
}

/// The comma-separated items of a brace group whose `{` is just before
/// `text`, up to its matching `}`.
fn top_level_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut from = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&text[from..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[from..]);
    items
}

/// The module a path names: its longest prefix that is a module, from `base`.
fn resolve(modules: &BTreeSet<String>, base: &str, segments: &[String]) -> Option<String> {
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
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // `pub use` and plain `use` alike: both make `crate::Item` a path.
    for path in paths_after(&code(root), "use ") {
        if let Some(module) = resolve(modules, "", &path)
            && let Some(name) = path.last().filter(|n| **n != module)
        {
            out.insert(name.clone(), module);
        }
    }
    out
}

/// Which modules each module uses (test code, the root and self-uses left out).
pub fn graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let sources: Vec<&Source> = sources.iter().filter(|s| s.in_graph).collect();
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let reexported = sources
        .iter()
        .find(|s| s.module.is_empty())
        .map(|root| reexports(&root.text, &modules))
        .unwrap_or_default();
    // A macro's `$crate::` paths are uses of the module that invokes it.
    let mut macro_uses: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for s in sources.iter().filter(|s| s.text.contains("macro_rules!")) {
        for after in s.text.split("macro_rules!").skip(1) {
            let after = after.trim_start();
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            macro_uses.push((after[..end].to_string(), paths_after(&s.text, "$crate::")));
        }
    }
    let mut out = BTreeMap::new();
    for s in sources.iter().filter(|s| !s.test && !s.module.is_empty()) {
        let code = code(&s.text).replace("$crate::", "$macro::");
        let mut uses = BTreeSet::new();
        let mut add = |base: &str, segments: &[String]| {
            let found = resolve(&modules, base, segments).or_else(|| {
                let first = segments.first()?;
                (base.is_empty()).then(|| reexported.get(first).cloned())?
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
                let mut full = vec![name.to_string()];
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
pub fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
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

/// Files past [`MAX_LINES`] that do not say why, one message each.
pub fn long_files(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter_map(|s| {
            let lines = s.text.lines().count();
            let says_why = s
                .text
                .lines()
                .take(HEAD_LINES)
                .any(|l| l.contains(ONE_PIECE));
            (lines > MAX_LINES && !says_why).then(|| {
                format!(
                    "src/{} has {lines} lines: split it, or say at its top why it is one \
                     piece (`{ONE_PIECE} ...`)",
                    s.path
                )
            })
        })
        .collect()
}

/// Everything wrong with the crate at `crate_dir`, one line each.
pub fn problems(crate_dir: &Path) -> Result<Vec<String>> {
    let sources = sources(crate_dir)?;
    let mut out = long_files(&sources);
    if let Some(cycle) = cycle(&graph(&sources)) {
        out.push(format!(
            "modules that use each other: {}",
            cycle.join(" -> ")
        ));
    }
    Ok(out)
}

/// `cargo xtask tidy [CRATE...]`: checks the crates (directories or names
/// under `crates/`), printing each module graph.
pub fn run(args: &[String]) -> Result<()> {
    let root = crate::testenv::workspace_root();
    let dirs: Vec<PathBuf> = if args.is_empty() {
        checked(&root)?
    } else {
        args.iter()
            .map(|a| {
                let by_name = root.join("crates").join(a);
                if by_name.is_dir() {
                    by_name
                } else {
                    root.join(a)
                }
            })
            .collect()
    };
    let mut broken = Vec::new();
    for dir in &dirs {
        println!("{}:", dir.display());
        for (m, uses) in graph(&sources(dir)?) {
            let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
            println!("  {m} -> {}", uses.join(", "));
        }
        broken.extend(
            problems(dir)?
                .into_iter()
                .map(|p| format!("{}: {p}", dir.display())),
        );
    }
    if broken.is_empty() {
        println!("tidy: modules acyclic, files short");
        Ok(())
    } else {
        bail!("tidy rules broken:\n{}", broken.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(module: &str, text: &str) -> Source {
        Source {
            module: module.into(),
            path: format!("{module}.rs"),
            test: false,
            in_graph: true,
            text: text.into(),
        }
    }

    #[test]
    fn the_checked_crates_are_tidy() {
        let root = crate::testenv::workspace_root();
        let mut broken = Vec::new();
        let mut edges = 0;
        let crates = checked(&root).unwrap();
        assert!(
            crates.len() > 5,
            "{crates:?}: the crates are not being found"
        );
        for dir in &crates {
            let c = dir.display();
            assert!(dir.join("src").is_dir(), "{c} is not a crate");
            let sources = sources(dir).unwrap();
            // Some crates' modules are independent; across all of them, a
            // graph without a single edge would mean it is not being read.
            edges += graph(&sources)
                .values()
                .map(|uses| uses.len())
                .sum::<usize>();
            broken.extend(
                problems(dir)
                    .unwrap()
                    .into_iter()
                    .map(|p| format!("{c}: {p}")),
            );
        }
        assert!(
            edges > 0,
            "no module uses another; the graph is not being read"
        );
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }

    #[test]
    fn use_braces_are_expanded() {
        let paths = paths_after(
            "use crate::{a::{B, c::D}, e, self};\nlet x = crate::f::g();",
            "crate::",
        );
        let paths: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
        assert_eq!(paths, ["a::B", "a::c::D", "e", "", "f::g"]);
    }

    #[test]
    fn a_cycle_is_found_through_grouped_imports_and_reexports() {
        let sources = [
            source("", "mod a;\nmod b;\nmod c;\npub use c::Thing;\n"),
            source("a", "use crate::{b, c::Other};\n"),
            source("b", "use crate::Thing;\n"),
            source(
                "c",
                "fn f() { super::a::g() }\n#[cfg(test)]\nmod tests { use crate::b; }\n",
            ),
        ];
        let g = graph(&sources);
        assert_eq!(g["a"], BTreeSet::from(["b".into(), "c".into()]));
        assert_eq!(g["b"], BTreeSet::from(["c".into()]));
        assert_eq!(
            cycle(&g),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let acyclic = graph(&sources[..3]);
        assert_eq!(cycle(&acyclic), None);
    }

    #[test]
    fn long_files_must_say_why() {
        let long = "x\n".repeat(MAX_LINES + 1);
        assert_eq!(long_files(&[source("a", &long)]).len(), 1);
        let why = format!("//! {ONE_PIECE} a table.\n{long}");
        assert!(long_files(&[source("a", &why)]).is_empty());
    }
}
