//! `cdr-sink verify` and `cdr-sink status` on damaged archives, local and S3:
//! each kind of damage is found with its own message, and the repair commands
//! that verify prints (run with the real binary) make the archive whole again.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use cdr_core::{CdrType, Window};
use cdr_sim::SimConfig;
use cdr_sink::ledger::{self, Replacement};
use cdr_sink::verify::{ProblemKind, VerifyOptions, VerifyReport, verify};
use cdr_sink_api::{Destination, ObjectKey};
use cdr_sink_local::LocalDir;
use common::*;

const START: &str = "2026-11-01T00:00:00Z";
const END: &str = "2026-11-01T08:00:00Z";

fn sim_config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([(CdrType::Sms, 300), (CdrType::Voice, 150)]),
        ..SimConfig::default()
    }
}

fn hour(h: u32) -> Window {
    let start = t(START) + chrono::TimeDelta::hours(h.into());
    Window::new(start, start + chrono::TimeDelta::hours(1)).unwrap()
}

async fn entry(dest: &dyn Destination, ty: CdrType, h: u32) -> ledger::UnitEntry {
    ledger::read(dest, ty, &hour(h)).await.unwrap().unwrap()
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

async fn get(dest: &dyn Destination, k: &str) -> Vec<u8> {
    dest.get(&key(k)).await.unwrap().unwrap().to_vec()
}

async fn put(dest: &dyn Destination, k: &str, body: Vec<u8>) {
    dest.put(&key(k), Bytes::from(body), "application/octet-stream")
        .await
        .unwrap();
}

async fn check(dest: &Arc<dyn Destination>) -> VerifyReport {
    verify(
        dest,
        &VerifyOptions {
            types: vec![],
            concurrency: 3,
            out: "OUT".into(),
        },
    )
    .await
    .unwrap()
}

/// Archives SMS and VOICE over 00:00-08:00, then damages it in every way.
async fn archive_and_damage(sim: &cdr_sim::SimHandle, dest: Arc<dyn Destination>) {
    let raw = cdr_sink::RawArchive {
        start: START.into(),
        end: END.into(),
        ..raw("SMS,VOICE", "parquet")
    };
    let s = run_at(sim, dest.clone(), &raw, t("2026-11-02T00:00:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    sim.set_now(None);
    let before = check(&dest).await;
    assert!(before.is_ok(), "{before}");
    assert_eq!(
        before.files_checked,
        before.types.values().map(|t| t.files).sum::<u64>()
    );
    assert_eq!(before.types["SMS"].windows, 8);
    let d = dest.as_ref();

    // 01:00 SMS: a file deleted.
    let e = entry(d, CdrType::Sms, 1).await;
    d.delete(&key(&e.files[0].key)).await.unwrap();
    // 02:00 SMS: a file truncated.
    let e = entry(d, CdrType::Sms, 2).await;
    let body = get(d, &e.files[0].key).await;
    put(d, &e.files[0].key, body[..body.len() / 2].to_vec()).await;
    // 03:00 SMS: a stale file of a finished window, not in the ledger.
    let e = entry(d, CdrType::Sms, 3).await;
    let body = get(d, &e.files[0].key).await;
    let stale = e.files[0]
        .key
        .replace("-00000.parquet", "-g0005-00000.parquet");
    put(d, &stale, body).await;
    // 04:00 VOICE: the window is gone (ledger entry and files): a gap.
    let e = entry(d, CdrType::Voice, 4).await;
    for f in &e.files {
        d.delete(&key(&f.key)).await.unwrap();
    }
    d.delete(&cdr_sink::layout::ledger_key(CdrType::Voice, &hour(4)).unwrap())
        .await
        .unwrap();
    // 05:00 VOICE: one byte changed.
    let e = entry(d, CdrType::Voice, 5).await;
    let mut body = get(d, &e.files[0].key).await;
    body[10] ^= 0xff;
    put(d, &e.files[0].key, body).await;
    // 06:00 VOICE: the ledger's row count is wrong.
    let mut e = entry(d, CdrType::Voice, 6).await;
    e.files[0].rows += 1;
    let (_, version) = ledger::read_versioned(d, CdrType::Voice, &hour(6))
        .await
        .unwrap()
        .unwrap();
    ledger::write(d, &e, &cdr_sink_api::Precondition::Matches(version))
        .await
        .unwrap();
    // A file no cdr-sink run wrote.
    put(
        d,
        "cdr_type=voice/date=2026-11-01/notes.parquet",
        b"PAR1".to_vec(),
    )
    .await;
    // 07:00 SMS: a replacement that a crash interrupted after its first commit.
    let e = entry(d, CdrType::Sms, 7).await;
    let body = get(d, &e.files[0].key).await;
    let new = e.files[0]
        .key
        .replace("-00000.parquet", "-g0001-00000.parquet");
    put(d, &new, body).await;
    ledger::write_replacement(
        d,
        &Replacement {
            cdr_type: CdrType::Sms,
            window_start: hour(7).start(),
            window_end: hour(7).end(),
            from_generation: 0,
            to_generation: 1,
            started_at: e.finished_at,
        },
    )
    .await
    .unwrap();
}

fn problems(report: &VerifyReport) -> Vec<(ProblemKind, Option<String>, Option<String>)> {
    report
        .problems
        .iter()
        .map(|p| {
            (
                p.kind,
                p.cdr_type.clone(),
                p.window_start.map(|s| cdr_core::format_datetime(&s)),
            )
        })
        .collect()
}

fn message(report: &VerifyReport, kind: ProblemKind) -> String {
    report
        .problems
        .iter()
        .filter(|p| p.kind == kind)
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn assert_finds_every_damage(report: &VerifyReport) {
    use ProblemKind::*;
    let s = |x: &str| Some(x.to_string());
    let mut got = problems(report);
    got.sort();
    let mut want = vec![
        (MissingFile, s("SMS"), s("2026-11-01T01:00:00Z")),
        (TruncatedFile, s("SMS"), s("2026-11-01T02:00:00Z")),
        (NotInLedger, s("SMS"), s("2026-11-01T03:00:00Z")),
        (NotInLedger, s("SMS"), s("2026-11-01T07:00:00Z")),
        (InterruptedReplacement, s("SMS"), s("2026-11-01T07:00:00Z")),
        (Gap, s("VOICE"), s("2026-11-01T04:00:00Z")),
        (ChecksumMismatch, s("VOICE"), s("2026-11-01T05:00:00Z")),
        (RowCountMismatch, s("VOICE"), s("2026-11-01T06:00:00Z")),
        (NotInLedger, None, None),
    ];
    want.sort();
    assert_eq!(got, want, "{report}");
    assert!(!report.is_ok());
    assert!(
        message(report, MissingFile).contains("is listed in the ledger but does not exist"),
        "{report}"
    );
    assert!(
        message(report, TruncatedFile).contains("is truncated:"),
        "{report}"
    );
    let not_listed = message(report, NotInLedger);
    assert!(
        not_listed.contains("a stale file of the finished window SMS"),
        "{report}"
    );
    assert!(
        not_listed.contains("left by the interrupted replacement"),
        "{report}"
    );
    assert!(
        not_listed
            .contains("notes.parquet is not in the ledger and not named as cdr-sink names files"),
        "{report}"
    );
    assert!(
        message(report, Gap).contains(
            "missing window: no finished VOICE window covers [2026-11-01T04:00:00Z, 2026-11-01T05:00:00Z)"
        ),
        "{report}"
    );
    assert!(
        message(report, ChecksumMismatch).contains("does not match the ledger's checksum"),
        "{report}"
    );
    assert!(
        message(report, RowCountMismatch).contains("rows, the ledger records"),
        "{report}"
    );
    assert!(
        message(report, InterruptedReplacement).contains("was interrupted"),
        "{report}"
    );
}

fn expected_repairs(out: &str) -> Vec<String> {
    let cmd = |ty: &str, a: &str, b: &str, redo: bool| {
        format!(
            "cdr-sink archive --type {ty} --start 2026-11-01T{a}:00:00Z --end 2026-11-01T{b}:00:00Z --out {out} --window 1h --format parquet{}",
            if redo { " --redo" } else { "" }
        )
    };
    vec![
        cmd("SMS", "07", "08", false),
        cmd("SMS", "01", "04", true),
        cmd("VOICE", "04", "05", false),
        cmd("VOICE", "05", "07", true),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs verify with the binary; then each repair command it printed; then
/// verify again.
async fn repair_with_the_binary(
    sim: &cdr_sim::SimHandle,
    out: &str,
    dest: &dyn Destination,
    env: &[(&str, String)],
) {
    let command = || {
        let mut c = bin(sim);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };
    let o = command()
        .args(["verify", "--out", out, "--json"])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["status"], "problems");
    assert_eq!(json["problems"].as_array().unwrap().len(), 9);
    assert!(
        json["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "truncated_file")
    );
    let repair: Vec<String> = json["repair"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(repair, expected_repairs(out));

    let o = command()
        .args(["verify", "--out", out])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let report = text(&o.stdout);
    assert!(
        report.contains("9 PROBLEMS:") && report.contains("To repair, run:"),
        "{report}"
    );
    assert!(report.contains("truncated file: "), "{report}");

    for line in &repair {
        let args: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(args[0], "cdr-sink");
        let o = command()
            .args(&args[1..])
            .arg("--quiet")
            .output()
            .await
            .unwrap();
        assert!(o.status.success(), "{line}: {}", text(&o.stderr));
    }
    // The file no cdr-sink run wrote is for its owner to remove.
    dest.delete(&key("cdr_type=voice/date=2026-11-01/notes.parquet"))
        .await
        .unwrap();
    let o = command()
        .args(["verify", "--out", out])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("OK: every file matches the ledger"));

    let o = command()
        .args(["status", "--out", out, "--json"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        status["types"]["SMS"]["complete_until"],
        "2026-11-01T08:00:00Z"
    );
    assert_eq!(status["types"]["VOICE"]["windows"], 8);
    assert_eq!(status["types"]["VOICE"]["gaps"], 0);
    assert_eq!(status["interrupted_replacements"], 0);
    assert!(status["types"].get("MMS").is_none());
    let o = command()
        .args(["status", "--out", out])
        .output()
        .await
        .unwrap();
    assert!(
        text(&o.stdout).contains("complete until 2026-11-01T08:00:00Z"),
        "{}",
        text(&o.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_each_damage_and_its_repair_works_local() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(&root));
    archive_and_damage(&sim, dest.clone()).await;
    let report = check(&dest).await;
    assert_finds_every_damage(&report);
    assert_eq!(report.repair, expected_repairs("OUT"));

    let out = root.display().to_string();
    repair_with_the_binary(&sim, &out, dest.as_ref(), &[]).await;
    let hours = hours_between(START, END);
    assert_same(
        &read_parquet_archive(&root),
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_each_damage_and_its_repair_works_s3() {
    let sim = sim(sim_config()).await;
    let (dest, bucket) = s3_dest("verify").await;
    archive_and_damage(&sim, dest.clone()).await;
    assert_finds_every_damage(&check(&dest).await);

    let server = cdr_testkit::S3Server::shared().unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", cdr_testkit::ACCESS_KEY_ID.to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            cdr_testkit::SECRET_ACCESS_KEY.to_string(),
        ),
        ("AWS_REGION", cdr_testkit::REGION.to_string()),
    ];
    repair_with_the_binary(&sim, &format!("s3://{bucket}/cdrs/"), dest.as_ref(), &env).await;
    let hours = hours_between(START, END);
    assert_same(
        &read_archive(dest.as_ref(), "parquet").await,
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_status_of_nothing() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = bin(&sim)
        .arg("verify")
        .arg("--out")
        .arg(&empty)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("holds no ledger"),
        "{}",
        text(&o.stdout)
    );
    let o = bin(&sim)
        .arg("status")
        .arg("--out")
        .arg(&empty)
        .output()
        .await
        .unwrap();
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("nothing archived yet"),
        "{}",
        text(&o.stdout)
    );
    // Bad input: exit 2, one line.
    let o = bin(&sim)
        .arg("verify")
        .arg("--out")
        .arg(dir.path().join("missing"))
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no such directory"),
        "{}",
        text(&o.stderr)
    );
    let o = bin(&sim)
        .args(["status", "--type", "FAX", "--out"])
        .arg(&empty)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        sim.counters().requests,
        0,
        "verify and status never call the API"
    );
}

/// The damages the test above does not make, each found as its own kind:
/// a file longer than its ledger entry says, a file of the right size that
/// its format cannot read, ledger entries that are no JSON or describe
/// another window than their name, windows that overlap, and a type asked
/// for that has no finished window.
async fn verify_finds_the_other_damages(dest: Arc<dyn Destination>) {
    use ProblemKind::*;
    let sim = sim(sim_config()).await;
    let raw = cdr_sink::RawArchive {
        start: START.into(),
        end: END.into(),
        ..raw("SMS,VOICE", "parquet")
    };
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-02T00:00:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let d = dest.as_ref();
    assert!(check(&dest).await.is_ok());

    // 01:00 SMS: bytes appended to a file.
    let longer = entry(d, CdrType::Sms, 1).await.files[0].clone();
    let mut body = get(d, &longer.key).await;
    body.extend_from_slice(b"appended");
    put(d, &longer.key, body).await;
    // 02:00 SMS: a file overwritten by as many bytes that are no Parquet.
    let garbled = entry(d, CdrType::Sms, 2).await.files[0].clone();
    put(d, &garbled.key, vec![b'x'; garbled.size as usize]).await;
    // 03:00 SMS: a ledger entry that is no JSON.
    let not_json = cdr_sink::layout::ledger_key(CdrType::Sms, &hour(3)).unwrap();
    put(
        d,
        not_json.as_str(),
        b"{\"ledger_version\": 3, \"cdr".to_vec(),
    )
    .await;
    // 04:00 SMS: a ledger entry that describes the 05:00 window.
    let elsewhere = cdr_sink::layout::ledger_key(CdrType::Sms, &hour(4)).unwrap();
    let mut e = entry(d, CdrType::Sms, 4).await;
    (e.window_start, e.window_end) = (hour(5).start(), hour(5).end());
    put(d, elsewhere.as_str(), serde_json::to_vec(&e).unwrap()).await;
    // VOICE: a finished window 02:30-03:30 beside 02:00-03:00 and 03:00-04:00.
    let mut e = entry(d, CdrType::Voice, 2).await;
    e.window_start = hour(2).start() + chrono::TimeDelta::minutes(30);
    e.window_end = hour(3).start() + chrono::TimeDelta::minutes(30);
    ledger::write(d, &e, &cdr_sink_api::Precondition::Absent)
        .await
        .unwrap();

    let report = verify(
        &dest,
        &VerifyOptions {
            types: vec![CdrType::Sms, CdrType::Voice, CdrType::Api],
            concurrency: 3,
            out: "OUT".into(),
        },
    )
    .await
    .unwrap();
    assert!(!report.is_ok());
    let s = |x: &str| Some(x.to_string());
    let mut got = problems(&report);
    got.dedup();
    let mut want = vec![
        (EmptyArchive, s("API"), None),
        (SizeMismatch, s("SMS"), s("2026-11-01T01:00:00Z")),
        (UnreadableFile, s("SMS"), s("2026-11-01T02:00:00Z")),
        (UnreadableLedgerEntry, s("SMS"), s("2026-11-01T03:00:00Z")),
        // The files of both unreadable entries are listed by no entry.
        (NotInLedger, s("SMS"), s("2026-11-01T03:00:00Z")),
        (UnreadableLedgerEntry, s("SMS"), s("2026-11-01T04:00:00Z")),
        (NotInLedger, s("SMS"), s("2026-11-01T04:00:00Z")),
        (Overlap, s("VOICE"), s("2026-11-01T02:30:00Z")),
        (Overlap, s("VOICE"), s("2026-11-01T03:00:00Z")),
    ];
    want.sort();
    got.sort();
    got.dedup();
    assert_eq!(got, want, "{report}");

    let loc = |k: &str| d.location(&key(k));
    assert_eq!(
        message(&report, SizeMismatch),
        format!(
            "{} has {} bytes, the ledger records {}",
            loc(&longer.key),
            longer.size + 8,
            longer.size
        )
    );
    let unreadable = message(&report, UnreadableFile);
    assert!(
        unreadable.starts_with(&format!("{} could not be read: ", loc(&garbled.key))),
        "{unreadable}"
    );
    let entries = message(&report, UnreadableLedgerEntry);
    let (corrupt, elsewhere_shown) = entries.split_once(" | ").expect("two entries");
    assert!(
        corrupt.starts_with(&format!(
            "ledger entry {} is unreadable (",
            loc(not_json.as_str())
        )) && corrupt.ends_with("): delete it to redo that window"),
        "{entries}"
    );
    assert_eq!(
        elsewhere_shown,
        format!(
            "ledger entry {} describes another type or window than its name says",
            loc(elsewhere.as_str())
        )
    );
    assert_eq!(
        message(&report, Overlap),
        [
            "finished VOICE windows [2026-11-01T02:00:00Z, 2026-11-01T03:00:00Z) and [2026-11-01T02:30:00Z, 2026-11-01T03:30:00Z) overlap",
            "finished VOICE windows [2026-11-01T02:30:00Z, 2026-11-01T03:30:00Z) and [2026-11-01T03:00:00Z, 2026-11-01T04:00:00Z) overlap",
        ]
        .map(|m| format!("{m} (archived with different --window): their common records are archived twice; delete one of them (its ledger entry and files) and archive its range again"))
        .join(" | ")
    );
    assert_eq!(
        message(&report, EmptyArchive),
        format!(
            "no finished API window under {}: nothing of this type was archived there",
            d.describe()
        )
    );
    // Each unreadable entry is to be deleted, and its window archived again.
    for k in [&not_json, &elsewhere] {
        let line = format!("delete {}", loc(k.as_str()));
        assert!(report.repair.contains(&line), "{:?}", report.repair);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_other_damages_local() {
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(dir.path().join("archive")));
    verify_finds_the_other_damages(dest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_other_damages_s3() {
    let (dest, _) = s3_dest("verify-other").await;
    verify_finds_the_other_damages(dest).await;
}
