//! `--peers`: the reference Python client (`xtask/peer-env/peer.py`:
//! requests and pyarrow, one cursor chain, Parquet under an explicit schema)
//! beside `cdr-sink archive` with its defaults, against one simulator, the
//! two taking turns, 1 million records of SMS and of VOICE. The Python
//! environment is `target/peer-env`, made from the pinned
//! `xtask/peer-env/requirements.txt` like the test environment.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cdr_core::{CdrType, ColumnType, Selection, document};
use serde::Serialize;
use serde_json::{Value, json};

use super::archive::{RunResult, archive};
use super::end_to_end::{HOURS_PER_MILLION, median};
use super::options::Options;
use super::process::{Bins, cpu_seconds, wait4};
use super::sim::{E2E_RATE, LIMIT, Sim, TOKEN, instant, rates};
use crate::testenv;

/// One client's runs of one type: medians.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ClientRuns {
    pub runs: usize,
    pub records: u64,
    pub records_per_s: f64,
    pub cpu_s_per_million: f64,
    pub peak_rss_mb: f64,
}

impl ClientRuns {
    fn of(runs: &[RunResult]) -> ClientRuns {
        ClientRuns {
            runs: runs.len(),
            records: runs.first().map_or(0, |r| r.records),
            records_per_s: median(runs.iter().map(|r| r.records as f64 / r.wall_s).collect()),
            cpu_s_per_million: median(
                runs.iter()
                    .map(|r| r.cpu_s / r.records.max(1) as f64 * 1e6)
                    .collect(),
            ),
            peak_rss_mb: median(runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
        }
    }
}

/// cdr-sink and the Python client on one type, and their ratios
/// (cdr-sink's value over the peer's).
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct PeerComparison {
    pub cdr_sink: ClientRuns,
    pub python: ClientRuns,
    pub records_per_s_ratio: f64,
    pub peak_rss_ratio: f64,
    pub cpu_ratio: f64,
}

/// The peer's environment, made (or reused) from its pinned requirements.
fn environment(root: &Path, target: &Path) -> Result<testenv::Layout> {
    let layout = testenv::Layout {
        venv: target.join("peer-env"),
        requirements: root.join("xtask").join("peer-env").join("requirements.txt"),
        wheels: target.join("peer-env-wheels"),
        pip_cache: target.join("pip-cache"),
    };
    testenv::ensure(&layout)?;
    Ok(layout)
}

/// The peer's job: the query, its variables and the Parquet schema.
fn spec(sim: &Sim, t: CdrType, hours: u64) -> Result<Value> {
    let kind = t.record_kind();
    let columns: Vec<Value> = kind
        .columns()
        .iter()
        .map(|c| {
            let ty = match c.ty {
                ColumnType::Timestamp => "timestamp",
                ColumnType::Decimal => "decimal",
                ColumnType::Int64 => "int64",
                ColumnType::Utf8 => "utf8",
            };
            json!([c.graphql, c.name, ty])
        })
        .collect();
    Ok(json!({
        "url": sim.url,
        "token": TOKEN,
        "query": document(&Selection::all(), false, false),
        "typename": kind.typename(),
        "variables": {
            "type": t.as_str(),
            "startDatetime": instant(0)?,
            "endDatetime": instant(hours)?,
            "limit": LIMIT,
        },
        "columns": columns,
    }))
}

/// One run of the peer over `hours` of `t`, measured like the archiver.
fn peer_run(
    python: &Path,
    script: &Path,
    sim: &Sim,
    dir: &Path,
    t: CdrType,
    hours: u64,
) -> Result<RunResult> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec(sim, t, hours)?)?)?;
    // Its one line of results goes to a file, so that only stderr is a pipe.
    let said_path = dir.join("said.json");
    let said_file = std::fs::File::create(&said_path)?;
    let sim_before = sim.cpu_seconds();
    let begun = Instant::now();
    let child = Command::new(python)
        .arg(script)
        .arg(&spec_path)
        .arg(dir.join("out.parquet"))
        .stdin(Stdio::null())
        .stdout(said_file)
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the Python peer")?;
    let (status, usage, stderr) = wait4(child)?;
    let wall_s = begun.elapsed().as_secs_f64();
    let sim_cpu_s = sim.cpu_seconds() - sim_before;
    if status != 0 {
        bail!("the Python peer failed (status {status}): {stderr}");
    }
    let said_text = std::fs::read_to_string(&said_path)?;
    let said: Value = serde_json::from_str(said_text.trim())
        .with_context(|| format!("the Python peer printed {said_text:?}"))?;
    let result = RunResult {
        records: said["records"].as_u64().unwrap_or(0),
        wall_s,
        cpu_s: cpu_seconds(&usage),
        max_rss_kb: usage.ru_maxrss as u64,
        sim_cpu_s,
        summary: said,
    };
    std::fs::remove_dir_all(dir)?;
    Ok(result)
}

pub(super) fn run(
    bins: &Bins,
    root: &Path,
    target: &Path,
    bench_dir: &Path,
    opts: &Options,
) -> Result<BTreeMap<&'static str, PeerComparison>> {
    eprintln!("bench: the Python peer's environment");
    let layout = environment(root, target)?;
    let script = root.join("xtask").join("peer-env").join("peer.py");
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let runs = if opts.quick { 1 } else { 3 };
    let mut out = BTreeMap::new();
    for t in [CdrType::Sms, CdrType::Voice] {
        let hours = HOURS_PER_MILLION;
        let args: Vec<String> = [
            "--type",
            t.as_str(),
            "--start",
            &instant(0)?,
            "--end",
            &instant(hours)?,
            "--format",
            "parquet",
        ]
        .map(String::from)
        .to_vec();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for n in 0..runs {
            eprintln!("bench: peers, {t} run {} of {runs}", n + 1);
            let o = archive(bins, &sim, &bench_dir.join("run"), &args)?;
            let p = peer_run(
                &layout.python(),
                &script,
                &sim,
                &bench_dir.join("peer"),
                t,
                hours,
            )?;
            if p.records != o.records {
                bail!(
                    "the Python peer wrote {} {t} records, cdr-sink {}",
                    p.records,
                    o.records
                );
            }
            ours.push(o);
            theirs.push(p);
        }
        let (ours, theirs) = (ClientRuns::of(&ours), ClientRuns::of(&theirs));
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        out.insert(
            t.as_str(),
            PeerComparison {
                records_per_s_ratio: ratio(ours.records_per_s, theirs.records_per_s),
                peak_rss_ratio: ratio(ours.peak_rss_mb, theirs.peak_rss_mb),
                cpu_ratio: ratio(ours.cpu_s_per_million, theirs.cpu_s_per_million),
                cdr_sink: ours,
                python: theirs,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peer_requirements_are_pinned_exactly() {
        let root = crate::testenv::workspace_root();
        let text = std::fs::read_to_string(root.join("xtask/peer-env/requirements.txt"))
            .expect("requirements");
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        for line in &lines {
            let (name, version) = line
                .split_once("==")
                .unwrap_or_else(|| panic!("`{line}` is not pinned with =="));
            assert!(
                !name.is_empty()
                    && version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.'),
                "`{line}` is not an exact version"
            );
        }
        for needed in ["requests==", "pyarrow=="] {
            assert!(
                lines.iter().any(|l| l.starts_with(needed)),
                "{needed} missing"
            );
        }
    }
}
