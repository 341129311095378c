//! The tests' Python environment: a virtual environment under `target/`, made
//! from the pinned `xtask/test-env/requirements.txt`, so that `cargo xtask
//! test` installs nothing outside the project.
//!
//! - `target/test-env/`: the environment (moto's S3 server, DuckDB, Polars,
//!   PyYAML). Reused while its stamp (`.cdr-test-env`: the requirements' SHA-256
//!   and the Python version) matches; made anew when either changes.
//! - `target/test-env-wheels/`: the wheels, downloaded once from PyPI and kept,
//!   so that making the environment again needs no network.
//! - `target/pip-cache/`: pip's own cache, instead of the one in the home directory.
//!
//! The environment is made by `python3 -m venv` (or `CDR_TEST_BASE_PYTHON`),
//! and every pip run is the environment's own pip with `--require-virtualenv`:
//! pip refuses to install anywhere else.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// The stamp file inside the environment.
const STAMP: &str = ".cdr-test-env";

/// Where the environment and its inputs are.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The virtual environment.
    pub venv: PathBuf,
    /// The pinned requirements it is made from.
    pub requirements: PathBuf,
    /// Downloaded wheels, kept between rebuilds.
    pub wheels: PathBuf,
    /// pip's cache.
    pub pip_cache: PathBuf,
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The environment was up to date.
    Reused,
    /// The environment was made (anew).
    Created,
}

impl Layout {
    /// The workspace's environment, `<root>/target/test-env` (also where
    /// cdr-testkit looks for it when `CDR_TEST_PYTHON` is not set).
    pub fn workspace() -> Layout {
        let root = workspace_root();
        Layout::with_venv(&root, root.join("target").join("test-env"))
    }

    /// An environment at `venv`, made from the workspace's requirements and
    /// sharing its wheels and pip cache.
    pub fn with_venv(root: &Path, venv: PathBuf) -> Layout {
        Layout {
            venv,
            requirements: root.join("xtask").join("test-env").join("requirements.txt"),
            wheels: root.join("target").join("test-env-wheels"),
            pip_cache: root.join("target").join("pip-cache"),
        }
    }

    /// The environment's Python.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }
}

pub fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Makes the environment unless it is up to date; returns what it did.
pub fn ensure(layout: &Layout) -> Result<Outcome> {
    let requirements = std::fs::read(&layout.requirements)
        .with_context(|| format!("reading {}", layout.requirements.display()))?;
    let base = base_python();
    let version = python_version(&base)?;
    let want = stamp(&requirements, &version);
    let have = std::fs::read_to_string(layout.venv.join(STAMP)).ok();
    if have.as_deref() == Some(want.as_str()) && layout.python().is_file() {
        return Ok(Outcome::Reused);
    }

    eprintln!(
        "xtask: making the test environment {} from {}",
        layout.venv.display(),
        layout.requirements.display()
    );
    if layout.venv.exists() {
        std::fs::remove_dir_all(&layout.venv)
            .with_context(|| format!("removing the old {}", layout.venv.display()))?;
    }
    let made = Command::new(&base)
        .args([
            OsStr::new("-m"),
            OsStr::new("venv"),
            layout.venv.as_os_str(),
        ])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} -m venv", base.to_string_lossy()))?;
    if !made.status.success() {
        bail!(
            "{} -m venv failed ({}): install Python's venv module \
             (Debian/Ubuntu: apt-get install python3-venv)\n{}",
            base.to_string_lossy(),
            made.status,
            tail(&made)
        );
    }
    install(layout)?;
    std::fs::write(layout.venv.join(STAMP), want)
        .with_context(|| format!("writing {}", layout.venv.join(STAMP).display()))?;
    Ok(Outcome::Created)
}

