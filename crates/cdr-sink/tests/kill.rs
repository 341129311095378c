//! SIGKILL the real binary at many moments of a run, re-run it each time, and
//! check that the archive ends with exactly the ground truth and nothing
//! temporary left behind: on local disk and on S3, in CSV and Parquet.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use common::*;

const START: &str = "2026-11-03T00:00:00Z";
const END: &str = "2026-11-03T06:00:00Z";

/// Where the runs write: a local directory, or a prefix of a fresh bucket.
enum Out {
    Local(PathBuf),
    S3 { bucket: String },
}

impl Out {
    fn arg(&self) -> String {
        match self {
            Out::Local(p) => p.display().to_string(),
            Out::S3 { bucket } => format!("s3://{bucket}/cdrs/"),
        }
    }

    /// Entries (finished, temporary or bookkeeping; on S3 also pending
    /// multipart uploads).
    async fn entries(&self) -> usize {
        match self {
            Out::Local(p) => files(p).len(),
            Out::S3 { bucket } => {
                let server = cdr_testkit::S3Server::shared().unwrap();
                server.objects(bucket).await.unwrap().len()
                    + server.pending_uploads(bucket).await.unwrap().len()
            }
        }
    }

    /// Every key under the output, and what is left unfinished.
    async fn keys(&self) -> (Vec<String>, Vec<String>) {
        match self {
            Out::Local(p) => {
                let all = files(p);
                // Lock files of the directories written with conditional
                // writes stay.
                let left = all
                    .iter()
                    .filter(|f| {
                        f.contains(".cdr-tmp")
                            || f.split('/').any(|s| s.starts_with('.') && s != ".cdr-lock")
                    })
                    .cloned()
                    .collect();
                (all, left)
            }
            Out::S3 { bucket } => {
                let server = cdr_testkit::S3Server::shared().unwrap();
                let all = server
                    .objects(bucket)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|k| k.strip_prefix("cdrs/").unwrap_or(&k).to_string())
                    .collect();
                let left = server
                    .pending_uploads(bucket)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|u| u.key)
                    .collect();
                (all, left)
            }
        }
    }

    async fn dest(&self) -> std::sync::Arc<dyn cdr_sink_api::Destination> {
        match self {
            Out::Local(p) => std::sync::Arc::new(cdr_sink_local::LocalDir::new(p)),
            Out::S3 { .. } => s3_at(&self.arg()).await,
        }
    }

    async fn rows(&self, format: &str) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
        let read = |p: &Path| {
            if format == "csv" {
                read_csv_archive(p)
            } else {
                read_parquet_archive(p)
            }
        };
        match self {
            Out::Local(p) => read(p),
            Out::S3 { .. } => {
                let dest = s3_at(&self.arg()).await;
                let dir = mirror(dest.as_ref()).await;
                read(dir.path())
            }
        }
    }
}

fn command(sim: &cdr_sim::SimHandle, out: &Out, format: &str) -> tokio::process::Command {
    let mut cmd = bin(sim);
    if let Out::S3 { .. } = out {
        let server = cdr_testkit::S3Server::shared().unwrap();
        cmd.env("AWS_ENDPOINT_URL", server.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
    }
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
        format,
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
    .args(["--out", &out.arg()])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    cmd
}

async fn sigkill_at_any_moment_then_rerun_is_exactly_once(out: Out, format: &str) {
    // Latency per page makes each run long enough to be killed in the middle.
    let sim = sim(SimConfig {
        latency: Duration::from_millis(4),
        ..SimConfig::default()
    })
    .await;
    let mut kills = 0;
    let mut finished_early = 0;
    // Kill points: after the output holds k more entries than before this run,
    // for growing k, so kills land during writes, commits and ledger writes.
    for k in [1usize, 2, 3, 5, 8, 13, 21] {
        let before = out.entries().await;
        let mut child = command(&sim, &out, format).spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        while exited.is_none() && out.entries().await < before + k && Instant::now() < deadline {
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
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let status = command(&sim, &out, format)
        .arg("--summary-json")
        .arg(&summary)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let final_run = summary["run_id"].as_str().unwrap().to_string();
    let want = truth(&sim, &[CdrType::Sms, CdrType::Voice], &[window(START, END)]);
    assert_same(&out.rows(format).await, &want);
    let (all, left) = out.keys().await;
    assert!(left.is_empty(), "temporary state left: {left:?}");
    // A run killed between a unit's ledger entry and the release of its
    // claim leaves the claim until its lease expires: only such claims may
    // be left, and a run after their expiry removes them.
    let is_claim = |f: &String| f.starts_with("_cdr_sink/claims/") && f.ends_with(".json");
    let dest = out.dest().await;
    for claim in all.iter().filter(|f| is_claim(f)) {
        let entry = claim.replace("_cdr_sink/claims/", "_cdr_sink/ledger/");
        assert!(
            all.contains(&entry),
            "a claim of an unfinished unit: {all:?}"
        );
        let key = cdr_sink_api::ObjectKey::new(claim.as_str()).unwrap();
        let doc: cdr_sink::claim::ClaimDoc =
            serde_json::from_slice(&dest.get(&key).await.unwrap().unwrap()).unwrap();
        assert_ne!(doc.owner.run_id, final_run, "the final run kept {claim}");
    }
    let later: std::sync::Arc<dyn cdr_sink_api::Destination> = std::sync::Arc::new(Later {
        inner: dest,
        ahead: Duration::from_secs(3600),
    });
    let again = cdr_sink::RawArchive {
        start: START.into(),
        end: END.into(),
        ..raw("SMS,VOICE", format)
    };
    let s = run_at(&sim, later, &again, chrono::Utc::now())
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    assert_eq!(
        s.types.values().map(|t| t.units_done).sum::<u64>(),
        0,
        "{s}"
    );
    let (all, left) = out.keys().await;
    assert!(left.is_empty(), "temporary state left: {left:?}");
    assert!(!all.iter().any(is_claim), "claims left: {all:?}");
    assert_eq!(
        all.iter()
            .filter(|f| f.starts_with("_cdr_sink/ledger/") && f.ends_with(".json"))
            .count(),
        12
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_then_rerun_is_exactly_once_local_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = Out::Local(dir.path().join("archive"));
    sigkill_at_any_moment_then_rerun_is_exactly_once(out, "csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_then_rerun_is_exactly_once_local_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = Out::Local(dir.path().join("archive"));
    sigkill_at_any_moment_then_rerun_is_exactly_once(out, "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_then_rerun_is_exactly_once_s3_parquet() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket("kill").await.unwrap();
    sigkill_at_any_moment_then_rerun_is_exactly_once(Out::S3 { bucket }, "parquet").await;
}
