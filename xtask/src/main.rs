//! `cargo xtask <task>`: the project's runner. `main` only dispatches; each task
//! is one function.

mod bench;
mod demo;
mod deps;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const HELP: &str = "\
cargo xtask <task> [args]

tasks:
  test        install what the tests need (the moto S3 server from PyPI) and run
              every test of the workspace: the README's test command
  ci          what CI runs: cargo fmt --check, clippy with -D warnings, then `test`
  deps        check the architecture's dependency rules (also a test)
  sim [ARGS]  run the cdr-sim simulator binary (see `cargo xtask sim --help`)
  demo        archive one simulated day of every CDR type to ./demo-out
  bench [--quick] [--out PATH]
              measure the archiver end to end (records/s, CPU, peak RSS), its
              scaling under latency, the simulator alone and the stage benchmarks;
              a table on stdout and JSON in target/bench/bench.json
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("ci") => ci(),
        Some("deps") => check_deps(),
        Some("sim") => cargo(
            &[
                &["run", "--quiet", "--release", "-p", "cdr-sim", "--"],
                &strs(&args[1..])[..],
            ]
            .concat(),
        ),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
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
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The S3-compatible server the tests start: moto's, from PyPI. 5.2.1 answers
/// CompleteMultipartUpload with an XML root the Rust SDK rejects.
const MOTO: &str = "moto[server]>=5.2.5";

fn ensure_moto() -> Result<()> {
    // Present and recent enough (older versions answer multipart uploads wrongly).
    let check = "import sys, moto.server, flask_cors; from importlib.metadata import version; \
                 v = tuple(int(x) for x in version('moto').split('.')[:3] if x.isdigit()); \
                 sys.exit(0 if v >= (5, 2, 5) else 1)";
    let have = Command::new("python3")
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    eprintln!("xtask: installing {MOTO} from PyPI for the S3 tests");
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO,
        ])
        .status()
        .context("running pip (is python3 with pip installed?)")?;
    if !status.success() {
        bail!("pip install '{MOTO}' failed ({status})");
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    ensure_moto()?;
    cargo(&[&["test", "--workspace"], &strs(extra)[..]].concat())
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
    test(&[])
}

fn check_deps() -> Result<()> {
    let v = deps::violations(&deps::metadata()?)?;
    if v.is_empty() {
        println!("dependency rules hold");
        Ok(())
    } else {
        bail!("dependency rules broken:\n{}", v.join("\n"))
    }
}
