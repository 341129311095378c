//! Scale-out: 1, 2 and 4 `cdr-sink archive` processes of one plan on one
//! `--out`, sharing the work through the archive's claims, against a
//! simulator with 100 ms per page. Throughput should grow with the number of
//! workers (at least 0.9 x N of one worker), and every page be fetched once.

use std::path::Path;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::archive::command;
use super::options::Options;
use super::process::{Bins, cpu_seconds, wait4};
use super::sim::{LATENCY_MS, LIMIT, Sim, instant, simulator_args};

/// Units in flight per worker.
const CONCURRENCY: u64 = 4;

/// The runs at 1, 2 and 4 workers.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ScaleOut {
    pub latency_ms: u64,
    pub limit: u64,
    pub concurrency_per_worker: u64,
    pub pages_per_unit: u64,
    pub levels: Vec<ScaleOutLevel>,
}

/// One number of workers.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ScaleOutLevel {
    pub workers: u64,
    pub units: u64,
    pub records: u64,
    pub wall_s: f64,
    pub records_per_s: f64,
    /// Throughput over `workers` times that of one worker.
    pub fraction_of_n_times_one: f64,
    pub cpu_s_per_million: f64,
    pub units_done_per_worker: Vec<u64>,
}

/// Each number of workers over fresh units of the simulated window.
pub(super) fn run(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<ScaleOut> {
    let pages = if opts.quick { 5 } else { 10 };
    let args = simulator_args([("sms", pages * LIMIT)], Some(LATENCY_MS));
    let sim = Sim::start(&bins.sim, &args)?;
    // Ten waves of units per worker slot: a run's last wave is seldom full
    // (the workers start a few milliseconds apart), and with three waves that
    // partial wave alone weighed a third of the run (docs/performance.md).
    let waves = if opts.quick { 2 } else { 10 };
    let mut levels = Vec::new();
    let mut start = 0;
    let mut one_worker = None;
    for workers in [1u64, 2, 4] {
        // Enough units that every slot of every worker stays busy.
        let units = workers * CONCURRENCY * waves;
        eprintln!("bench: scale-out, {workers} workers, {units} units of {pages} pages");
        let plan: Vec<String> = [
            "--type",
            "SMS",
            "--start",
            &instant(start)?,
            "--end",
            &instant(start + units)?,
            "--window",
            "1h",
            "--concurrency",
            &CONCURRENCY.to_string(),
        ]
        .map(String::from)
        .to_vec();
        start += units;
        let dir = bench_dir.join("scale-out");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let begun = Instant::now();
        let mut children = Vec::new();
        for w in 0..workers {
            let summary = dir.join(format!("summary-{w}.json"));
            let child = command(bins, &sim, &plan, &dir.join("out"), &summary)
                .spawn()
                .context("starting cdr-sink")?;
            children.push(child);
        }
        let mut cpu_s = 0.0;
        for child in children {
            let (status, usage, stderr) = wait4(child)?;
            if status != 0 {
                bail!("a scale-out worker failed (status {status}): {stderr}");
            }
            cpu_s += cpu_seconds(&usage);
        }
        let wall_s = begun.elapsed().as_secs_f64();
        let mut records = 0;
        let mut done = Vec::new();
        for w in 0..workers {
            let s: Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("summary-{w}.json")))?)?;
            records += s["types"]["SMS"]["records"].as_u64().unwrap_or(0);
            done.push(s["types"]["SMS"]["units_done"].as_u64().unwrap_or(0));
        }
        let want = units * pages * LIMIT;
        if records != want {
            bail!("scale-out with {workers} workers archived {records} records, not {want}");
        }
        let per_s = records as f64 / wall_s;
        let base = *one_worker.get_or_insert(per_s);
        levels.push(ScaleOutLevel {
            workers,
            units,
            records,
            wall_s,
            records_per_s: per_s,
            fraction_of_n_times_one: per_s / (base * workers as f64),
            cpu_s_per_million: cpu_s / records.max(1) as f64 * 1e6,
            units_done_per_worker: done,
        });
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(ScaleOut {
        latency_ms: LATENCY_MS,
        limit: LIMIT,
        concurrency_per_worker: CONCURRENCY,
        pages_per_unit: pages,
        levels,
    })
}
