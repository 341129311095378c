//! One archiver run, measured: `cdr-sink archive` against a running
//! simulator, its wall and CPU time and peak RSS from `wait4`, and the
//! records its summary counts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::process::{Bins, cpu_seconds, wait4};
use super::sim::{Sim, TOKEN};

/// One archiver run's measurements.
pub(super) struct RunResult {
    /// Records written, from the archiver's summary.
    pub records: u64,
    pub wall_s: f64,
    /// The archiver's user plus system CPU time.
    pub cpu_s: f64,
    pub max_rss_kb: u64,
    /// The simulator's CPU time during the run.
    pub sim_cpu_s: f64,
    /// The archiver's whole `--summary-json` document.
    pub summary: Value,
}

/// `cdr-sink archive ARGS --out OUT` against `sim`, quiet, with its summary
/// written to `summary`, the simulator's token as credentials and stderr
/// piped (for the error of a failed run).
pub(super) fn command(
    bins: &Bins,
    sim: &Sim,
    args: &[String],
    out: &Path,
    summary: &Path,
) -> Command {
    let mut command = Command::new(&bins.sink);
    command
        .arg("archive")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--api-url", &sim.url, "--quiet", "--summary-json"])
        .arg(summary)
        .env("TSG_TOKEN", TOKEN)
        .env_remove("TSG_EMAIL")
        .env_remove("TSG_PASSWORD")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Runs `cdr-sink archive` with `args` and measures it with `wait4`.
pub(super) fn archive(bins: &Bins, sim: &Sim, dir: &Path, args: &[String]) -> Result<RunResult> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let summary = dir.join("summary.json");
    let out = dir.join("out");
    let sim_before = sim.cpu_seconds();
    let begun = Instant::now();
    let child = command(bins, sim, args, &out, &summary)
        .spawn()
        .context("starting cdr-sink")?;
    let (status, usage, stderr) = wait4(child)?;
    let wall_s = begun.elapsed().as_secs_f64();
    let sim_cpu_s = sim.cpu_seconds() - sim_before;
    if status != 0 {
        bail!(
            "cdr-sink archive {} failed (status {status}): {stderr}",
            args.join(" ")
        );
    }
    let summary: Value = serde_json::from_slice(
        &std::fs::read(&summary).context("reading the archiver's summary")?,
    )?;
    let records = summary["types"].as_object().map_or(0, |types| {
        types.values().filter_map(|t| t["records"].as_u64()).sum()
    });
    let result = RunResult {
        records,
        wall_s,
        cpu_s: cpu_seconds(&usage),
        max_rss_kb: usage.ru_maxrss as u64,
        sim_cpu_s,
        summary,
    };
    std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    Ok(result)
}
