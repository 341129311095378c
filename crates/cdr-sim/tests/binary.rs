//! The `cdr-sim` binary: its help, and a run that prints URL and credentials.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cdr-sim");

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--seed",
        "--rate",
        "--user",
        "--admin",
        "--static-token",
        "--rate-limit",
        "--retry-after",
        "--server-error",
        "--reset",
        "--truncate",
        "--fault-seed",
        "--export-faults",
        "--latency-ms",
        "--export-row-cap",
        "--token-ttl-requests",
        "--expired-status",
        "--expired-message",
        "--expired-code",
        "--unknown-member",
        "--now",
        "--no-fast-path",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        // Each flag has a description, on its line or the next.
        let pos = help.find(line).unwrap() + line.len();
        let rest = help[pos..].lines().nth(1).unwrap_or("");
        assert!(
            line.trim().len() > flag.len() + 8 || !rest.trim().is_empty(),
            "{flag} undocumented"
        );
    }
}

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    for args in [
        vec!["--rate", "fax=3"],
        vec!["--rate-limit", "1.5"],
        vec!["--user", "nopassword"],
        vec!["--now", "yesterday"],
        vec!["--unknown-member", "RcsCdr"],
        vec!["--unknown-member", "VoiceCdr:10"],
        vec!["--unknown-member", "RcsCdr:0"],
        vec!["--unknown-member", "RcsCdr:10:fax"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn the_binary_prints_its_url_and_credentials_and_serves() {
    let mut child = Command::new(BIN)
        .args([
            "--seed",
            "3",
            "--rate",
            "sms=7200",
            "--user",
            "ops@example.com:s3cret:77",
            "--now",
            "2026-11-02T00:00:00Z",
            "--unknown-member",
            "RcsCdr:100:sms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("cdr-sim listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("static token");
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    assert!(
        printed.contains("ops@example.com / s3cret (company 77)"),
        "{printed}"
    );
    assert!(printed.contains("admin@example.com"), "{printed}");
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/account/login"))
        .json(&serde_json::json!({"email": "ops@example.com", "password": "s3cret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let body: serde_json::Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "query": "{ cdrRecords(type: SMS, startDatetime: \"2026-11-01T00:00:00Z\", endDatetime: \"2026-11-01T01:00:00Z\", limit: 1000) { paginationInfo { nextCursor } cdrs { __typename } } }"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cdrs = body["data"]["cdrRecords"]["cdrs"].as_array().unwrap();
    assert_eq!(cdrs.len(), 1000);
    // Records 99, 199, ... 999 of the hour are served as the unknown member.
    let rcs: Vec<usize> = (0..cdrs.len())
        .filter(|&i| cdrs[i] == serde_json::json!({"__typename": "RcsCdr"}))
        .collect();
    assert_eq!(rcs, (0..10).map(|k| k * 100 + 99).collect::<Vec<_>>());
    assert!(body["data"]["cdrRecords"]["paginationInfo"]["nextCursor"].is_string());
    child.kill().unwrap();
    child.wait().unwrap();
}
