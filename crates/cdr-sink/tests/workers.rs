//! Many `cdr-sink archive` processes on one `--out`, on local disk and on a
//! real S3-compatible server: they share the plan through claims, a killed
//! worker's units are finished by the others once its lease expires, and an
//! overlapping run never makes another fail.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cdr_core::CdrType;
use cdr_sim::{SimConfig, SimHandle};
use common::*;

const START: &str = "2026-11-04T00:00:00Z";
const END: &str = "2026-11-04T08:00:00Z";

/// Where the archive goes: a local directory, or a prefix of a bucket.
#[derive(Clone)]
enum Out {
    Local(PathBuf),
    S3 { endpoint: String, url: String },
}

impl Out {
    fn arg(&self) -> String {
        match self {
            Out::Local(p) => p.display().to_string(),
            Out::S3 { url, .. } => url.clone(),
        }
    }

    /// The archive's rows, and every key under it.
    async fn read(
        &self,
    ) -> (
        std::collections::BTreeMap<String, Vec<Vec<String>>>,
        Vec<String>,
    ) {
        match self {
            Out::Local(p) => (read_csv_archive(p), files(p)),
            Out::S3 { url, .. } => {
                let dest = s3_at(url).await;
                let dir = mirror(dest.as_ref()).await;
                (read_csv_archive(dir.path()), files(dir.path()))
            }
        }
    }
}

fn command(sim: &SimHandle, out: &Out, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = bin(sim);
    if let Out::S3 { endpoint, .. } = out {
        cmd.env("AWS_ENDPOINT_URL", endpoint)
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
    .args(["--format", "csv", "--limit", "100", "--concurrency", "2"])
    .args(["--lease", "5s", "--out", &out.arg()])
    .args(extra)
    .stdin(std::process::Stdio::null());
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary_of(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("summary written")).expect("summary JSON")
}

async fn local() -> (tempfile::TempDir, Out) {
    let dir = tempfile::tempdir().unwrap();
    let out = Out::Local(dir.path().join("archive"));
    (dir, out)
}

async fn s3(hint: &str) -> Out {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket(hint).await.unwrap();
    Out::S3 {
        endpoint: server.endpoint(),
        url: format!("s3://{bucket}/cdrs/"),
    }
}

fn sim_config() -> SimConfig {
    // A little latency per page, so that workers overlap.
    SimConfig {
        latency: Duration::from_millis(3),
        ..SimConfig::default()
    }
}

fn want(sim: &SimHandle) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    truth(sim, &[CdrType::Sms, CdrType::Voice], &[window(START, END)])
}

