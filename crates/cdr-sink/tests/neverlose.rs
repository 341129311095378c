//! Everyday situations that must never lose a record or wedge the next run,
//! with the real binary against the simulator: a union member this version
//! does not know, a value that cannot be stored, a rescan that finds fewer
//! records, an expired token in other words, an API that cannot be reached,
//! and an `--end` that has not settled yet.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cdr_core::{CdrType, Window};
use cdr_sim::{ExpiredAnswer, SimConfig, SimHandle, UnknownMembers};
use cdr_sink::ledger;
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;
use common::*;

const START: &str = "2026-11-02T00:00:00Z";
const END: &str = "2026-11-02T03:00:00Z";

fn config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([
            (CdrType::Sms, 600),
            (CdrType::Mms, 60),
            (CdrType::Voice, 300),
            (CdrType::Api, 30),
        ]),
        ..SimConfig::default()
    }
}

async fn archive(sim: &SimHandle, out: &Path, types: &str, extra: &[&str]) -> std::process::Output {
    bin(sim)
        .args(["archive", "--type", types, "--start", START, "--end", END])
        .args(["--format", "csv", "--limit", "100", "--out"])
        .arg(out)
        .args(["--summary-json"])
        .arg(out.with_extension("summary.json"))
        .args(extra)
        .output()
        .await
        .expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.with_extension("summary.json")).unwrap()).unwrap()
}

fn hours() -> Vec<Window> {
    hours_between(START, END)
}

