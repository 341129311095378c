//! What an operator relies on, with the real binary: SIGTERM and SIGINT stop
//! a run gracefully, `--summary-json` and `--metrics-textfile` are written
//! however a run ends, `status --max-behind` alerts, and the completions,
//! man page and `--version` are there.

mod common;

use std::path::Path;
use std::time::Duration;

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use common::*;

const START: &str = "2026-11-03T00:00:00Z";
const END: &str = "2026-11-03T12:00:00Z";

fn archive(sim: &cdr_sim::SimHandle, out: &Path, dir: &Path) -> tokio::process::Command {
    let mut cmd = bin(sim);
    cmd.args([
        "archive", "--type", "SMS", "--start", START, "--end", END, "--format", "csv", "--limit",
        "200",
    ])
    .args(["--concurrency", "2"])
    .arg("--out")
    .arg(out)
    .arg("--summary-json")
    .arg(dir.join("summary.json"))
    .arg("--metrics-textfile")
    .arg(dir.join("cdr_sink.prom"))
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    cmd
}

fn read_json(path: &Path) -> serde_json::Value {
    let body = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&body).expect("the summary is JSON")
}

fn metrics(path: &Path) -> Vec<prometheus_parse::Sample> {
    let text = std::fs::read_to_string(path).expect("the metrics file exists");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the metrics file parses as the Prometheus text format")
        .samples
}

