//! `cargo xtask <task>`: the project's runner. `main` only dispatches; each task
//! is one function.

mod bench;
mod demo;
mod deps;
mod fuzz;
mod testenv;
mod tidy;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const HELP: &str = "\
cargo xtask <task> [args]

tasks:
  test [ARGS] make the tests' Python environment (target/test-env: the moto S3
              server, DuckDB, Polars; nothing outside target/) and run every
              test of the workspace with it: the README's test command
  test-env [--venv DIR]
              only make (or refresh) that environment and print its python
  ci          what CI runs: cargo fmt --check, clippy with -D warnings, then `test`
  deps        check the architecture's dependency rules (also a test)
  tidy [CRATE...]
              check that a crate's modules use each other one way only and its
              files stay short (also a test); prints each module graph
  sim [ARGS]  run the cdr-sim simulator binary (see `cargo xtask sim --help`)
  man         write the man pages of cdr-sink and its commands to target/man/
  demo        archive one simulated day of every CDR type to ./demo-out
  bench [--quick] [--out PATH]
              measure the archiver end to end (records/s, CPU, peak RSS), its
              scaling under latency, the simulator alone and the stage benchmarks;
              a table on stdout and JSON in target/bench/bench.json
  fuzz TARGET [--time SECONDS] | --list
              build one fuzz target (libFuzzer, stable toolchain, under
              target/fuzz) and run it from its committed corpus
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("test-env") => test_env(&args[1..]),
        Some("ci") => ci(),
        Some("deps") => check_deps(),
        Some("tidy") => tidy::run(&args[1..]),
        Some("sim") => cargo(
            &[
                &["run", "--quiet", "--release", "-p", "cdr-sim", "--"],
                &strs(&args[1..])[..],
            ]
            .concat(),
        ),
        Some("man") => man(),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn cargo(args: &[&str]) -> Result<()> {
    cargo_with(args, &[])
}

/// Runs cargo with `args` and extra environment variables.
fn cargo_with(args: &[&str], env: &[(&str, &std::path::Path)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    let layout = testenv::Layout::workspace();
    testenv::ensure(&layout)?;
    // cdr-testkit starts moto, and the query-doc test runs Python, from here.
    let python = layout.python();
    cargo_with(
        &[&["test", "--workspace"], &strs(extra)[..]].concat(),
        &[("CDR_TEST_PYTHON", &python)],
    )
}

fn test_env(args: &[String]) -> Result<()> {
    let layout = match strs(args).as_slice() {
        [] => testenv::Layout::workspace(),
        ["--venv", dir] => {
            testenv::Layout::with_venv(&testenv::workspace_root(), std::path::absolute(dir)?)
        }
        _ => bail!("usage: cargo xtask test-env [--venv DIR]"),
    };
    let outcome = testenv::ensure(&layout)?;
    eprintln!(
        "xtask: test environment {}",
        match outcome {
            testenv::Outcome::Reused => "up to date",
            testenv::Outcome::Created => "made",
        }
    );
    println!("{}", layout.python().display());
    Ok(())
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    check_deps()?;
    tidy::run(&[])?;
    test(&[])
}

fn check_deps() -> Result<()> {
    let v = deps::workspace_violations(&deps::metadata()?)?;
    if v.is_empty() {
        println!("dependency rules hold");
        Ok(())
    } else {
        bail!("dependency rules broken:\n{}", v.join("\n"))
    }
}

/// `cargo xtask man`: one page per command, rendered by the binary itself
/// (`cdr-sink manpage`) so that the pages say exactly what `--help` says.
fn man() -> Result<()> {
    cargo(&["build", "--quiet", "-p", "cdr-sink"])?;
    let meta = deps::metadata()?;
    let target = std::path::PathBuf::from(
        meta["target_directory"]
            .as_str()
            .context("cargo metadata names no target directory")?,
    );
    let bin = target.join("debug").join("cdr-sink");
    let page = |args: &[&str]| -> Result<Vec<u8>> {
        let out = Command::new(&bin)
            .arg("manpage")
            .args(args)
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !out.status.success() {
            bail!(
                "cdr-sink manpage {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    };
    let dir = target.join("man");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = vec![dir.join("cdr-sink.1")];
    std::fs::write(&written[0], page(&[])?)?;
    let list = String::from_utf8(page(&["--list"])?)?;
    for name in list.lines().filter(|l| !l.trim().is_empty()) {
        let path = dir.join(format!("cdr-sink-{name}.1"));
        std::fs::write(&path, page(&[name])?)?;
        written.push(path);
    }
    for p in &written {
        println!("{}", p.display());
    }
    Ok(())
}
