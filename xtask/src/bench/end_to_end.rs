//! Scenario 2, end to end: `cdr-sim` -> `cdr-sink archive` -> files on local
//! disk with the archiver's default settings (`--limit 1000`,
//! `--concurrency 4`, `--window 1h`, Parquet with zstd): 1 and 10 million
//! SMS records and 1 million VOICE records as Parquet, 1 million SMS
//! records as CSV; and one window of 1 million SMS records at concurrency 1
//! (one cursor chain).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use cdr_core::CdrType;
use serde::Serialize;

use super::archive::{RunResult, archive};
use super::options::Options;
use super::process::Bins;
use super::sim::{E2E_RATE, Sim, instant, rates, window};

/// Hours of simulated data that hold 1 million records of a type.
pub(super) const HOURS_PER_MILLION: u64 = 1_000_000 / E2E_RATE;
// The one-window scenario's `--window 4h` holds those hours.
const _: () = assert!(HOURS_PER_MILLION == 4);

/// One scenario's runs: medians, and the spread where it matters.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct EndToEnd {
    #[serde(rename = "type")]
    pub cdr_type: &'static str,
    pub format: &'static str,
    pub records: u64,
    pub runs: usize,
    pub records_per_s: f64,
    pub records_per_s_each: Vec<f64>,
    pub wall_s: f64,
    pub cpu_s_per_million: f64,
    pub cpu_cores_used: f64,
    pub peak_rss_mb: f64,
    pub peak_rss_mb_max: f64,
    pub sim_cpu_s_per_million: f64,
}

struct Scenario {
    name: &'static str,
    cdr_type: CdrType,
    format: &'static str,
    hours: u64,
    runs: usize,
    /// Flags beyond the defaults.
    extra: &'static [&'static str],
}

/// Every scenario with runs in this mode, each run a fresh archiver.
pub(super) fn run(
    bins: &Bins,
    bench_dir: &Path,
    opts: &Options,
) -> Result<BTreeMap<&'static str, EndToEnd>> {
    let full = !opts.quick;
    let scenarios = [
        Scenario {
            name: "parquet_sms_1m",
            cdr_type: CdrType::Sms,
            format: "parquet",
            hours: HOURS_PER_MILLION,
            runs: if full { 5 } else { 3 },
            extra: &[],
        },
        Scenario {
            name: "parquet_sms_10m",
            cdr_type: CdrType::Sms,
            format: "parquet",
            hours: 10 * HOURS_PER_MILLION,
            runs: if full { 2 } else { 0 },
            extra: &[],
        },
        Scenario {
            name: "parquet_voice_1m",
            cdr_type: CdrType::Voice,
            format: "parquet",
            hours: HOURS_PER_MILLION,
            runs: if full { 3 } else { 1 },
            extra: &[],
        },
        Scenario {
            name: "csv_sms_1m",
            cdr_type: CdrType::Sms,
            format: "csv",
            hours: HOURS_PER_MILLION,
            runs: if full { 3 } else { 1 },
            extra: &[],
        },
        // One unit of 1 million records: how fast one cursor chain goes.
        Scenario {
            name: "parquet_sms_1m_one_window",
            cdr_type: CdrType::Sms,
            format: "parquet",
            hours: HOURS_PER_MILLION,
            runs: if full { 3 } else { 1 },
            extra: &["--window", "4h", "--concurrency", "1"],
        },
    ];
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let model = cdr_sim::DataModel::new(
        0,
        &BTreeMap::from([(CdrType::Sms, E2E_RATE), (CdrType::Voice, E2E_RATE)]),
    );
    let mut out = BTreeMap::new();
    for s in scenarios.iter().filter(|s| s.runs > 0) {
        let range = window(0, s.hours)?;
        let expected = model.count(s.cdr_type, range);
        let args: Vec<String> = [
            "--type",
            s.cdr_type.as_str(),
            "--start",
            &instant(0)?,
            "--end",
            &instant(s.hours)?,
            "--format",
            s.format,
        ]
        .map(String::from)
        .into_iter()
        .chain(s.extra.iter().map(|a| a.to_string()))
        .collect();
        let mut runs = Vec::new();
        for n in 0..s.runs {
            eprintln!("bench: {} run {} of {}", s.name, n + 1, s.runs);
            let r = archive(bins, &sim, &bench_dir.join("run"), &args)?;
            if r.records != expected {
                bail!(
                    "{}: the archiver wrote {} records, the simulator holds {expected}",
                    s.name,
                    r.records
                );
            }
            runs.push(r);
        }
        let per_million = |x: f64, r: &RunResult| x / r.records as f64 * 1e6;
        out.insert(
            s.name,
            EndToEnd {
                cdr_type: s.cdr_type.as_str(),
                format: s.format,
                records: expected,
                runs: runs.len(),
                records_per_s: median(runs.iter().map(|r| r.records as f64 / r.wall_s).collect()),
                records_per_s_each: runs
                    .iter()
                    .map(|r| (r.records as f64 / r.wall_s).round())
                    .collect(),
                wall_s: median(runs.iter().map(|r| r.wall_s).collect()),
                cpu_s_per_million: median(runs.iter().map(|r| per_million(r.cpu_s, r)).collect()),
                cpu_cores_used: median(runs.iter().map(|r| r.cpu_s / r.wall_s).collect()),
                peak_rss_mb: median(runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
                peak_rss_mb_max: runs
                    .iter()
                    .map(|r| r.max_rss_kb as f64 / 1024.0)
                    .fold(0.0, f64::max),
                sim_cpu_s_per_million: median(
                    runs.iter().map(|r| per_million(r.sim_cpu_s, r)).collect(),
                ),
            },
        );
    }
    Ok(out)
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
