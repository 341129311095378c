//! `cdr-sink archive` to S3 (a real S3-compatible server over HTTP), configured
//! the way operators do: the standard AWS environment.

mod common;

use std::path::Path;

use cdr_core::CdrType;
use cdr_sim::{Faults, SimConfig};
use common::*;

const START: &str = "2026-11-05T20:00:00Z";
const END: &str = "2026-11-06T01:00:00Z";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn archive_to_s3(
    sim: &cdr_sim::SimHandle,
    server: &cdr_testkit::S3Server,
    url: &str,
    extra: &[&str],
) -> std::process::Output {
    bin(sim)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .args([
            "archive",
            "--type",
            "SMS,MMS,VOICE,API",
            "--start",
            START,
            "--end",
            END,
        ])
        .args(["--out", url])
        .args(extra)
        .output()
        .await
        .expect("binary runs")
}

/// Downloads every object under `prefix` into `dir`, keeping the key layout.
async fn download(server: &cdr_testkit::S3Server, bucket: &str, prefix: &str, dir: &Path) {
    let client = server.client();
    for key in server.objects(bucket).await.unwrap() {
        let Some(rel) = key.strip_prefix(prefix) else {
            continue;
        };
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_to_s3_equals_the_ground_truth_and_resumes() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket("archive").await.unwrap();
    let sim = sim(SimConfig::default()).await;
    let url = format!("s3://{bucket}/cdrs/");
    let o = archive_to_s3(&sim, server, &url, &["--concurrency", "6"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dir = tempfile::tempdir().unwrap();
    download(server, &bucket, "cdrs/", dir.path()).await;
    let want = truth(&sim, &CdrType::ALL, &[window(START, END)]);
    assert_same(&read_parquet_archive(dir.path()), &want);
    let objects = server.objects(&bucket).await.unwrap();
    assert!(
        objects.iter().all(|k| k.starts_with("cdrs/")),
        "{objects:?}"
    );
    assert_eq!(
        objects
            .iter()
            .filter(|k| k.starts_with("cdrs/_cdr_sink/ledger/"))
            .count(),
        20,
        "{objects:?}"
    );
    assert!(server.pending_uploads(&bucket).await.unwrap().is_empty());

    let before = sim.counters().graphql_requests;
    let o = archive_to_s3(&sim, server, &url, &[]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        sim.counters().graphql_requests,
        before,
        "a re-run fetches nothing"
    );
    assert_eq!(server.objects(&bucket).await.unwrap(), objects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_to_s3_under_faults_is_exact() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket("faults").await.unwrap();
    let sim = sim(SimConfig {
        faults: Faults {
            rate_limit: 0.06,
            retry_after_secs: 0,
            server_error: 0.05,
            reset: 0.03,
            truncate: 0.03,
            seed: 11,
        },
        token_ttl_requests: Some(13),
        ..SimConfig::default()
    })
    .await;
    let o = archive_to_s3(
        &sim,
        server,
        &format!("s3://{bucket}/"),
        // Small files: units roll over several files that wait, finished but
        // uncommitted, for the unit's end.
        &["--format", "csv", "--limit", "200", "--roll-rows", "500"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dir = tempfile::tempdir().unwrap();
    download(server, &bucket, "", dir.path()).await;
    assert_same(
        &read_csv_archive(dir.path()),
        &truth(&sim, &CdrType::ALL, &[window(START, END)]),
    );
    let c = sim.counters();
    assert!(
        c.rate_limited + c.server_errors + c.resets + c.truncated > 0,
        "{c:?}"
    );
    assert!(server.pending_uploads(&bucket).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_bad_input() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let sim = sim(SimConfig::default()).await;
    let o = archive_to_s3(&sim, server, "s3://no-such-bucket-for-cdrs/x/", &[]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("no-such-bucket-for-cdrs"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(sim.counters().requests, 0);
}
