//! The `cdr-sink archive` binary against the simulator over real HTTP.

mod common;

use cdr_core::CdrType;
use cdr_sim::{Faults, SimConfig};
use common::*;

const START: &str = "2026-11-01T22:00:00Z";
const END: &str = "2026-11-02T02:00:00Z";

fn hours() -> Vec<cdr_core::Window> {
    vec![window(START, END)]
}

async fn archive(
    sim: &cdr_sim::SimHandle,
    out: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let summary = out.with_extension("summary.json");
    let output = bin(sim)
        .args([
            "archive",
            "--type",
            "sms,MMS,Voice,API",
            "--start",
            START,
            "--end",
            END,
        ])
        .arg("--out")
        .arg(out)
        .arg("--summary-json")
        .arg(&summary)
        .args(extra)
        .output()
        .await
        .expect("binary runs");
    let json = std::fs::read(&summary)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (output, json)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_archive_equals_the_ground_truth_and_reruns_skip() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let (o, summary) = archive(&sim, &out, &["--limit", "250", "--concurrency", "3"]).await;
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let want = truth(&sim, &CdrType::ALL, &hours());
    assert_same(&read_parquet_archive(&out), &want);
    assert_eq!(summary["status"], "ok");
    assert_eq!(
        summary["types"]["SMS"]["records"].as_u64().unwrap() as usize,
        want["sms"].len()
    );
    assert_eq!(summary["types"]["VOICE"]["units_done"], 4);
    // Hive layout, across the day boundary, nothing temporary left.
    let all = files(&out);
    assert!(
        all.iter()
            .any(|f| f.starts_with("cdr_type=sms/date=2026-11-01/part-")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|f| f.starts_with("cdr_type=api/date=2026-11-02/part-")),
        "{all:?}"
    );
    assert!(all.iter().all(|f| !f.contains(".cdr-tmp")), "{all:?}");
    assert_eq!(
        all.iter()
            .filter(|f| f.starts_with("_cdr_sink/ledger/") && f.ends_with(".json"))
            .count(),
        16
    );
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("SMS") && stdout.contains("records"),
        "{stdout}"
    );

    // The same command again: every unit is skipped, no page is requested,
    // and with nothing to fetch there is no login either.
    let before = sim.counters();
    let (o, summary) = archive(&sim, &out, &["--limit", "250"]).await;
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    assert_eq!(sim.counters().graphql_requests, before.graphql_requests);
    assert_eq!(sim.counters().logins, before.logins);
    assert!(before.logins >= 1, "the first run logged in");
    assert_eq!(summary["types"]["MMS"]["units_skipped"], 4);
    assert_same(&read_parquet_archive(&out), &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_archive_is_exact_under_injected_faults() {
    let sim = sim(SimConfig {
        // About one request in five fails: many retries, while eight failures
        // in a row for one request (the default retry budget) stay unlikely.
        faults: Faults {
            rate_limit: 0.08,
            retry_after_secs: 0,
            server_error: 0.06,
            reset: 0.03,
            truncate: 0.03,
            seed: 7,
        },
        token_ttl_requests: Some(9),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let (o, summary) = archive(
        &sim,
        &out,
        &[
            "--format",
            "csv",
            "--limit",
            "100",
            "--window",
            "30m",
            "--concurrency",
            "8",
        ],
    )
    .await;
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    assert_same(
        &read_csv_archive(&out),
        &truth(&sim, &CdrType::ALL, &hours()),
    );
    let c = sim.counters();
    assert!(
        c.rate_limited > 0 && c.server_errors > 0 && c.resets > 0 && c.truncated > 0,
        "{c:?}"
    );
    assert!(c.expired_tokens > 0, "{c:?}");
    let retries: u64 = ["SMS", "MMS", "VOICE", "API"]
        .iter()
        .map(|t| summary["types"][t]["retries"].as_u64().unwrap())
        .sum();
    assert!(
        retries >= c.rate_limited + c.server_errors,
        "retries {retries}, {c:?}"
    );
    // Nothing secret in anything the run printed.
    for stream in [text(&o.stdout), text(&o.stderr)] {
        assert!(!stream.contains(PASSWORD), "{stream}");
        assert!(!stream.contains("POAPK_"), "{stream}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_of_a_faulty_run_hold_no_secret() {
    let sim = sim(SimConfig {
        faults: Faults {
            rate_limit: 0.1,
            retry_after_secs: 0,
            server_error: 0.1,
            reset: 0.0,
            truncate: 0.0,
            seed: 3,
        },
        token_ttl_requests: Some(3),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let summary = dir.path().join("s.json");
    let o = bin(&sim)
        .env("RUST_LOG", "trace")
        .args([
            "archive",
            "--type",
            "SMS",
            "--start",
            START,
            "--end",
            "2026-11-01T23:00:00Z",
            "--limit",
            "500",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .args(["--log-format", "json"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let logs = text(&o.stderr);
    assert!(logs.lines().count() > 5, "expected debug logs, got: {logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok() || l.trim().is_empty()),
        "{logs}"
    );
    assert!(!logs.contains(PASSWORD));
    assert!(!logs.contains("POAPK_"));
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(!s.contains("POAPK_") && !s.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_any_request_with_one_line() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let base = |out: &std::path::Path| -> Vec<String> {
        [
            "archive", "--type", "SMS", "--start", START, "--end", END, "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--end".into(), "2026-11-01T00:00:00Z".into()],
            "is not later than --start",
        ),
        (
            vec!["--type".into(), "SMS,FAX".into()],
            "valid types are SMS, MMS, VOICE, API",
        ),
        (vec!["--limit".into(), "0".into()], "from 1 to 1000"),
        (vec!["--limit".into(), "1001".into()], "from 1 to 1000"),
        (
            vec!["--start".into(), "2026-13-01T00:00:00Z".into()],
            "--start `2026-13-01T00:00:00Z` is not an RFC 3339",
        ),
        (vec!["--end".into(), "tomorrow".into()], "--end `tomorrow`"),
        (vec!["--window".into(), "7h".into()], "--window"),
        (
            vec!["--api-url".into(), "http://api.example.com".into()],
            "--allow-insecure-http",
        ),
        (
            vec![
                "--start".into(),
                "1970-01-01T00:00:00Z".into(),
                "--window".into(),
                "1s".into(),
            ],
            "give a larger --window",
        ),
        (
            vec!["--format".into(), "orc".into()],
            "invalid value 'orc' for '--format <FORMAT>' [possible values: parquet, csv]",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = base(&out);
        args.extend(extra.clone());
        let o = bin(&sim).args(&args).output().await.unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{extra:?}: not one line: {err}"
        );
    }
    // Unwritable output.
    let o = bin(&sim)
        .args(base(&blocker.join("sub")))
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not writable"),
        "{}",
        text(&o.stderr)
    );
    // Missing credentials.
    let o = bin(&sim)
        .env_remove("TSG_PASSWORD")
        .args(base(&out))
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("TSG_PASSWORD is not"),
        "{}",
        text(&o.stderr)
    );
    // Nothing was requested, nothing finished was written.
    assert_eq!(sim.counters().requests, 0);
    assert!(data_files(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_fails_after_one_login() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let o = bin(&sim)
        .env("TSG_PASSWORD", "wrong-secret")
        .args(["archive", "--type", "SMS", "--start", START, "--end", END])
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.to_lowercase().contains("log"), "{err}");
    assert!(!err.contains("wrong-secret"), "{err}");
    assert_eq!(sim.counters().logins + sim.counters().failed_logins, 1);
    assert!(data_files(&out).is_empty());
}