fn gauge(samples: &[prometheus_parse::Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    let s = samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"));
    match s.value {
        prometheus_parse::Value::Gauge(v) => v,
        ref other => panic!("{metric} is not a gauge: {other:?}"),
    }
}

/// Stops a run with `signal` once the simulator has served some pages, then
/// checks the exit status, the summary and the metrics, and that a plain
/// re-run ends exact with nothing left over.
async fn stop_then_resume(signal: libc::c_int, exit: i32, name: &str) {
    let sim = sim(SimConfig {
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let mut child = archive(&sim, &out, dir.path()).spawn().expect("spawn");
    // Wait until the run is well under way (pages served), not for a time.
    cdr_testkit::until("the run is under way", || {
        let served = sim.counters().graphql_requests;
        let ended = child.try_wait().unwrap().is_some();
        assert!(!ended, "the run ended early");
        async move { served >= 10 }
    })
    .await;
    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(exit), "{stderr}");
    assert!(
        stderr.contains(&format!("stopped by {name}")),
        "stderr: {stderr}"
    );

    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["status"], "interrupted", "{summary}");
    assert_eq!(summary["signal"], name);
    assert_eq!(summary["exit_code"], exit);
    assert_eq!(summary["summary_version"], 2);
    assert_eq!(summary["command"], "archive");
    let done = summary["types"]["SMS"]["units_done"].as_u64().unwrap();
    assert!(done < 12, "the run was stopped before its end: {summary}");

    let m = metrics(&dir.path().join("cdr_sink.prom"));
    assert_eq!(
        gauge(&m, "cdr_sink_last_run_info", &[("status", "interrupted")]),
        1.0
    );
    assert!(
        !m.iter()
            .any(|s| s.metric == "cdr_sink_last_success_timestamp_seconds"),
        "an interrupted run is no success"
    );

    // The stopped run released its claims on the way out.
    let claims: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.starts_with("_cdr_sink/claims/") && f.ends_with(".json"))
        .collect();
    assert!(claims.is_empty(), "claims left: {claims:?}");

    // The same command again finishes the rest, at once (no lease to wait out).
    let rerun = archive(&sim, &out, dir.path()).output().await.unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let want = truth(&sim, &[CdrType::Sms], &[window(START, END)]);
    assert_same(&read_csv_archive(&out), &want);
    let left: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| {
            f.contains(".cdr-tmp")
                || f.split('/').any(|s| s.starts_with('.') && s != ".cdr-lock")
                || (f.starts_with("_cdr_sink/claims/") && f.ends_with(".json"))
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["status"], "ok");
    let m = metrics(&dir.path().join("cdr_sink.prom"));
    assert_eq!(
        gauge(&m, "cdr_sink_last_run_info", &[("status", "ok")]),
        1.0
    );
    assert_eq!(
        gauge(&m, "cdr_sink_last_run_windows_done", &[("cdr_type", "SMS")]) as u64 + done,
        12
    );
    assert!(
        gauge(
            &m,
            "cdr_sink_last_success_timestamp_seconds",
            &[("cdr_type", "SMS")]
        ) > 0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_and_a_rerun_resumes() {
    stop_then_resume(libc::SIGTERM, 143, "SIGTERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_gracefully_and_a_rerun_resumes() {
    stop_then_resume(libc::SIGINT, 130, "SIGINT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_still_writes_the_summary_and_the_metrics() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    // A previous run's files: both must be replaced, not left saying "ok".
    std::fs::write(dir.path().join("summary.json"), "{\"status\":\"ok\"}").unwrap();
    std::fs::write(
        dir.path().join("cdr_sink.prom"),
        "cdr_sink_last_success_timestamp_seconds{cdr_type=\"SMS\"} 1700000000\n",
    )
    .unwrap();
    let output = archive(&sim, &out, dir.path())
        .env("TSG_PASSWORD", "wrong password")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["status"], "error", "{summary}");
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["summary_version"], 2);
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains("authentication failed at"), "{error}");
    assert!(!error.contains("wrong password"), "{error}");
    assert_eq!(sim.counters().failed_logins, 1);

    let m = metrics(&dir.path().join("cdr_sink.prom"));
    assert_eq!(
        gauge(&m, "cdr_sink_last_run_info", &[("status", "error")]),
        1.0
    );
    // The last success is carried forward from the previous file.
    assert_eq!(
        gauge(
            &m,
            "cdr_sink_last_success_timestamp_seconds",
            &[("cdr_type", "SMS")]
        ),
        1_700_000_000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_writes_an_error_summary_with_exit_2() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let output = bin(&sim)
        .args(["archive", "--type", "SMS", "--start", END, "--end", START])
        .arg("--out")
        .arg(dir.path().join("archive"))
        .arg("--summary-json")
        .arg(dir.path().join("summary.json"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["status"], "error");
    assert_eq!(summary["exit_code"], 2);
    assert!(
        summary["error"].as_str().unwrap().contains("--end"),
        "{summary}"
    );
    assert_eq!(sim.counters().requests, 0, "bad input calls nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_max_behind_alerts_on_a_type_that_is_behind() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let status = bin(&sim)
        .args([
            "archive",
            "--type",
            "SMS",
            "--start",
            START,
            "--end",
            "2026-11-03T02:00:00Z",
            "--format",
            "csv",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let behind = |max: &str, types: &str| {
        let mut cmd = bin(&sim);
        cmd.args(["status", "--type", types, "--max-behind", max])
            .arg("--out")
            .arg(&out);
        cmd
    };
    // Complete up to 2026-11-03T02:00Z: far behind now at any time this runs.
    let late = behind("1h", "SMS").output().await.unwrap();
    assert_eq!(late.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert!(
        stderr.contains("SMS is complete only up to") && stderr.contains("--max-behind 1h"),
        "{stderr}"
    );
    // A limit longer than the time since then passes.
    let since = chrono::Utc::now() - t("2026-11-03T02:00:00Z");
    let generous = format!("{}d", since.num_days() + 2);
    let fine = behind(&generous, "SMS").output().await.unwrap();
    assert_eq!(
        fine.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
    // A type with nothing archived is behind by any limit.
    let empty = behind(&generous, "SMS,VOICE").output().await.unwrap();
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("VOICE has nothing archived"));
}

#[tokio::test]
async fn completions_man_page_and_version() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdr-sink"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        // fish names long flags without their dashes (`-l max-behind`).
        for word in [
            "archive",
            "verify",
            "status",
            "reconcile",
            "export",
            "max-behind",
        ] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
        std::fs::write(dir.path().join(shell), &script).unwrap();
    }
    // The bash script is valid bash.
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("bash"))
        .status()
        .unwrap();
    assert!(syntax.success());
    let man = run(&["manpage"]);
    assert!(man.contains(".TH cdr-sink "), "{man:.300}");
    let list = run(&["manpage", "--list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        [
            "archive",
            "verify",
            "status",
            "reconcile",
            "export",
            "completions"
        ]
    );
    let status = run(&["manpage", "status"]);
    assert!(status.contains(".TH cdr-sink-status "), "{status:.300}");
    assert!(status.contains("max\\-behind"), "{status}");
    let reconcile = run(&["manpage", "reconcile"]);
    assert!(
        reconcile.contains(".TH cdr-sink-reconcile "),
        "{reconcile:.300}"
    );
    assert!(reconcile.contains("re\\-rated"), "{reconcile}");
    let version = run(&["--version"]);
    assert!(
        version.starts_with(&format!("cdr-sink {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    assert!(version.contains("commit "), "{version}");
    assert!(version.contains("target "), "{version}");
}

/// A reader that goes away (`cdr-sink status | head -1`, a cron job with
/// its output closed) does not make the binary panic: what it prints is
/// dropped, and it exits with the status of its work.
#[test]
fn a_closed_stdout_and_stderr_are_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("archive")).unwrap();
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cdr-sink"));
        c.args(["status", "--out"]).arg(dir.path().join("archive"));
        c
    };
    let read = command().output().unwrap();
    assert!(!read.stdout.is_empty(), "status printed nothing");
    let mut child = command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both pipes' read ends close before the binary writes anything.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    // The same exit status as when its output is read (a panic is 101).
    assert_eq!(status.code(), read.status.code());
    assert_ne!(status.code(), Some(101));
}