/// No claim, probe or temporary file is left.
fn assert_clean(keys: &[String]) {
    let left: Vec<&String> = keys
        .iter()
        .filter(|k| {
            k.starts_with("_cdr_sink/claims/") && k.ends_with(".json")
                || k.starts_with("_cdr_sink/probe/") && k.ends_with(".json")
                || k.contains(".cdr-tmp")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// (a) Four workers of one plan end with exactly the ground truth, and every
/// page is fetched once: as many requests as one worker alone needs.
async fn four_workers_share_one_plan(out: Out, alone: Out) {
    let sim = sim(sim_config()).await;
    let o = command(&sim, &alone, &[]).output().await.unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pages_alone = sim.counters().graphql_requests;

    let dir = tempfile::tempdir().unwrap();
    let mut workers = Vec::new();
    for i in 0..4 {
        let summary = dir.path().join(format!("w{i}.json"));
        // A lease long enough that a renewal delayed by a loaded machine (and
        // moto serving four workers through one lock) cannot lose a claim:
        // this test is about sharing the work, not about expiry.
        let mut cmd = command(
            &sim,
            &out,
            &[
                "--lease",
                "60s",
                "--summary-json",
                &summary.display().to_string(),
            ],
        );
        workers.push((cmd.output(), summary));
    }
    let mut archived = 0;
    for (run, summary) in workers {
        let o = run.await.unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let s = summary_of(&summary);
        assert_eq!(s["status"], "ok");
        for t in ["SMS", "VOICE"] {
            archived += s["types"][t]["units_done"].as_u64().unwrap();
        }
    }
    assert_eq!(
        archived, 16,
        "each of the 16 units archived by exactly one worker"
    );
    assert_eq!(
        sim.counters().graphql_requests - pages_alone,
        pages_alone,
        "every page fetched once"
    );
    let (rows, keys) = out.read().await;
    assert_same(&rows, &want(&sim));
    assert_clean(&keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_share_one_plan_local() {
    let (_a, out) = local().await;
    let (_b, alone) = local().await;
    four_workers_share_one_plan(out, alone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_share_one_plan_s3() {
    four_workers_share_one_plan(s3("workers").await, s3("alone").await).await;
}

/// The pids of the owners of the claims under the archive now.
async fn claim_owners(out: &Out) -> Vec<u64> {
    let dest = store(out).await;
    let mut pids = Vec::new();
    for t in [CdrType::Sms, CdrType::Voice] {
        if let Ok(claims) = cdr_sink::claim::list(dest.as_ref(), t).await {
            pids.extend(
                claims
                    .iter()
                    .filter_map(|c| c.owner.as_ref())
                    .map(|o| u64::from(o.pid)),
            );
        }
    }
    pids
}

/// How many units the ledger holds.
async fn finished_units(out: &Out) -> usize {
    let dest = store(out).await;
    let mut n = 0;
    for t in [CdrType::Sms, CdrType::Voice] {
        n += cdr_sink::ledger::list_windows(dest.as_ref(), t)
            .await
            .map_or(0, |w| w.len());
    }
    n
}

async fn store(out: &Out) -> std::sync::Arc<dyn cdr_sink_api::Destination> {
    match out {
        Out::Local(p) => std::sync::Arc::new(cdr_sink_local::LocalDir::new(p)),
        Out::S3 { url, .. } => s3_at(url).await,
    }
}

/// (b) One of four workers is killed while it holds a claim; the others
/// finish its units once its lease has expired.
async fn a_killed_workers_units_are_finished_by_the_others(out: Out) {
    let sim = sim(SimConfig {
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let mut victim = command(&sim, &out, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = u64::from(victim.id().expect("pid"));
    let others: Vec<_> = (0..3).map(|_| command(&sim, &out, &[]).output()).collect();
    // Kill it as soon as it holds a claim.
    let mut held = false;
    for _ in 0..2000 {
        if claim_owners(&out).await.contains(&pid) {
            held = true;
            break;
        }
        if victim.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(held, "the worker never held a claim");
    victim.start_kill().unwrap();
    victim.wait().await.unwrap();
    for o in futures_util::future::join_all(others).await {
        let o = o.unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let (rows, _) = out.read().await;
    assert_same(&rows, &want(&sim));
    // What the killed worker left half-written (a claim it was releasing,
    // a bookkeeping write it was making) the next run removes.
    let o = command(&sim, &out, &[]).output().await.unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (rows, keys) = out.read().await;
    assert_same(&rows, &want(&sim));
    assert_clean(&keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_units_are_finished_by_the_others_local() {
    let (_d, out) = local().await;
    a_killed_workers_units_are_finished_by_the_others(out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_units_are_finished_by_the_others_s3() {
    a_killed_workers_units_are_finished_by_the_others(s3("killed").await).await;
}

/// (c) A second run of the same command started while the first is busy
/// (an hourly job whose last run is still going) makes neither fail.
async fn an_overlapping_run_makes_neither_fail(out: Out) {
    let sim = sim(SimConfig {
        latency: Duration::from_millis(10),
        ..SimConfig::default()
    })
    .await;
    let first = command(&sim, &out, &[]).output();
    let second = async {
        // Once the first has finished a unit or two.
        for _ in 0..4000 {
            if finished_units(&out).await >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        command(&sim, &out, &[]).output().await
    };
    let (a, b) = tokio::join!(first, second);
    for o in [a.unwrap(), b.unwrap()] {
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let (rows, keys) = out.read().await;
    assert_same(&rows, &want(&sim));
    assert_clean(&keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_run_makes_neither_fail_local() {
    let (_d, out) = local().await;
    an_overlapping_run_makes_neither_fail(out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_run_makes_neither_fail_s3() {
    an_overlapping_run_makes_neither_fail(s3("overlap").await).await;
}

/// (d) A store that ignores conditional writes cannot coordinate runs: it is
/// refused up front, with one line that names it, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_ignores_conditional_writes_is_refused() {
    let careless = cdr_testkit::S3Server::start_ignoring_conditions().expect("S3 test server");
    let bucket = careless.new_bucket("careless").await.unwrap();
    let sim = sim(sim_config()).await;
    let out = Out::S3 {
        endpoint: careless.endpoint(),
        url: format!("s3://{bucket}/cdrs/"),
    };
    let o = command(&sim, &out, &[]).output().await.unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("cdr-sink:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&format!("s3://{bucket}/cdrs/"))
            && lines[0].contains("ignored a create-only write (If-None-Match)"),
        "{err}"
    );
    assert!(careless.objects(&bucket).await.unwrap().is_empty());
    assert_eq!(sim.counters().requests, 0, "no API request either");
}
