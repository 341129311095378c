//! `cdr-sink export` against the simulator: exact CSV, splitting of cut-off
//! exports, local and S3 outputs, and no export link in anything printed.

mod common;

use cdr_core::{CdrType, RecordKind};
use cdr_sim::SimConfig;
use common::*;

const START: &str = "2026-11-04T00:00:00Z";
const END: &str = "2026-11-04T03:00:00Z";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Header and rows of a CSV file, in file order, money normalised.
fn read_export(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let money: Vec<bool> = headers
        .iter()
        .map(|h| h == "charge" || h == "calledRate")
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("csv record")
                .iter()
                .zip(&money)
                .map(|(v, &m)| {
                    if m && !v.is_empty() {
                        cdr_core::parse_decimal(v)
                            .expect("decimal")
                            .normalize()
                            .to_string()
                    } else {
                        v.to_string()
                    }
                })
                .collect()
        })
        .collect();
    (headers, rows)
}

/// The ground truth of one type, in server order.
fn truth_in_order(sim: &cdr_sim::SimHandle, t: CdrType) -> Vec<Vec<String>> {
    sim.ground_truth(t, window(START, END))
        .map(|r| row(&r))
        .collect()
}

async fn export(
    sim: &cdr_sim::SimHandle,
    t: &str,
    out: &str,
    extra: &[&str],
) -> std::process::Output {
    bin(sim)
        .args([
            "export", "--type", t, "--start", START, "--end", END, "--out", out,
        ])
        .args(extra)
        .output()
        .await
        .expect("binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_every_type_equals_the_ground_truth_in_order() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    for t in CdrType::ALL {
        let out = dir.path().join(format!("{}.csv", t.as_lower()));
        let o = export(&sim, t.as_str(), out.to_str().unwrap(), &[]).await;
        assert!(o.status.success(), "{t}: {}", text(&o.stderr));
        let (headers, rows) = read_export(&std::fs::read(&out).unwrap());
        let want: Vec<&str> = t
            .record_kind()
            .columns()
            .iter()
            .map(|c| c.graphql)
            .collect();
        assert_eq!(headers, want, "{t}");
        assert_eq!(rows, truth_in_order(&sim, t), "{t}");
        let grouped = cdr_sink::group(rows.len() as u64);
        assert!(
            text(&o.stdout).contains(&format!("{grouped} rows")),
            "{}",
            text(&o.stdout)
        );
    }
    // Only the outputs: no temporary file is left beside them.
    let names = files(dir.path());
    assert_eq!(names, ["api.csv", "mms.csv", "sms.csv", "voice.csv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_export_is_split_and_still_exact_with_no_link_printed() {
    let sim = sim(SimConfig {
        // Far fewer rows than the window holds: the whole window is always cut.
        export_row_cap: Some(1500),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sms.csv");
    let summary = dir.path().join("summary.json");
    let o = bin(&sim)
        .env("RUST_LOG", "trace")
        .args(["export", "--type", "sms", "--start", START, "--end", END])
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let (headers, rows) = read_export(&bytes);
    assert_eq!(headers[0], "datetime");
    assert_eq!(rows, truth_in_order(&sim, CdrType::Sms));
    assert_eq!(
        text(&bytes).matches("datetime,fromNumber").count(),
        1,
        "one header"
    );
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert!(s["splits"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["rows"].as_u64().unwrap() as usize, rows.len());
    // The export link is a secret: nothing printed holds it or its signature.
    for stream in [text(&o.stdout), text(&o.stderr), s.to_string()] {
        assert!(!stream.contains("sig="), "{stream}");
        assert!(!stream.contains("/export/"), "{stream}");
        assert!(!stream.contains(PASSWORD));
    }
    assert!(text(&o.stderr).contains("cut"), "the split is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_fields_come_in_the_asked_order() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("voice.csv");
    let o = export(
        &sim,
        "VOICE",
        out.to_str().unwrap(),
        &["--fields", "charge,call_id"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (headers, rows) = read_export(&std::fs::read(&out).unwrap());
    assert_eq!(headers, ["datetime", "charge", "callId"]);
    let cols = RecordKind::Voice.columns();
    let idx = |n: &str| cols.iter().position(|c| c.graphql == n).unwrap();
    let want: Vec<Vec<String>> = truth_in_order(&sim, CdrType::Voice)
        .into_iter()
        .map(|r| {
            vec![
                r[0].clone(),
                r[idx("charge")].clone(),
                r[idx("callId")].clone(),
            ]
        })
        .collect();
    assert_eq!(rows, want);
    // An unknown field is bad input, before any request.
    let before = sim.counters().requests;
    let o = export(
        &sim,
        "VOICE",
        out.to_str().unwrap(),
        &["--fields", "fromNumber"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("valid fields are"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(sim.counters().requests, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_be_split_further_fails_and_writes_nothing() {
    let sim = sim(SimConfig {
        export_row_cap: Some(0),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("api.csv");
    let o = export(&sim, "API", out.to_str().unwrap(), &["--min-window", "30m"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("minimum window"),
        "{}",
        text(&o.stderr)
    );
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_s3_with_splits_is_exact() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket("export").await.unwrap();
    let sim = sim(SimConfig {
        export_row_cap: Some(2000),
        ..SimConfig::default()
    })
    .await;
    let o = bin(&sim)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .args(["export", "--type", "MMS", "--start", START, "--end", END])
        .args(["--out", &format!("s3://{bucket}/exports/mms.csv")])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let body = server
        .client()
        .get_object()
        .bucket(&bucket)
        .key("exports/mms.csv")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let (_, rows) = read_export(&body);
    assert_eq!(rows, truth_in_order(&sim, CdrType::Mms));
    assert!(server.pending_uploads(&bucket).await.unwrap().is_empty());
    assert_eq!(server.objects(&bucket).await.unwrap(), ["exports/mms.csv"]);
}
