//! `cargo xtask test-env` makes the tests' Python environment inside the
//! project: it works where pip refuses every install outside a virtual
//! environment, writes nothing to the home directory, holds exactly the pinned
//! packages, and is reused when up to date.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().expect("workspace root").to_path_buf()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The interpreter behind `python3` (a version manager's shim may need the
/// real home directory, which the test replaces).
fn base_python() -> String {
    if let Some(p) = std::env::var("CDR_TEST_BASE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return p;
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn xtask_test_env(venv: &Path, home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["test-env", "--venv"])
        .arg(venv)
        // pip refuses any install outside a virtual environment.
        .env("PIP_REQUIRE_VIRTUALENV", "true")
        // Anything written to the home directory would land here.
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("PIP_CACHE_DIR")
        .env("CDR_TEST_BASE_PYTHON", base_python())
        .output()
        .expect("xtask runs")
}

/// `name==version` lines of a requirements or freeze listing, names
/// normalised as pip does, extras dropped.
fn pins(listing: &str) -> BTreeSet<String> {
    listing
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, version) = l.split_once("==").expect("pinned");
            let name = name.split('[').next().unwrap_or(name);
            let name: String = name
                .chars()
                .map(|c| match c {
                    '_' | '.' => '-',
                    c => c.to_ascii_lowercase(),
                })
                .collect();
            format!("{name}=={version}")
        })
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn the_environment_is_made_inside_the_project_with_exactly_the_pins() {
    let dir = root()
        .join("target")
        .join("xtask-tests")
        .join(format!("test-env-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let venv = dir.join("venv");

    let made = xtask_test_env(&venv, &home);
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(
        text(&made.stderr).contains("made"),
        "{}",
        text(&made.stderr)
    );
    let python = venv.join("bin").join("python");
    assert_eq!(text(&made.stdout).trim(), python.to_string_lossy());

    // The packages come from the environment, not from any global install.
    let probe = Command::new(&python)
        .args([
            "-c",
            "import sys, moto, duckdb, polars, yaml, flask_cors\n\
             print(moto.__version__)\n\
             print(sys.prefix)\n\
             print(moto.__file__)",
        ])
        .output()
        .expect("python runs");
    assert!(probe.status.success(), "{}", text(&probe.stderr));
    let probe = text(&probe.stdout);
    let lines: Vec<&str> = probe.lines().collect();
    assert_eq!(lines[0], "5.2.5", "{probe}");
    assert_eq!(Path::new(lines[1]), venv, "{probe}");
    assert!(Path::new(lines[2]).starts_with(&venv), "{probe}");

    // Exactly the pinned packages: nothing unpinned came in as a dependency.
    let freeze = Command::new(&python)
        .args(["-m", "pip", "freeze", "--disable-pip-version-check"])
        .output()
        .expect("pip freeze");
    assert!(freeze.status.success(), "{}", text(&freeze.stderr));
    let requirements = std::fs::read_to_string(root().join("xtask/test-env/requirements.txt"))
        .expect("requirements");
    assert_eq!(pins(&text(&freeze.stdout)), pins(&requirements));

    // Up to date: reused as it is.
    let again = xtask_test_env(&venv, &home);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("up to date"),
        "{}",
        text(&again.stderr)
    );

    assert_eq!(files_under(&home), Vec::<PathBuf>::new(), "written to HOME");
    let _ = std::fs::remove_dir_all(&dir);
}