/// Installs the requirements from the kept wheels, downloading them first
/// when some are missing.
fn install(layout: &Layout) -> Result<()> {
    if run_pip(layout, "install", &["--no-index", "--find-links"]).is_ok() {
        return Ok(());
    }
    eprintln!("xtask: downloading the test environment's wheels from PyPI");
    std::fs::create_dir_all(&layout.wheels)
        .with_context(|| format!("creating {}", layout.wheels.display()))?;
    run_pip(layout, "download", &["--dest"])?;
    run_pip(layout, "install", &["--no-index", "--find-links"])
}

/// `pip SUBCOMMAND ARGS <wheel directory> -r <requirements>`, an error with
/// pip's last lines when it fails.
fn run_pip(layout: &Layout, subcommand: &str, args: &[&str]) -> Result<()> {
    let out = pip(layout, subcommand)
        .args(args)
        .arg(&layout.wheels)
        .arg("-r")
        .arg(&layout.requirements)
        .output()
        .with_context(|| format!("running pip {subcommand}"))?;
    if !out.status.success() {
        bail!(
            "pip {subcommand} of {} failed ({}):\n{}",
            layout.requirements.display(),
            out.status,
            tail(&out)
        );
    }
    Ok(())
}

/// The environment's pip running `subcommand`: wheels only (nothing is
/// compiled), the cache under `target/`, never outside the environment.
fn pip(layout: &Layout, subcommand: &str) -> Command {
    let mut command = Command::new(layout.python());
    command
        .args(["-m", "pip", subcommand])
        .args([
            "--require-virtualenv",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--only-binary=:all:",
            "--cache-dir",
        ])
        .arg(&layout.pip_cache)
        // These would send the packages somewhere other than the environment.
        .env_remove("PIP_USER")
        .env_remove("PIP_TARGET")
        .env_remove("PIP_PREFIX")
        .env_remove("PIP_ROOT")
        .stdin(Stdio::null());
    command
}

/// The Python that makes the environment: `CDR_TEST_BASE_PYTHON`, else `python3`.
fn base_python() -> std::ffi::OsString {
    std::env::var_os("CDR_TEST_BASE_PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

fn python_version(python: &OsStr) -> Result<String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.version)"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "running {}: install Python 3 (with its venv module), or set \
                 CDR_TEST_BASE_PYTHON to one",
                python.to_string_lossy()
            )
        })?;
    if !out.status.success() {
        bail!("{} does not run:\n{}", python.to_string_lossy(), tail(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// What the environment was made from: the requirements' hash and the Python
/// version, so that a change to either makes it anew.
pub fn stamp(requirements: &[u8], python_version: &str) -> String {
    let digest: [u8; 32] = Sha256::digest(requirements).into();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("requirements-sha256 {hex}\npython {python_version}\n")
}

/// The last lines of a failed command's output.
fn tail(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_changes_with_the_requirements_and_the_python() {
        let a = stamp(b"moto[s3]==5.2.5\n", "3.11.7");
        assert_eq!(a, stamp(b"moto[s3]==5.2.5\n", "3.11.7"));
        assert_ne!(a, stamp(b"moto[s3]==5.2.6\n", "3.11.7"));
        assert_ne!(a, stamp(b"moto[s3]==5.2.5\n", "3.12.1"));
        assert!(a.starts_with("requirements-sha256 "), "{a}");
        assert_eq!(a.lines().next().map(str::len), Some(20 + 64));
    }

    #[test]
    fn every_requirement_is_pinned_exactly() {
        let layout = Layout::workspace();
        let text = std::fs::read_to_string(&layout.requirements).expect("requirements");
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(lines.len() > 5, "{lines:?}");
        for line in &lines {
            let (name, version) = line.split_once("==").unwrap_or_else(|| {
                panic!("`{line}` is not pinned with ==");
            });
            assert!(
                !name.is_empty()
                    && !version.is_empty()
                    && version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.'),
                "`{line}` is not an exact version"
            );
        }
        for needed in ["moto[s3]==5.2.5", "duckdb==", "polars==", "PyYAML=="] {
            assert!(
                lines.iter().any(|l| l.starts_with(needed)),
                "{needed} missing"
            );
        }
    }
}
