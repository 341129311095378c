//! Scenario: an API with a rate limit. The simulator allows [`ALLOWED_RPS`]
//! requests per second (a sliding one-second window, HTTP 429 with
//! `Retry-After` beyond it) at 100 ms latency per page, and a plan of
//! [`UNITS`] one-hour units of [`RATE_PAGES`] full pages of 1000 SMS
//! records is archived three times: with `--concurrency auto` (the
//! default), and with a fixed 4 (too low: 40 requests/s at best) and 64 (a
//! storm of refusals). Each run's records/s is compared with the allowed
//! record rate (`ALLOWED_RPS x 1000`), and its refused requests with all it
//! sent.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::archive::archive;
use super::options::Options;
use super::process::Bins;
use super::sim::{LATENCY_MS, LIMIT, Sim, instant, simulator_args};

/// Requests per second the simulator serves.
pub(super) const ALLOWED_RPS: u64 = 50;
/// Units of the plan.
const UNITS: u64 = 48;
/// Full pages per unit (5 with `--quick`).
const RATE_PAGES: u64 = 10;

/// One run of the plan at one `--concurrency`.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct RateLimitRun {
    pub concurrency: String,
    pub records: u64,
    pub wall_s: f64,
    pub records_per_s: f64,
    pub allowed_records_per_s: f64,
    pub fraction_of_allowed: f64,
    /// GraphQL requests served (pages) and refused.
    pub pages: u64,
    pub refused: u64,
    /// `refused / (pages + refused)`.
    pub refused_share: f64,
    /// The concurrency over the run, from the summary: min, median, max.
    pub concurrency_min: u64,
    pub concurrency_median: u64,
    pub concurrency_max: u64,
    pub cpu_s_per_million: f64,
    pub peak_rss_mb: f64,
}

/// The scenario's runs, each over the same plan into a fresh output.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct RateLimit {
    pub allowed_rps: u64,
    pub latency_ms: u64,
    pub units: u64,
    pub pages_per_unit: u64,
    pub runs: Vec<RateLimitRun>,
}

pub(super) fn run(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<RateLimit> {
    let pages = if opts.quick { 5 } else { RATE_PAGES };
    let mut args = simulator_args([("sms", pages * LIMIT)], Some(LATENCY_MS));
    args.extend(["--quota".to_string(), ALLOWED_RPS.to_string()]);
    let sim = Sim::start(&bins.sim, &args)?;
    let allowed = (ALLOWED_RPS * LIMIT) as f64;
    let mut runs = Vec::new();
    for concurrency in ["auto", "4", "64"] {
        eprintln!(
            "bench: rate limit {ALLOWED_RPS}/s, {LATENCY_MS} ms, --concurrency {concurrency}, {UNITS} units"
        );
        let args: Vec<String> = [
            "--type",
            "SMS",
            "--start",
            &instant(0)?,
            "--end",
            &instant(UNITS)?,
            "--window",
            "1h",
            "--concurrency",
            concurrency,
        ]
        .map(String::from)
        .to_vec();
        let r = archive(bins, &sim, &bench_dir.join("run"), &args)?;
        let c = &r.summary["concurrency"];
        let number = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        let pages: u64 = r.summary["types"]
            .as_object()
            .map_or(0, |t| t.values().map(|t| number(&t["pages"])).sum());
        let refused = number(&c["refused"]);
        let per_s = r.records as f64 / r.wall_s;
        runs.push(RateLimitRun {
            concurrency: concurrency.to_string(),
            records: r.records,
            wall_s: r.wall_s,
            records_per_s: per_s,
            allowed_records_per_s: allowed,
            fraction_of_allowed: per_s / allowed,
            pages,
            refused,
            refused_share: refused as f64 / (pages + refused).max(1) as f64,
            concurrency_min: number(&c["min"]),
            concurrency_median: number(&c["median"]),
            concurrency_max: number(&c["max"]),
            cpu_s_per_million: r.cpu_s / r.records.max(1) as f64 * 1e6,
            peak_rss_mb: r.max_rss_kb as f64 / 1024.0,
        });
    }
    Ok(RateLimit {
        allowed_rps: ALLOWED_RPS,
        latency_ms: LATENCY_MS,
        units: UNITS,
        pages_per_unit: pages,
        runs,
    })
}
