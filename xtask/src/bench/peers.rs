//! `--peers`: the reference Python client (`xtask/peer-env/peer.py`:
//! requests and pyarrow, one cursor chain, Parquet under an explicit schema)
//! beside `cdr-sink archive` with its defaults, against one simulator, the
//! two taking turns, 1 million records of SMS and of VOICE. The Python
//! environment is `target/peer-env`, made from the pinned
//! `xtask/peer-env/requirements.txt` like the test environment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cdr_core::{CdrType, ColumnType, Selection, document};
use serde_json::{Value, json};

use super::{
    Bins, E2E_RATE, HOURS_PER_MILLION, LIMIT, Options, RunResult, Sim, TOKEN, archive, instant,
    median, rates, wait4,
};
use crate::testenv;

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
    let spec = json!({
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
    });
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let sim_before = sim.cpu_seconds();
    let begun = Instant::now();
    let child = Command::new(python)
        .arg(script)
        .arg(&spec_path)
        .arg(dir.join("out.parquet"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the Python peer")?;
    let output = child.wait_with_output_rusage()?;
    let wall_s = begun.elapsed().as_secs_f64();
    let sim_cpu_s = sim.cpu_seconds() - sim_before;
    let (status, usage, stdout, stderr) = output;
    if status != 0 {
        bail!("the Python peer failed (status {status}): {stderr}");
    }
    let said: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("the Python peer printed {stdout:?}"))?;
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let result = RunResult {
        records: said["records"].as_u64().unwrap_or(0),
        wall_s,
        cpu_s: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss as u64,
        sim_cpu_s,
    };
    std::fs::remove_dir_all(dir)?;
    Ok(result)
}

/// `wait4` for a child whose stdout is wanted too.
trait WaitWithRusage {
    fn wait_with_output_rusage(self) -> Result<(i32, libc::rusage, String, String)>;
}

impl WaitWithRusage for std::process::Child {
    fn wait_with_output_rusage(mut self) -> Result<(i32, libc::rusage, String, String)> {
        use std::io::Read;
        let mut stdout = String::new();
        if let Some(mut o) = self.stdout.take() {
            o.read_to_string(&mut stdout)?;
        }
        let (status, usage, stderr) = wait4(self)?;
        Ok((status, usage, stdout, stderr))
    }
}

fn summary(runs: &[RunResult]) -> Value {
    json!({
        "runs": runs.len(),
        "records": runs.first().map_or(0, |r| r.records),
        "records_per_s": median(runs.iter().map(|r| r.records as f64 / r.wall_s).collect()),
        "cpu_s_per_million": median(runs.iter().map(|r| r.cpu_s / r.records.max(1) as f64 * 1e6).collect()),
        "peak_rss_mb": median(runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
    })
}

pub(super) fn peers(
    bins: &Bins,
    root: &Path,
    target: &Path,
    bench_dir: &Path,
    opts: &Options,
) -> Result<Value> {
    eprintln!("bench: the Python peer's environment");
    let layout = environment(root, target)?;
    let script = root.join("xtask").join("peer-env").join("peer.py");
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let runs = if opts.quick { 1 } else { 3 };
    let mut out = serde_json::Map::new();
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
        let (ours, theirs) = (summary(&ours), summary(&theirs));
        let ratio = |k: &str| ours[k].as_f64().unwrap_or(0.0) / theirs[k].as_f64().unwrap_or(1.0);
        out.insert(
            t.as_str().to_string(),
            json!({
                "cdr_sink": ours,
                "python": theirs,
                "records_per_s_ratio": ratio("records_per_s"),
                "peak_rss_ratio": ratio("peak_rss_mb"),
                "cpu_ratio": ratio("cpu_s_per_million"),
            }),
        );
    }
    Ok(Value::Object(out))
}

/// The table's lines for [`peers`]' results.
pub(super) fn print(peers: &Value) {
    let Some(types) = peers.as_object() else {
        return;
    };
    println!(
        "\npeers: cdr-sink (defaults) and the Python client (requests + pyarrow, one cursor chain), 1M records to Parquet"
    );
    println!(
        "  {:<6} {:<8} {:>12} {:>11} {:>10}",
        "type", "client", "records/s", "CPU s / 1M", "peak RSS"
    );
    for (t, v) in types {
        for (name, key) in [("cdr-sink", "cdr_sink"), ("Python", "python")] {
            let s = &v[key];
            println!(
                "  {:<6} {:<8} {:>12} {:>11.2} {:>7.0} MB",
                t,
                name,
                super::group(s["records_per_s"].as_f64()),
                s["cpu_s_per_million"].as_f64().unwrap_or(0.0),
                s["peak_rss_mb"].as_f64().unwrap_or(0.0),
            );
        }
        println!(
            "  {:<6} ratio: {:.1}x the records/s at {:.2}x the peak RSS and {:.2}x the CPU per record",
            t,
            v["records_per_s_ratio"].as_f64().unwrap_or(0.0),
            v["peak_rss_ratio"].as_f64().unwrap_or(0.0),
            v["cpu_ratio"].as_f64().unwrap_or(0.0),
        );
    }
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
