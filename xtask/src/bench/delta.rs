//! Scenario: the cost of `--table-format delta`. One plan of [`WINDOWS`]
//! one-hour SMS windows of [`RATE`] records each (small windows, so the
//! cost per window shows), archived with `--table-format files` and with
//! `--table-format delta` in turn, each run into a fresh output, in pairs
//! (the order alternating), so that each pair meets the same machine load.
//! The cost of a window's commit is the median over pairs of the
//! difference in wall (and CPU) time, divided by the windows.

use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;

use super::archive::{RunResult, archive};
use super::end_to_end::median;
use super::options::Options;
use super::process::Bins;
use super::sim::{Sim, instant, simulator_args};

/// Windows of the plan: enough commits for checkpoints (every 10) to count.
const WINDOWS: u64 = 96;
/// SMS records per hour: four pages of 1000.
const RATE: u64 = 4000;

/// The runs of each table format and the cost of a window's commit.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct DeltaCost {
    pub windows: u64,
    pub records_per_window: u64,
    pub pairs: usize,
    pub files_wall_s: Vec<f64>,
    pub delta_wall_s: Vec<f64>,
    /// Medians over the pairs of (delta - files) / windows.
    pub commit_ms_per_window: f64,
    pub commit_cpu_ms_per_window: f64,
    /// Median wall time per window of each format.
    pub files_ms_per_window: f64,
    pub delta_ms_per_window: f64,
    pub delta_peak_rss_mb: f64,
    pub files_peak_rss_mb: f64,
}

pub(super) fn run(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<DeltaCost> {
    let pairs = if opts.quick { 2 } else { 5 };
    let sim = Sim::start(&bins.sim, &simulator_args([("sms", RATE)], None))?;
    let plan = |table_format: &str| -> Result<Vec<String>> {
        Ok([
            "--type",
            "SMS",
            "--start",
            &instant(0)?,
            "--end",
            &instant(WINDOWS)?,
            "--window",
            "1h",
            "--concurrency",
            "4",
            "--table-format",
            table_format,
        ]
        .map(String::from)
        .to_vec())
    };
    let (files_args, delta_args) = (plan("files")?, plan("delta")?);
    let mut files: Vec<RunResult> = Vec::new();
    let mut delta: Vec<RunResult> = Vec::new();
    for n in 0..pairs {
        eprintln!("bench: Delta commit cost, pair {} of {pairs}", n + 1);
        let dir = bench_dir.join("run");
        let one = |args: &[String], into: &mut Vec<RunResult>| -> Result<()> {
            let r = archive(bins, &sim, &dir, args)?;
            if r.records != WINDOWS * RATE {
                bail!(
                    "Delta cost: {} records archived, {} expected",
                    r.records,
                    WINDOWS * RATE
                );
            }
            into.push(r);
            Ok(())
        };
        if n % 2 == 0 {
            one(&files_args, &mut files)?;
            one(&delta_args, &mut delta)?;
        } else {
            one(&delta_args, &mut delta)?;
            one(&files_args, &mut files)?;
        }
    }
    let per_window = |s: f64| s * 1000.0 / WINDOWS as f64;
    let paired = |f: fn(&RunResult) -> f64| {
        median(
            files
                .iter()
                .zip(&delta)
                .map(|(a, b)| per_window(f(b) - f(a)))
                .collect(),
        )
    };
    Ok(DeltaCost {
        windows: WINDOWS,
        records_per_window: RATE,
        pairs,
        files_wall_s: files.iter().map(|r| r.wall_s).collect(),
        delta_wall_s: delta.iter().map(|r| r.wall_s).collect(),
        commit_ms_per_window: paired(|r| r.wall_s),
        commit_cpu_ms_per_window: paired(|r| r.cpu_s),
        files_ms_per_window: median(files.iter().map(|r| per_window(r.wall_s)).collect()),
        delta_ms_per_window: median(delta.iter().map(|r| per_window(r.wall_s)).collect()),
        files_peak_rss_mb: median(files.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
        delta_peak_rss_mb: median(delta.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
    })
}
