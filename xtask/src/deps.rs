//! The architecture's dependency rules, checked against `cargo metadata`.
//!
//! Each rule names a workspace crate and the crates that must not appear in its
//! normal (non-dev, non-build) dependency tree. See `docs/architecture.md`,
//! whose table the tests hold equal to [`RULES`]; they also check that every
//! ruled crate is a workspace member and that every rule is reported when
//! broken.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// `(crate, forbidden name or prefix ending in '*', why)`.
pub const RULES: &[(&str, &[&str], &str)] = &[
    (
        "cdr-core",
        &[
            "tokio",
            "mio",
            "reqwest",
            "hyper",
            "axum",
            "async-graphql",
            "arrow-*",
            "parquet",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "csv",
        ],
        "cdr-core is pure: no runtime, no HTTP, no formats, no stores",
    ),
    (
        "cdr-sink-api",
        &[
            "tokio",
            "mio",
            "reqwest",
            "hyper",
            "axum",
            "async-graphql",
            "arrow-*",
            "parquet",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "cdr-transport",
            "cdr-sim",
        ],
        "the sink traits do no I/O: no runtime, no HTTP, no format library, no cloud SDK",
    ),
    (
        "cdr-sink-parquet",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "axum",
            "async-graphql",
            "cdr-transport",
            "cdr-sim",
        ],
        "a format knows nothing of I/O, HTTP or GraphQL transport",
    ),
    (
        "cdr-sink-csv",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "axum",
            "async-graphql",
            "cdr-transport",
            "cdr-sim",
            "arrow-*",
            "parquet",
        ],
        "a format knows nothing of I/O, HTTP or GraphQL transport",
    ),
    (
        "cdr-sink-local",
        &[
            "reqwest",
            "hyper",
            "arrow-*",
            "parquet",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "axum",
            "async-graphql",
            "cdr-transport",
            "cdr-sim",
        ],
        "a destination knows nothing of formats or the API",
    ),
    (
        "cdr-sink-s3",
        &[
            "reqwest",
            "arrow-*",
            "parquet",
            "axum",
            "async-graphql",
            "cdr-transport",
            "cdr-sim",
        ],
        "a destination knows nothing of formats or the API",
    ),
    (
        "cdr-sink-delta",
        &[
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "axum",
            "async-graphql",
            "cdr-transport",
            "cdr-sim",
        ],
        "a table reaches storage only through a destination: no cloud SDK, no API",
    ),
    (
        "cdr-transport",
        &[
            "arrow-*",
            "parquet",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "csv",
            "axum",
            "async-graphql",
            "cdr-sink-*",
            "cdr-sim",
        ],
        "the transport knows nothing of files, stores or the simulator",
    ),
    (
        "cdr-sim",
        &[
            "cdr-transport",
            "reqwest",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "arrow-*",
            "parquet",
            "cdr-sink-*",
        ],
        "the simulator shares no client code, so a client bug cannot hide itself",
    ),
];

/// Crates that may name `reqwest` as a direct normal dependency: only the
/// transport speaks HTTP as a client.
pub const HTTP_CLIENTS: &[&str] = &["cdr-transport"];

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Runs `cargo metadata` for this workspace.
pub fn metadata() -> Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path", root])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading cargo metadata")
}

/// The normal dependency graph of each workspace member as that member
/// alone resolves it (`cargo tree -p MEMBER`), each in the shape of `cargo
/// metadata` with that member as the only workspace member. `cargo metadata`
/// itself unifies features over the whole workspace, so a feature one crate
/// turns on in a shared dependency (the Delta kernel's `parquet/async`) would
/// show as a dependency of every other crate that uses it; an embedder of one
/// crate gets only that crate's own resolution, which is what the rules are
/// about.
pub fn member_graphs(meta: &Value) -> Result<Vec<Value>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let packages = meta["packages"].as_array().context("metadata.packages")?;
    let members = meta["workspace_members"]
        .as_array()
        .context("metadata.workspace_members")?;
    let mut out = Vec::new();
    for id in members.iter().filter_map(Value::as_str) {
        let name = packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .context("a workspace member without a package")?;
        let tree = std::process::Command::new(&cargo)
            .args(["tree", "--manifest-path", root, "-p", name, "-e", "normal"])
            .args(["--prefix", "depth", "--format", "{p}"])
            .output()
            .context("running cargo tree")?;
        if !tree.status.success() {
            bail!(
                "cargo tree -p {name} failed: {}",
                String::from_utf8_lossy(&tree.stderr)
            );
        }
        out.push(graph_from_tree(&String::from_utf8_lossy(&tree.stdout))?);
    }
    Ok(out)
}