async fn entries(out: &Path, t: CdrType) -> BTreeMap<Window, ledger::UnitEntry> {
    ledger::read_type(&LocalDir::new(out), t).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_member_fails_its_window_until_skipped_on_purpose() {
    let sim = sim(config()).await;
    sim.set_unknown_members(Some(UnknownMembers {
        typename: "RcsCdr".into(),
        types: vec![CdrType::Sms],
        every_nth: 40,
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let o = archive(&sim, &out, "SMS,VOICE", &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    let h = hours()[0];
    let n = sim.injected(CdrType::Sms, h).unknown["RcsCdr"];
    assert!(n > 0);
    assert!(
        err.contains(&format!(
            "`cdrs` of type SMS returned {n} records of union member RcsCdr, which this version cannot store: upgrade cdr-sink, or pass --on-unknown skip"
        )),
        "{err}"
    );
    // Not one SMS window is finished, so a later run fetches them again;
    // VOICE, without unknown members, is.
    assert!(entries(&out, CdrType::Sms).await.is_empty());
    assert_eq!(entries(&out, CdrType::Voice).await.len(), 3);

    let o = archive(&sim, &out, "SMS,VOICE", &["--on-unknown", "skip"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let sms = entries(&out, CdrType::Sms).await;
    assert_eq!(sms.len(), 3);
    for (w, e) in &sms {
        let n = sim.injected(CdrType::Sms, *w).unknown["RcsCdr"];
        assert_eq!(
            e.skipped_members,
            BTreeMap::from([("RcsCdr".to_string(), n)])
        );
        assert_eq!(e.skipped, n);
    }
    let total: u64 = sms.values().map(|e| e.skipped).sum();
    assert_eq!(
        summary(&out)["types"]["SMS"]["unknown_members"]["RcsCdr"],
        total
    );
    assert!(text(&o.stdout).contains(&format!(
        "SMS: skipped {total} records of union member RcsCdr"
    )));
    assert_same(
        &read_csv_archive(&out),
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &[window(START, END)]),
    );
    // status shows them.
    let o = bin(&sim)
        .args(["status", "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(
        text(&o.stdout).contains(&format!("{total} records of union member RcsCdr skipped")),
        "{}",
        text(&o.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_cannot_be_stored_fails_at_once_or_is_quarantined() {
    let sim = sim(config()).await;
    let h = hours()[1];
    sim.corrupt(CdrType::Sms, h, 7, "charge", "\"N/A\"")
        .unwrap();
    sim.corrupt(CdrType::Sms, h, 30, "charge", "0.123456789012")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let before = sim.counters().graphql_requests;
    let o = archive(&sim, &out, "SMS", &["--concurrency", "1"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("record 8 of the window (page 1, a MessageCdr) cannot be stored: `charge`"),
        "{err}"
    );
    assert!(err.contains("--on-bad-record quarantine"), "{err}");
    // Not retried: the failing window cost its first page's request, and at
    // most the pages fetched ahead while that page was checked, as many as a
    // loaded machine lets through: two in the unit's channel
    // (`RunOptions::prefetch`), one in the fetching task's hand and one the
    // record stream sent ahead of it. The two others cost their pages.
    let pages_of = |w: &Window| {
        (sim.ground_truth(CdrType::Sms, *w).count() as u64)
            .div_ceil(100)
            .max(1)
    };
    let others: u64 = hours().iter().filter(|w| **w != h).map(pages_of).sum();
    let used = sim.counters().graphql_requests - before;
    assert!(
        (others + 1..=others + 5).contains(&used),
        "{used} requests, {others} for the other windows"
    );
    assert_eq!(entries(&out, CdrType::Sms).await.len(), 2);

    let o = archive(&sim, &out, "SMS", &["--on-bad-record", "quarantine"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = &entries(&out, CdrType::Sms).await[&h];
    assert_eq!(e.quarantined, 2);
    let key = e.quarantine.clone().expect("a quarantine file");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(out.join(&key))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["position"], 8);
    assert_eq!(lines[0]["field"], "charge");
    assert_eq!(lines[0]["record"]["charge"], "N/A");
    assert_eq!(lines[1]["position"], 31);
    assert_eq!(lines[1]["record"]["__typename"], "MessageCdr");
    assert_eq!(summary(&out)["types"]["SMS"]["quarantined"], 2);
    let o = bin(&sim)
        .args(["verify", "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("2 quarantined"),
        "{}",
        text(&o.stdout)
    );
    assert_same(
        &read_csv_archive(&out),
        &truth(&sim, &[CdrType::Sms], &[window(START, END)]),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_that_finds_fewer_records_is_refused_unless_allowed() {
    let sim = sim(config()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let o = archive(&sim, &out, "VOICE", &[]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let before = read_csv_archive(&out);
    let h = hours()[2];
    let archived = entries(&out, CdrType::Voice).await[&h].records;
    sim.remove(CdrType::Voice, h);

    let o = archive(&sim, &out, "VOICE", &["--rescan", "3h"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "the API now lists 0 records where the archive holds {archived}"
        )),
        "{err}"
    );
    assert!(err.contains("--allow-shrink"), "{err}");
    assert_eq!(
        read_csv_archive(&out),
        before,
        "nothing archived was deleted"
    );
    assert_eq!(entries(&out, CdrType::Voice).await[&h].generation, 0);

    let o = archive(&sim, &out, "VOICE", &["--rescan", "3h", "--allow-shrink"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = &entries(&out, CdrType::Voice).await[&h];
    assert_eq!((e.generation, e.records), (1, 0));
    assert_same(
        &read_csv_archive(&out),
        &truth(&sim, &[CdrType::Voice], &[window(START, END)]),
    );
    // The replaced files are kept aside, with their ledger entry.
    let kept: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.starts_with("_cdr_sink/replaced/"))
        .collect();
    assert!(kept.iter().any(|f| f.ends_with(".csv")), "{kept:?}");
    assert!(
        kept.iter().any(|f| f.contains("/_cdr_sink/ledger/")),
        "{kept:?}"
    );
    let o = bin(&sim)
        .args(["status", "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(
        text(&o.stdout).contains("replaced files"),
        "{}",
        text(&o.stdout)
    );
    let o = bin(&sim)
        .args(["verify", "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(
        o.status.success(),
        "verify ignores kept files: {}",
        text(&o.stdout)
    );

    // --keep-replaced 0s: the next run removes them.
    let o = archive(&sim, &out, "VOICE", &["--keep-replaced", "0s"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let left: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.starts_with("_cdr_sink/replaced/") && !f.ends_with("/.cdr-lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_in_other_words_costs_one_login() {
    for (status, message, code) in [
        (200, "jwt expired", None),
        (400, "Token expired", None),
        (200, "Not allowed", Some("UNAUTHENTICATED")),
    ] {
        let sim = sim(config()).await;
        sim.set_expired_answer(ExpiredAnswer {
            status,
            message: message.into(),
            code: code.map(String::from),
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("archive");
        // The first run logs in once; its token then expires.
        let o = archive(&sim, &out, "API", &["--end", "2026-11-02T01:00:00Z"]).await;
        assert!(o.status.success(), "{}", text(&o.stderr));
        sim.expire_tokens();
        let logins = sim.counters().logins;
        let o = archive(&sim, &out, "SMS", &["--concurrency", "1"]).await;
        assert!(o.status.success(), "{message}: {}", text(&o.stderr));
        assert_eq!(sim.counters().logins - logins, 1, "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_cannot_be_reached_stops_the_run_with_one_line() {
    let sim = sim(config()).await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let o = bin(&sim)
        .env("TSG_API_URL", &url)
        .args([
            "archive",
            "--type",
            "SMS,VOICE",
            "--start",
            START,
            "--end",
            END,
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("cdr-sink:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&url) && lines[0].contains("cannot reach the API"),
        "{err}"
    );
    // It stopped rather than fail every window one by one.
    assert!(!err.contains("FAILED"), "{err}");
}

/// The same command with an `--end` in the future, run again and again as
/// time passes across window boundaries: it never errors, never records an
/// unsettled window, and ends exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_in_the_future_is_archived_as_it_settles() {
    let sim = sim(config()).await;
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(dir.path().join("archive")));
    let mut raw = raw("SMS", "csv");
    raw.start = START.into();
    raw.end = "2026-11-02T06:00:00Z".into();
    raw.window = "15m".into();
    for now in [
        "2026-11-02T00:10:00Z",
        "2026-11-02T00:29:59Z",
        "2026-11-02T00:31:00Z",
        "2026-11-02T01:47:00Z",
        "2026-11-02T03:15:00Z",
        "2026-11-02T07:00:00Z",
    ] {
        let now = t(now);
        let s = run_at(&sim, dest.clone(), &raw, now).await.unwrap();
        assert!(s.is_ok(), "{s}");
        let settled = now - chrono::TimeDelta::minutes(15);
        for (w, _) in ledger::read_type(dest.as_ref(), CdrType::Sms)
            .await
            .unwrap()
        {
            assert!(w.end() <= settled, "{w} recorded as finished at {now}");
        }
    }
    assert_same(
        &read_archive(dest.as_ref(), "csv").await,
        &truth(
            &sim,
            &[CdrType::Sms],
            &[window(START, "2026-11-02T06:00:00Z")],
        ),
    );
}
