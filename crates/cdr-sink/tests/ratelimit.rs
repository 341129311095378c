//! An API with a rate limit, with the real binary: `--concurrency auto`
//! (the default) archives exactly under a quota and reports every refusal
//! the simulator counted, and `--max-rps` keeps a run under a quota it would
//! otherwise exceed.

mod common;

use std::num::NonZeroU32;
use std::path::Path;

use cdr_core::CdrType;
use cdr_sim::{Quota, SimConfig, SimHandle};
use common::*;

const START: &str = "2026-11-03T00:00:00Z";

async fn quota_sim(per_second: u32) -> SimHandle {
    sim(SimConfig {
        quota: NonZeroU32::new(per_second).map(Quota::per_second),
        ..SimConfig::default()
    })
    .await
}

/// Archives SMS over `hours` from [`START`] as CSV in pages of `limit`,
/// with `extra` flags; returns the summary JSON and stdout.
async fn archive(
    sim: &SimHandle,
    out: &Path,
    hours: u32,
    limit: u32,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let summary = out.with_extension("summary.json");
    let end = t(START) + chrono::TimeDelta::hours(hours.into());
    let o = bin(sim)
        .args([
            "archive", "--type", "SMS", "--format", "csv", "--start", START,
        ])
        .args(["--end", &cdr_core::format_datetime(&end)])
        .args(["--limit", &limit.to_string(), "--quiet"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .await
        .expect("cdr-sink runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = serde_json::from_slice(&std::fs::read(&summary).expect("the summary"))
        .expect("the summary is JSON");
    let windows = hours_between(START, &cdr_core::format_datetime(&end));
    assert_same(
        &read_csv_archive(out),
        &truth(sim, &[CdrType::Sms], &windows),
    );
    (json, String::from_utf8_lossy(&o.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_archives_exactly_under_a_quota_and_reports_every_refusal() {
    let sim = quota_sim(20).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // 6 hours of 3,600 SMS records in pages of 500: 48 requests, at least
    // two seconds' worth of the quota, sent 4 at a time from the start.
    let (summary, stdout) = archive(&sim, &dir.path().join("out"), 6, 500, &[]).await;
    let c = &summary["concurrency"];
    let counted = sim.counters();
    assert!(counted.quota_refused > 0, "the quota refused nothing");
    assert_eq!(c["mode"], "auto");
    assert_eq!(
        c["refused"].as_u64(),
        Some(counted.quota_refused),
        "every refusal the simulator sent is counted: {c}"
    );
    assert!(
        c["decreases"].as_u64().is_some_and(|d| d >= 1),
        "a refusal lowers the limit: {c}"
    );
    assert!(c["min"].as_u64() < Some(4), "below where auto starts: {c}");
    // The pace learnt from the refusals is what the quota lets through.
    let paced = c["paced_rps"].as_f64().expect("a pace was learnt");
    assert!((1.0..=20.0).contains(&paced), "paced at {paced}: {c}");
    assert!(stdout.contains("; paced at "), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} requests refused by the API (HTTP 429/503)",
            counted.quota_refused
        )),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rps_keeps_a_run_under_a_quota_it_would_exceed() {
    // 2 hours of 3,600 SMS records in pages of 1000: 8 requests. Four at
    // once would exceed 4 per second at the start; two per second, evenly
    // spaced, never put more than 3 in any second.
    let sim = quota_sim(4).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (summary, stdout) = archive(
        &sim,
        &dir.path().join("paced"),
        2,
        1000,
        &["--concurrency", "4", "--max-rps", "2"],
    )
    .await;
    let c = &summary["concurrency"];
    assert_eq!(sim.counters().quota_refused, 0, "{c}");
    assert_eq!(c["refused"], 0);
    assert_eq!(c["mode"], "fixed");
    assert_eq!((c["min"].as_u64(), c["max"].as_u64()), (Some(4), Some(4)));
    assert!(
        stdout.contains("concurrency fixed: 4; 0 requests refused"),
        "{stdout}"
    );

    // The same run without the budget is refused: the check above means
    // something.
    let sim = quota_sim(4).await;
    let (summary, _) = archive(
        &sim,
        &dir.path().join("unpaced"),
        2,
        1000,
        &["--concurrency", "4"],
    )
    .await;
    assert!(sim.counters().quota_refused > 0);
    assert_eq!(
        summary["concurrency"]["refused"].as_u64(),
        Some(sim.counters().quota_refused)
    );
}