/// `cargo tree --prefix depth --format {p}` output (one package per line,
/// its depth first) as metadata: packages named by their first word, normal
/// edges from each line to the last line one level up, the root as the only
/// workspace member.
fn graph_from_tree(text: &str) -> Result<Value> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let digits = line.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        let depth: usize = line[..digits]
            .parse()
            .context("a cargo tree line without its depth")?;
        let id = line[digits..].trim_end_matches(" (*)").trim().to_string();
        let name = id.split(' ').next().unwrap_or_default().to_string();
        names.insert(id.clone(), name);
        edges.entry(id.clone()).or_default();
        stack.truncate(depth);
        if let Some(parent) = stack.last() {
            edges.entry(parent.clone()).or_default().insert(id.clone());
        }
        stack.push(id);
    }
    let root = text
        .lines()
        .next()
        .map(|l| {
            l.trim_start_matches(|c: char| c.is_ascii_digit())
                .trim()
                .to_string()
        })
        .context("empty cargo tree output")?;
    Ok(serde_json::json!({
        "packages": names.iter().map(|(id, name)| serde_json::json!({"id": id, "name": name})).collect::<Vec<_>>(),
        "resolve": {"nodes": edges.iter().map(|(id, deps)| serde_json::json!({
            "id": id,
            "deps": deps.iter().map(|d| serde_json::json!({"pkg": d, "dep_kinds": [{"kind": null}]})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()},
        "workspace_members": [root],
    }))
}

/// Every violation of the rules over each member's own graph
/// ([`member_graphs`]), one line each.
pub fn workspace_violations(meta: &Value) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for graph in member_graphs(meta)? {
        out.extend(violations(&graph)?);
    }
    Ok(out)
}

/// Every violation of [`RULES`] and [`HTTP_CLIENTS`] in `meta`, one line each.
pub fn violations(meta: &Value) -> Result<Vec<String>> {
    let packages = meta["packages"].as_array().context("metadata.packages")?;
    let names: HashMap<&str, &str> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .context("metadata.resolve.nodes")?;
    // Normal dependency edges only (dep_kinds with kind == null).
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in nodes {
        let id = node["id"].as_str().context("node id")?;
        let deps = node["deps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let normal = deps.iter().filter(|d| {
            d["dep_kinds"]
                .as_array()
                .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()))
        });
        edges.insert(id, normal.filter_map(|d| d["pkg"].as_str()).collect());
    }
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .context("metadata.workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::new();
    for &member in &members {
        let name = names.get(member).copied().unwrap_or("?");
        if let Some((_, forbidden, why)) = RULES.iter().find(|(n, _, _)| *n == name) {
            // Breadth-first over the normal dependency tree, remembering a path.
            let mut parent: HashMap<&str, &str> = HashMap::new();
            let mut queue = VecDeque::from([member]);
            let mut seen = BTreeSet::from([member]);
            while let Some(id) = queue.pop_front() {
                for &dep in edges.get(id).map(Vec::as_slice).unwrap_or(&[]) {
                    if !seen.insert(dep) {
                        continue;
                    }
                    parent.insert(dep, id);
                    queue.push_back(dep);
                    let dep_name = names.get(dep).copied().unwrap_or("?");
                    if forbidden.iter().any(|f| matches(f, dep_name)) {
                        let mut path = vec![dep_name];
                        let mut cur = id;
                        while cur != member {
                            path.push(names.get(cur).copied().unwrap_or("?"));
                            cur = parent.get(cur).copied().unwrap_or(member);
                        }
                        path.push(name);
                        path.reverse();
                        out.push(format!(
                            "{name} must not depend on {dep_name} ({why}): {}",
                            path.join(" -> ")
                        ));
                    }
                }
            }
        }
        if !HTTP_CLIENTS.contains(&name) {
            let direct = edges.get(member).map(Vec::as_slice).unwrap_or(&[]);
            if direct
                .iter()
                .any(|d| names.get(d).copied() == Some("reqwest"))
            {
                out.push(format!(
                    "{name} depends on reqwest directly: only cdr-transport speaks HTTP"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_keeps_its_dependency_rules() {
        let meta = metadata().unwrap();
        let v = workspace_violations(&meta).unwrap();
        assert!(v.is_empty(), "dependency rules broken:\n{}", v.join("\n"));
        // The rules are not vacuous: every crate they name is a member.
        let members: Vec<&str> = meta["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|id| {
                meta["packages"]
                    .as_array()?
                    .iter()
                    .find(|p| p["id"] == *id)?["name"]
                    .as_str()
            })
            .collect();
        for name in RULES
            .iter()
            .map(|(n, _, _)| *n)
            .chain(HTTP_CLIENTS.iter().copied())
        {
            assert!(
                members.contains(&name),
                "a rule names {name}, which is not a workspace member"
            );
        }
    }

    /// Metadata in which `krate` depends on `dep` (normal), and nothing else.
    fn one_edge(krate: &str, dep: &str) -> Value {
        json!({
            "packages": [{"id": "a", "name": krate}, {"id": "b", "name": dep}],
            "resolve": {"nodes": [
                {"id": "a", "deps": [{"pkg": "b", "dep_kinds": [{"kind": null}]}]},
                {"id": "b", "deps": []}
            ]},
            "workspace_members": ["a"]
        })
    }

    #[test]
    fn every_rule_is_checked() {
        for (krate, forbidden, _) in RULES {
            for pattern in *forbidden {
                let dep = pattern.replace('*', "something");
                let v = violations(&one_edge(krate, &dep)).unwrap();
                assert!(
                    v.iter()
                        .any(|l| l.starts_with(&format!("{krate} must not depend on {dep} "))),
                    "{krate} -> {dep} is not reported: {v:?}"
                );
            }
        }
        let v = violations(&one_edge("cdr-sink", "reqwest")).unwrap();
        assert_eq!(
            v,
            ["cdr-sink depends on reqwest directly: only cdr-transport speaks HTTP"]
        );
        assert!(
            violations(&one_edge("cdr-transport", "reqwest"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_architecture_document_states_exactly_these_rules() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/architecture.md"
        ))
        .unwrap();
        let table = doc
            .split("## Dependency rules")
            .nth(1)
            .expect("a dependency rules section")
            .lines()
            .filter(|l| l.starts_with("| cdr-"));
        let mut stated: Vec<(String, Vec<String>)> = Vec::new();
        for row in table {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let forbidden: Vec<String> = cells[2].split(", ").map(String::from).collect();
            for krate in cells[1].split(", ") {
                stated.push((krate.to_string(), forbidden.clone()));
            }
        }
        stated.sort();
        let mut ruled: Vec<(String, Vec<String>)> = RULES
            .iter()
            .map(|(k, f, _)| (k.to_string(), f.iter().map(|s| s.to_string()).collect()))
            .collect();
        ruled.sort();
        let sorted = |v: &[(String, Vec<String>)]| -> Vec<(String, Vec<String>)> {
            v.iter()
                .map(|(k, f)| {
                    let mut f = f.clone();
                    f.sort();
                    (k.clone(), f)
                })
                .collect()
        };
        assert_eq!(
            sorted(&stated),
            sorted(&ruled),
            "docs/architecture.md's dependency table and deps::RULES differ"
        );
    }

    /// A tiny metadata document: cdr-core -> chrono, plus whatever `extra` adds.
    fn fake(core_deps: &[(&str, Option<&str>)]) -> Value {
        let mut packages = vec![json!({"id": "core", "name": "cdr-core"})];
        let mut nodes = vec![];
        let mut core_edges = vec![];
        for (name, kind) in core_deps {
            packages.push(json!({"id": name, "name": name}));
            nodes.push(json!({"id": name, "deps": []}));
            core_edges.push(json!({"pkg": name, "dep_kinds": [{"kind": kind}]}));
        }
        nodes.push(json!({"id": "core", "deps": core_edges}));
        json!({"packages": packages, "resolve": {"nodes": nodes}, "workspace_members": ["core"]})
    }

    #[test]
    fn adding_tokio_to_cdr_core_is_a_violation() {
        assert!(violations(&fake(&[("chrono", None)])).unwrap().is_empty());
        let v = violations(&fake(&[("chrono", None), ("tokio", None)])).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("cdr-core must not depend on tokio"), "{v:?}");
        // As a dev-dependency it is fine: tests may use a runtime.
        assert!(
            violations(&fake(&[("tokio", Some("dev"))]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn transitive_violations_show_the_path() {
        let meta = json!({
            "packages": [
                {"id": "core", "name": "cdr-core"},
                {"id": "mid", "name": "some-helper"},
                {"id": "aws", "name": "aws-sdk-s3"}
            ],
            "resolve": {"nodes": [
                {"id": "core", "deps": [{"pkg": "mid", "dep_kinds": [{"kind": null}]}]},
                {"id": "mid", "deps": [{"pkg": "aws", "dep_kinds": [{"kind": null}]}]},
                {"id": "aws", "deps": []}
            ]},
            "workspace_members": ["core"]
        });
        let v = violations(&meta).unwrap();
        assert_eq!(
            v,
            [
                "cdr-core must not depend on aws-sdk-s3 (cdr-core is pure: no runtime, no HTTP, no formats, no stores): cdr-core -> some-helper -> aws-sdk-s3"
            ]
        );
    }

    #[test]
    fn a_cargo_tree_becomes_a_graph_with_paths() {
        let tree = "0cdr-core v0.1.0 (/w/crates/cdr-core)\n1some-helper v1.0.0\n2tokio v1.0.0\n1chrono v0.4.0\n2some-helper v1.0.0 (*)\n";
        let v = violations(&graph_from_tree(tree).unwrap()).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].ends_with("cdr-core -> some-helper -> tokio"), "{v:?}");
        let clean = "0cdr-core v0.1.0 (/w/crates/cdr-core)\n1chrono v0.4.0\n";
        assert!(
            violations(&graph_from_tree(clean).unwrap())
                .unwrap()
                .is_empty()
        );
    }
}
