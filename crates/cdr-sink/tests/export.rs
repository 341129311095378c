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
    // Each split is logged once, with its reason.
    let logged = text(&o.stderr)
        .lines()
        .filter(|l| l.contains("was cut off (") && l.contains("); exporting its halves"))
        .count();
    assert_eq!(
        logged as u64,
        s["splits"].as_u64().unwrap(),
        "{}",
        text(&o.stderr)
    );
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

// ---------------------------------------------------------------------------
// Answers no simulator gives on cue, scripted byte for byte.

use std::sync::Arc;

use common::script::{Script, close_delimited, http, link_page};

/// A client of the scripted server at `addr` with a static token and no
/// retries.
fn scripted_client(addr: std::net::SocketAddr) -> cdr_transport::Client {
    let config = cdr_transport::ClientConfig::new(cdr_transport::Auth::Token(
        cdr_core::Token::new("POAPK_scripted"),
    ))
    .with_base_url(format!("http://{addr}"))
    .with_retry(cdr_transport::RetryPolicy::none());
    cdr_transport::Client::new(config).unwrap()
}

/// Serves the export of each (sub-)window in turn: a GraphQL answer with a
/// link, then `body` at that link.
fn script_exports(bodies: Vec<Vec<u8>>) -> (Script, std::net::SocketAddr) {
    let script = Script::default();
    let addr = script.start();
    for (i, body) in bodies.into_iter().enumerate() {
        let path = format!("/export/{i}.csv");
        script.push("/graphql", link_page(&format!("http://{addr}{path}?sig=S")));
        script.push(&path, body);
    }
    (script, addr)
}

fn job(min_minutes: i64) -> cdr_sink::ExportJob {
    cdr_sink::ExportJob {
        cdr_type: CdrType::Sms,
        window: window("2026-11-04T00:00:00Z", "2026-11-04T01:00:00Z"),
        selection: cdr_core::Selection::all(),
        company_id: None,
        min_window: chrono::TimeDelta::minutes(min_minutes),
    }
}

async fn run_export(
    addr: std::net::SocketAddr,
    dest: Arc<dyn cdr_sink_api::Destination>,
) -> Result<cdr_sink::ExportSummary, String> {
    let key = cdr_sink_api::ObjectKey::new("sms.csv").unwrap();
    cdr_sink::export(
        &scripted_client(addr),
        &job(15),
        dest,
        &key,
        Arc::new(cdr_sink::ExportProgress::default()),
    )
    .await
    .map_err(|e| e.to_string())
}

fn local_out() -> (tempfile::TempDir, Arc<dyn cdr_sink_api::Destination>) {
    let dir = tempfile::tempdir().unwrap();
    let dest = Arc::new(cdr_sink_local::LocalDir::new(dir.path().join("out")));
    (dir, dest)
}

/// A close-delimited body that ends inside a row looks whole to HTTP: it is
/// taken as cut, and its halves are exported instead, every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_delimited_body_cut_mid_row_is_split() {
    let (script, addr) = script_exports(vec![
        close_delimited("datetime,charge\n2026-11-04T00:10:00Z,1\n2026-11-04T00:40:00Z,"),
        http("200 OK", "", "datetime,charge\n2026-11-04T00:10:00Z,1\n"),
        close_delimited("datetime,charge\n2026-11-04T00:40:00Z,2\n"),
    ]);
    let (dir, dest) = local_out();
    let s = run_export(addr, dest).await.unwrap();
    assert_eq!((s.rows, s.splits, s.windows), (2, 1, 2), "{s}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/sms.csv")).unwrap(),
        "datetime,charge\n2026-11-04T00:10:00Z,1\n2026-11-04T00:40:00Z,2\n"
    );
    assert_eq!(
        script.seen(),
        [
            "/graphql",
            "/export/0.csv",
            "/graphql",
            "/export/1.csv",
            "/graphql",
            "/export/2.csv"
        ]
    );
    assert_eq!(files(dir.path()), ["out/sms.csv"]);
}

