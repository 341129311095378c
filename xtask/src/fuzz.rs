//! `cargo xtask fuzz`: builds one fuzz target of `fuzz/` (libFuzzer, through
//! the `libfuzzer-sys` crate pinned in `fuzz/Cargo.toml`) on the pinned stable
//! toolchain and runs it. Everything it builds or writes stays under
//! `target/fuzz/`: the engine is compiled from the crate's sources like any
//! dependency, so there is nothing to install and no nightly compiler.
//!
//! Stable rustc has no `-Zsanitizer`, so the targets run without
//! AddressSanitizer: coverage comes from LLVM's SanitizerCoverage pass, which
//! `-Cpasses` and `-Cllvm-args` reach on stable, and a crash is a panic (the
//! code under test is safe Rust) or a time-out.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::testenv::workspace_root;

/// The targets (`fuzz/fuzz_targets/<name>.rs`, checks in `crates/cdr-fuzz`)
/// and the longest input each is given.
const TARGETS: &[(&str, usize, &str)] = &[
    ("page", 8192, "the page decoder: scanner and serde agree"),
    ("cursor", 8192, "the nextCursor peek agrees with the page"),
    (
        "csv_lines",
        4096,
        "the export row counter, in any pieces, agrees with the csv crate",
    ),
    ("object_key", 512, "ObjectKey validation"),
    ("s3_url", 512, "the s3:// URL parser"),
    (
        "window_label",
        256,
        "the window label parser, and labels read back",
    ),
];

const USAGE: &str = "usage: cargo xtask fuzz --list
       cargo xtask fuzz TARGET [--time SECONDS] [-- LIBFUZZER-ARGS]
       cargo xtask fuzz TARGET --minimize CRASH-FILE";

pub fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ours, engine) = match args.iter().position(|a| *a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    match ours {
        ["--list"] => {
            for (name, _, what) in TARGETS {
                println!("{name:<14}{what}");
            }
            Ok(())
        }
        [target] => fuzz(target, None, engine),
        [target, "--time", seconds] => {
            let seconds: u64 = seconds
                .parse()
                .with_context(|| format!("--time {seconds}: a whole number of seconds"))?;
            fuzz(target, Some(seconds), engine)
        }
        [target, "--minimize", crash] => minimize(target, Path::new(crash)),
        _ => bail!("{USAGE}"),
    }
}

fn max_len(target: &str) -> Result<usize> {
    match TARGETS.iter().find(|(name, _, _)| *name == target) {
        Some((_, len, _)) => Ok(*len),
        None => bail!("no fuzz target `{target}` (`cargo xtask fuzz --list` lists them)"),
    }
}

fn fuzz(target: &str, seconds: Option<u64>, engine: &[&str]) -> Result<()> {
    let max_len = max_len(target)?;
    let root = workspace_root();
    let binary = build(&root, target)?;
    let work = root.join("target/fuzz/corpus").join(target);
    let artifacts = root.join("target/fuzz/artifacts").join(target);
    for dir in [&work, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut command = Command::new(&binary);
    command
        .arg(format!("-max_len={max_len}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=1024")
        .arg("-print_final_stats=1");
    if let Some(seconds) = seconds {
        command.arg(format!("-max_total_time={seconds}"));
    }
    command.args(engine);
    // New inputs go to the first folder; the committed ones are only read.
    command.arg(&work);
    let fuzz_dir = root.join("crates/cdr-fuzz");
    for committed in ["corpus", "regressions"] {
        let dir = fuzz_dir.join(committed).join(target);
        if dir.is_dir() {
            command.arg(dir);
        }
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!(
            "fuzz target `{target}` failed ({status}): the input is in {}; \
             `cargo xtask fuzz {target} --minimize FILE` shrinks it",
            artifacts.display()
        );
    }
    Ok(())
}

fn minimize(target: &str, crash: &Path) -> Result<()> {
    max_len(target)?;
    let root = workspace_root();
    let binary = build(&root, target)?;
    let out = root
        .join("target/fuzz/artifacts")
        .join(target)
        .join("minimized");
    let status = Command::new(&binary)
        .arg("-minimize_crash=1")
        .arg("-max_total_time=60")
        .arg(format!("-exact_artifact_path={}", out.display()))
        .arg(crash)
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    // libFuzzer ends a minimisation with a non-zero status when the input no
    // longer crashes; the file written is what counts.
    if !out.is_file() {
        bail!("no smaller crashing input ({status})");
    }
    println!("minimized input: {}", out.display());
    Ok(())
}

/// Builds `target` with coverage instrumentation; returns the binary.
fn build(root: &Path, target: &str) -> Result<PathBuf> {
    let host = host_triple()?;
    let target_dir = root.join("target/fuzz");
    // The host triple is named so that these flags reach the fuzzed code but
    // not build scripts and proc macros, which libFuzzer is not linked into.
    let flags = [
        "--cfg",
        "fuzzing",
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
    ];
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "--manifest-path",
        "fuzz/Cargo.toml",
        "--target",
        &host,
        "--bin",
        target,
    ];
    if target == "s3_url" {
        args.extend(["--features", "s3"]);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(&args)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env("CARGO_INCREMENTAL", "0")
        .status()
        .context("running cargo build for the fuzz target")?;
    if !status.success() {
        bail!("building fuzz target `{target}` failed ({status})");
    }
    Ok(target_dir.join(&host).join("release").join(target))
}

fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV names no host")
}
