//! The `cdr-sim` binary: its help, and a run that prints URL and credentials.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

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
        "--quota",
        "--quota-window-ms",
        "--quota-no-retry-after",
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
        vec!["--quota", "0"],
        vec!["--quota", "5", "--quota-window-ms", "0"],
        vec!["--quota-window-ms", "500"],
        vec!["--quota-no-retry-after"],
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

/// Starts the binary with `args`; its base URL.
fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("cdr-sim listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    (child, base)
}

/// Status and `Retry-After` of `n` GraphQL requests in a row.
async fn statuses(base: &str, n: usize) -> Vec<(u16, Option<String>)> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http
            .post(format!("{base}/graphql"))
            .bearer_auth("POAPK_sim-static-token")
            .json(&serde_json::json!({
                "query": "{ cdrRecords(type: SMS, startDatetime: \"2026-11-01T00:00:00Z\", endDatetime: \"2026-11-01T01:00:00Z\", limit: 1) { cdrs { __typename } } }"
            }))
            .send()
            .await
            .unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|h| h.to_str().unwrap().to_string());
        out.push((r.status().as_u16(), retry_after));
    }
    out
}

#[tokio::test]
async fn the_binary_applies_its_quota() {
    let now = ["--now", "2026-11-02T00:00:00Z"];
    // Two requests an hour: the third is refused, with the hour to wait.
    let (mut child, base) = spawn(&[
        now[0],
        now[1],
        "--quota",
        "2",
        "--quota-window-ms",
        "3600000",
    ]);
    let seen = statuses(&base, 3).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(&seen[..2], [(200, None), (200, None)], "{seen:?}");
    assert_eq!(seen[2].0, 429, "{seen:?}");
    let secs: u64 = seen[2].1.as_deref().unwrap().parse().unwrap();
    assert!((3599..=3600).contains(&secs), "{seen:?}");

    let (mut child, base) = spawn(&[
        now[0],
        now[1],
        "--quota",
        "1",
        "--quota-window-ms",
        "3600000",
        "--quota-no-retry-after",
    ]);
    let seen = statuses(&base, 2).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(seen, [(200, None), (429, None)]);
}
