//! SIGKILL the real binary at many moments of a run, re-run it each time, and
//! check that the archive ends with exactly the ground truth and nothing
//! temporary left behind.

mod common;

use std::time::{Duration, Instant};

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use common::*;

const START: &str = "2026-11-03T00:00:00Z";
const END: &str = "2026-11-03T06:00:00Z";

fn command(sim: &cdr_sim::SimHandle, out: &std::path::Path) -> tokio::process::Command {
    let mut cmd = bin(sim);
    cmd.args([
        "archive",
        "--type",
        "SMS,VOICE",
        "--start",
        START,
        "--end",
        END,
    ])
    .args([
        "--format",
        "csv",
        "--limit",
        "50",
        "--concurrency",
        "3",
        "--roll-rows",
        "400",
        // A killed run's claims block its units until their lease expires.
        "--lease",
        "5s",
    ])
    .arg("--out")
    .arg(out)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    cmd
}

/// Entries (finished, temporary or bookkeeping) under `root`.
fn entries(root: &std::path::Path) -> usize {
    files(root).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_then_rerun_is_exactly_once() {
    // Latency per page makes each run long enough to be killed in the middle.
    let sim = sim(SimConfig {
        latency: Duration::from_millis(4),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let mut kills = 0;
    let mut finished_early = 0;
    // Kill points: after the output holds k more entries than before this run,
    // for growing k, so kills land during writes, commits and ledger writes.
    for k in [1usize, 2, 3, 5, 8, 13, 21] {
        let before = entries(&out);
        let mut child = command(&sim, &out).spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        while exited.is_none() && entries(&out) < before + k && Instant::now() < deadline {
            exited = child.try_wait().expect("try_wait");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        match exited {
            Some(_) => finished_early += 1,
            None => {
                child.start_kill().expect("SIGKILL");
                child.wait().await.expect("reaped");
                kills += 1;
            }
        }
    }
    assert!(
        kills >= 3,
        "only {kills} runs were killed mid-way ({finished_early} finished)"
    );
    // The final run completes.
    let status = command(&sim, &out).status().await.unwrap();
    assert!(status.success());
    let want = truth(&sim, &[CdrType::Sms, CdrType::Voice], &[window(START, END)]);
    assert_same(&read_csv_archive(&out), &want);
    let all = files(&out);
    // Lock files of the directories written with conditional writes stay.
    let left: Vec<&String> = all
        .iter()
        .filter(|f| {
            f.contains(".cdr-tmp") || f.split('/').any(|s| s.starts_with('.') && s != ".cdr-lock")
        })
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    assert!(
        !all.iter()
            .any(|f| f.starts_with("_cdr_sink/claims/") && f.ends_with(".json")),
        "claims left: {all:?}"
    );
    assert_eq!(
        all.iter()
            .filter(|f| f.starts_with("_cdr_sink/ledger/") && f.ends_with(".json"))
            .count(),
        12
    );
}
