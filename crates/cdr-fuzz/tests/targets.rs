//! The targets are named alike in the three places that list them: the
//! checks here, the fuzz binaries (`fuzz/Cargo.toml`, `fuzz/fuzz_targets/`)
//! and `cargo xtask fuzz --list` (`xtask/src/fuzz.rs`).

use std::path::Path;

#[test]
fn every_target_is_built_and_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("a readable file");
    let manifest = read("fuzz/Cargo.toml");
    let xtask = read("xtask/src/fuzz.rs");
    let mut names: Vec<&str> = cdr_fuzz::TARGETS.iter().map(|t| t.name).collect();
    if cfg!(not(feature = "s3")) {
        names.push("s3_url");
    }
    for name in &names {
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "{name} in fuzz/Cargo.toml"
        );
        let source = read(&format!("fuzz/fuzz_targets/{name}.rs"));
        assert!(
            source.contains(&format!("cdr_fuzz::{name}::check(data)")),
            "{name}.rs"
        );
        assert!(
            xtask.contains(&format!("\"{name}\",")),
            "{name} in xtask/src/fuzz.rs"
        );
    }
    assert_eq!(
        manifest.matches("[[bin]]").count(),
        names.len(),
        "a fuzz binary without a check"
    );
}
