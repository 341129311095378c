//! Scenario 3, latency scaling: 100 ms of simulated latency per page,
//! concurrency 1, 4, 16 and 64, each over enough 1-hour units of exactly
//! [`LATENCY_PAGES`] full pages to keep every unit slot busy; throughput as
//! a fraction of the ideal `concurrency x limit / latency`. Twice: pages of
//! 1000 SMS records, and pages of 100 MMS records, where the records' CPU
//! cost is small and the series shows the scaling of concurrency alone.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::archive::archive;
use super::options::Options;
use super::process::Bins;
use super::sim::{LATENCY_MS, LIMIT, Sim, instant, simulator_args};

/// The page size of the second series, in which the CPU cost of the
/// records is small next to the round trips, so that it shows the scaling
/// of concurrency alone.
const SMALL_LIMIT: u64 = 100;
/// Pages per unit (10 with `--quick`): each 1-hour unit holds exactly this
/// many full pages, so that its fixed costs (listing its partition,
/// creating, syncing and renaming its file and ledger entry) are small next
/// to its round trips.
const LATENCY_PAGES: u64 = 20;

/// One series: a type and page size at every concurrency.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct LatencySeries {
    #[serde(rename = "type")]
    pub cdr_type: &'static str,
    pub latency_ms: u64,
    pub limit: u64,
    pub pages_per_unit: u64,
    pub levels: Vec<LatencyLevel>,
}

/// One concurrency of a series.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct LatencyLevel {
    pub concurrency: u64,
    pub units: u64,
    pub records: u64,
    pub wall_s: f64,
    pub records_per_s: f64,
    pub ideal_records_per_s: f64,
    pub fraction_of_ideal: f64,
    pub cpu_s_per_million: f64,
    pub peak_rss_mb: f64,
}

/// Both series, each level over fresh units of the simulated window.
pub(super) fn run(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<Vec<LatencySeries>> {
    let pages = if opts.quick { 10 } else { LATENCY_PAGES };
    // SMS in pages of 1000 (the default limit) and MMS in pages of 100, each
    // type with exactly LATENCY_PAGES full pages per hour.
    let args = simulator_args(
        [("sms", pages * LIMIT), ("mms", pages * SMALL_LIMIT)],
        Some(LATENCY_MS),
    );
    let sim = Sim::start(&bins.sim, &args)?;
    let mut variants = Vec::new();
    let mut start = 0;
    for (cdr_type, limit) in [("SMS", LIMIT), ("MMS", SMALL_LIMIT)] {
        let ideal_per_slot = limit as f64 / (LATENCY_MS as f64 / 1000.0);
        let mut levels = Vec::new();
        // Units per concurrency slot: enough that every slot stays busy.
        let waves = |c: u64| match (c, opts.quick) {
            (1, _) => 1,
            (_, true) => 2,
            (_, false) => 3,
        };
        for c in [1u64, 4, 16, 64] {
            let units = c * waves(c);
            eprintln!(
                "bench: latency {LATENCY_MS} ms, limit {limit}, concurrency {c}, {units} units"
            );
            let args: Vec<String> = [
                "--type",
                cdr_type,
                "--start",
                &instant(start)?,
                "--end",
                &instant(start + units)?,
                "--window",
                "1h",
                "--limit",
                &limit.to_string(),
                "--concurrency",
                &c.to_string(),
            ]
            .map(String::from)
            .to_vec();
            start += units;
            let r = archive(bins, &sim, &bench_dir.join("run"), &args)?;
            let per_s = r.records as f64 / r.wall_s;
            let ideal = c as f64 * ideal_per_slot;
            levels.push(LatencyLevel {
                concurrency: c,
                units,
                records: r.records,
                wall_s: r.wall_s,
                records_per_s: per_s,
                ideal_records_per_s: ideal,
                fraction_of_ideal: per_s / ideal,
                cpu_s_per_million: r.cpu_s / r.records.max(1) as f64 * 1e6,
                peak_rss_mb: r.max_rss_kb as f64 / 1024.0,
            });
        }
        variants.push(LatencySeries {
            cdr_type,
            latency_ms: LATENCY_MS,
            limit,
            pages_per_unit: pages,
            levels,
        });
    }
    Ok(variants)
}