/// Sub-windows whose headers differ cannot be joined into one file: the
/// export fails naming both, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_differs_between_sub_windows_fails_the_export() {
    let (_script, addr) = script_exports(vec![
        close_delimited("datetime,charge\n2026-11-04T00:10:00Z,1\n2026-11-04T00:40:00Z,"),
        http("200 OK", "", "datetime,charge\n2026-11-04T00:10:00Z,1\n"),
        http(
            "200 OK",
            "",
            "datetime,charge,status\n2026-11-04T00:40:00Z,2,ok\n",
        ),
    ]);
    let (dir, dest) = local_out();
    let err = run_export(addr, dest).await.unwrap_err();
    assert_eq!(
        err,
        "the export of [2026-11-04T00:30:00Z, 2026-11-04T01:00:00Z) has another header than the first window's: `datetime,charge,status` vs `datetime,charge`"
    );
    assert_eq!(files(dir.path()), Vec::<String>::new());
}

/// A range with no record: an empty body, or a header line without its
/// newline, makes a file of one header line and no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_range_exports_one_header_line() {
    let columns: Vec<&str> = RecordKind::Message
        .columns()
        .iter()
        .map(|c| c.graphql)
        .collect();
    let ours = format!("{}\n", columns.join(","));
    for (body, want) in [
        (http("200 OK", "", ""), ours.as_str()),
        (close_delimited(""), ours.as_str()),
        (http("200 OK", "", "datetime,charge"), "datetime,charge\n"),
    ] {
        let (_script, addr) = script_exports(vec![body]);
        let (dir, dest) = local_out();
        let s = run_export(addr, dest).await.unwrap();
        assert_eq!((s.rows, s.splits, s.windows), (0, 0, 1), "{s}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/sms.csv")).unwrap(),
            want
        );
    }
}

/// A sub-window with no record whose header line lacks its newline joins
/// the others: same header, no row, and the file stays one CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_sub_window_joins_the_others() {
    let (_script, addr) = script_exports(vec![
        close_delimited("datetime,charge\n2026-11-04T00:10:00Z,1\n2026-11-04T00:40:00Z,"),
        http("200 OK", "", "datetime,charge"),
        http("200 OK", "", "datetime,charge\n2026-11-04T00:40:00Z,2\n"),
    ]);
    let (dir, dest) = local_out();
    // The first half holds no record.
    let s = run_export(addr, dest).await.unwrap();
    assert_eq!((s.rows, s.splits, s.windows), (1, 1, 2), "{s}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/sms.csv")).unwrap(),
        "datetime,charge\n2026-11-04T00:40:00Z,2\n"
    );
}

/// An export to S3 that fails after more than a part was uploaded leaves
/// no multipart upload pending and no object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_to_s3_that_cannot_complete_leaves_no_upload() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server");
    let bucket = server.new_bucket("export-fails").await.unwrap();
    // More than the destination's 8 MiB part, then a header that differs.
    let rows = "2026-11-04T00:10:00Z,1\n".repeat(9 * 1024 * 1024 / 23 + 1);
    let (_script, addr) = script_exports(vec![
        close_delimited("datetime,charge\n2026-11-04T00:10:00Z,1\n2026-11-04T00:40:00Z,"),
        http("200 OK", "", &format!("datetime,charge\n{rows}")),
        http("200 OK", "", "datetime,status\n2026-11-04T00:40:00Z,ok\n"),
    ]);
    let dest = s3_at(&format!("s3://{bucket}/exports/")).await;
    let err = run_export(addr, dest).await.unwrap_err();
    assert!(err.contains("has another header"), "{err}");
    assert_eq!(server.pending_uploads(&bucket).await.unwrap().len(), 0);
    assert_eq!(server.objects(&bucket).await.unwrap(), Vec::<String>::new());
}
