//! `cdr-sink reconcile` with the real binary against the simulator over
//! HTTP, on local and S3 archives: an exact archive passes for every type;
//! late records, re-rated charges and missing windows are found with their
//! kind and repair command, and running the printed commands makes
//! reconcile pass; a window another run holds is in progress; cut exports
//! are read in halves; values that cannot be stored are named, not hidden.

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::Arc;

use cdr_core::{Cdr, CdrType, MessageCdr, Window};
use cdr_sim::{SimConfig, SimHandle};
use cdr_sink::claim::{Acquired, Claims, Owner};
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;
use common::*;

const DAY: &str = "2026-11-01T00:00:00Z";

fn hour(h: i64) -> Window {
    let start = t(DAY) + chrono::TimeDelta::hours(h);
    Window::new(start, start + chrono::TimeDelta::hours(1)).unwrap()
}

fn at(h: i64) -> String {
    cdr_core::format_datetime(&hour(h).start())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sim_config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([
            (CdrType::Sms, 300),
            (CdrType::Mms, 120),
            (CdrType::Voice, 150),
            (CdrType::Api, 120),
        ]),
        ..SimConfig::default()
    }
}

/// Runs the binary with `env` (S3's, or none) and `args`.
async fn run(sim: &SimHandle, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = bin(sim);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().await.expect("the binary runs")
}

async fn archive(sim: &SimHandle, env: &[(&str, String)], out: &str, types: &str, format: &str) {
    let o = run(
        sim,
        env,
        &[
            "archive",
            "--type",
            types,
            "--start",
            &at(0),
            "--end",
            &at(6),
            "--out",
            out,
            "--format",
            format,
            "--quiet",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// `reconcile --json` with `extra` flags: its exit code and report.
async fn reconcile(
    sim: &SimHandle,
    env: &[(&str, String)],
    out: &str,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["reconcile", "--out", out, "--json"];
    args.extend_from_slice(extra);
    let o = run(sim, env, &args).await;
    let json = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)));
    (o.status.code(), json)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// Runs each printed repair command with the binary.
async fn repair(sim: &SimHandle, env: &[(&str, String)], lines: &[String]) {
    for line in lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(args[0], "cdr-sink");
        let mut all = args[1..].to_vec();
        all.push("--quiet");
        let o = run(sim, env, &all).await;
        assert!(o.status.success(), "{line}: {}", text(&o.stderr));
    }
}

fn count(sim: &SimHandle, t: CdrType, w: Window) -> u64 {
    sim.ground_truth(t, w).count() as u64
}

fn local(dir: &tempfile::TempDir) -> (String, Arc<dyn Destination>) {
    let root = dir.path().join("archive");
    let out = root.display().to_string();
    (out, Arc::new(LocalDir::new(root)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_archive_of_every_type_equals_its_exports() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, dest) = local(&dir);
    archive(&sim, &[], &out, "SMS,MMS,VOICE,API", "parquet").await;
    // An entry as an older cdr-sink wrote it, with a version 1 hash: its
    // export is hashed by that definition.
    let key = cdr_sink::layout::ledger_key(CdrType::Mms, &hour(4)).unwrap();
    let mut old: serde_json::Value =
        serde_json::from_slice(&dest.get(&key).await.unwrap().unwrap()).unwrap();
    let mut v1 = cdr_sink::ContentHash::of_version(cdr_sink::HashVersion::V1);
    v1.add_all(&sim.ground_truth(CdrType::Mms, hour(4)).collect::<Vec<_>>());
    assert_ne!(old["content_hash"], v1.hex());
    old["ledger_version"] = 3.into();
    old["content_hash"] = v1.hex().into();
    old.as_object_mut().unwrap().remove("content_hash_version");
    dest.put(&key, old.to_string().into(), "application/json")
        .await
        .unwrap();
    let exports = sim.counters().exports;
    let (code, json) = reconcile(&sim, &[], &out, &[]).await;
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["differences"], serde_json::json!([]));
    assert_eq!(json["repair"], serde_json::json!([]));
    for ty in CdrType::ALL {
        let totals = &json["types"][ty.as_str()];
        let records: u64 = (0..6).map(|h| count(&sim, ty, hour(h))).sum();
        assert!(records > 0);
        assert_eq!(totals["windows_checked"], 6, "{ty}: {totals}");
        assert_eq!(totals["equal"], 6, "{ty}: {totals}");
        assert_eq!(
            (totals["differ"].as_u64(), totals["missing"].as_u64()),
            (Some(0), Some(0))
        );
        assert_eq!(totals["records_ledger"], records, "{ty}");
        assert_eq!(totals["records_export"], records, "{ty}");
        assert_eq!(totals["start"], at(0));
        assert_eq!(totals["end"], at(6));
    }
    // One export download per finished window.
    assert_eq!(sim.counters().exports - exports, 4 * 6);

    let o = run(&sim, &[], &["reconcile", "--out", &out, "--type", "voice"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(report.contains("OK: every window compared"), "{report}");
    assert!(
        report.contains("VOICE  [2026-11-01T00:00:00Z, 2026-11-01T06:00:00Z)"),
        "{report}"
    );
    assert!(!report.contains("\nSMS "), "{report}");
}

fn late_sms(at: &str, n: usize) -> Vec<Cdr> {
    (0..n)
        .map(|i| {
            Cdr::Message(MessageCdr {
                datetime: t(at),
                from_number: Some(format!("+1555000{i:04}").into()),
                to_number: Some("+15550009999".into()),
                direction: Some("outbound".into()),
                status: Some("delivered".into()),
                charge: Some(cdr_core::parse_decimal("0.0075").unwrap()),
                r#type: Some("sms".into()),
            })
        })
        .collect()
}

/// Late records (SMS 01:00), a re-rated charge (SMS 03:00), a lost window
/// (VOICE 02:00) and a range that reaches an hour past the archive: each is
/// reported with its kind, both counts and its repair; the printed commands
/// make the archive equal its exports again.
async fn differences_are_found_and_the_printed_repairs_fix_them(
    sim: &SimHandle,
    env: &[(&str, String)],
    out: &str,
    dest: &dyn Destination,
    format: &str,
) {
    archive(sim, env, out, "SMS,VOICE", format).await;
    let before = [
        count(sim, CdrType::Sms, hour(1)),
        count(sim, CdrType::Sms, hour(3)),
    ];
    sim.insert_late(CdrType::Sms, late_sms("2026-11-01T01:30:00.123456Z", 3));
    sim.rerate(
        CdrType::Sms,
        window("2026-11-01T03:10:00Z", "2026-11-01T03:20:00Z"),
        rust_decimal::Decimal::new(1, 4),
    );
    assert_eq!(count(sim, CdrType::Sms, hour(3)), before[1], "same count");
    let lost = cdr_sink::ledger::read(dest, CdrType::Voice, &hour(2))
        .await
        .unwrap()
        .unwrap();
    for f in &lost.files {
        dest.delete(&cdr_sink_api::ObjectKey::new(&f.key).unwrap())
            .await
            .unwrap();
    }
    dest.delete(&cdr_sink::layout::ledger_key(CdrType::Voice, &hour(2)).unwrap())
        .await
        .unwrap();

    let range = ["--start", DAY, "--end", "2026-11-01T07:00:00Z"];
    let (code, json) = reconcile(sim, env, out, &range).await;
    assert_eq!(code, Some(1), "{json:#}");
    assert_eq!(json["status"], "differences");
    let found: Vec<(String, String, String, serde_json::Value, u64)> = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["cdr_type"].as_str().unwrap().to_string(),
                d["window_start"].as_str().unwrap().to_string(),
                d["ledger_records"].clone(),
                d["export_records"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |kind: &str, ty: &str, h: i64, ledger: Option<u64>, export: u64| {
        (
            kind.to_string(),
            ty.to_string(),
            at(h),
            serde_json::json!(ledger),
            export,
        )
    };
    assert_eq!(
        found,
        [
            row("count", "SMS", 1, Some(before[0]), before[0] + 3),
            row("content", "SMS", 3, Some(before[1]), before[1]),
            row("missing", "SMS", 6, None, count(sim, CdrType::Sms, hour(6))),
            row(
                "missing",
                "VOICE",
                2,
                None,
                count(sim, CdrType::Voice, hour(2))
            ),
            row(
                "missing",
                "VOICE",
                6,
                None,
                count(sim, CdrType::Voice, hour(6))
            ),
        ]
    );
    let cmd = |ty: &str, a: i64, b: i64, rescan: &str| {
        format!(
            "cdr-sink archive --type {ty} --start {} --end {} --out {out} --window 1h --format {format}{rescan}",
            at(a),
            at(b)
        )
    };
    let want = vec![
        cmd("SMS", 6, 7, ""),
        cmd("SMS", 1, 2, " --rescan 1h"),
        cmd("SMS", 3, 4, " --rescan 1h"),
        cmd("VOICE", 2, 3, ""),
        cmd("VOICE", 6, 7, ""),
    ];
    let lines = strings(&json["repair"]);
    assert_eq!(lines, want);
    let repairs: Vec<String> = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["repair"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        repairs,
        [1, 2, 0, 3, 4].map(|i| want[i].clone()),
        "each difference names the command that repairs it"
    );
    let sms = &json["types"]["SMS"];
    assert_eq!(
        [
            &sms["windows_checked"],
            &sms["equal"],
            &sms["differ"],
            &sms["missing"]
        ],
        [6, 4, 2, 1]
    );
    assert_eq!(json["types"]["VOICE"]["missing"], 2);

    // The same as text.
    let mut args = vec!["reconcile", "--out", out];
    args.extend_from_slice(&range);
    let o = run(sim, env, &args).await;
    assert_eq!(o.status.code(), Some(1));
    let report = text(&o.stdout);
    for want in [
        "5 DIFFERENCES:".to_string(),
        format!(
            "  count differs: SMS [{}, {}): {} records archived, {} in the export",
            at(1),
            at(2),
            before[0],
            before[0] + 3
        ),
        format!("  content differs: SMS [{}, {}): the same", at(3), at(4)),
        format!("  missing: VOICE [{}, {}): not archived", at(2), at(3)),
        format!("To repair, run:\n  {}\n", want[0]),
    ] {
        assert!(report.contains(&want), "{want}\n{report}");
    }
    assert!(text(&o.stderr).contains("reconcile found 5 differences"));

    repair(sim, env, &lines).await;
    let (code, json) = reconcile(sim, env, out, &range).await;
    assert_eq!(code, Some(0), "{json:#}");
    for ty in ["SMS", "VOICE"] {
        assert_eq!(json["types"][ty]["equal"], 7, "{json:#}");
    }
    let hours = hours_between(DAY, "2026-11-01T07:00:00Z");
    assert_same(
        &read_archive(dest, format).await,
        &truth(sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differences_are_found_and_the_printed_repairs_fix_them_local() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, dest) = local(&dir);
    differences_are_found_and_the_printed_repairs_fix_them(&sim, &[], &out, dest.as_ref(), "csv")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differences_are_found_and_the_printed_repairs_fix_them_s3() {
    let sim = sim(sim_config()).await;
    let (dest, bucket) = s3_dest("reconcile").await;
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
    let out = format!("s3://{bucket}/cdrs/");
    differences_are_found_and_the_printed_repairs_fix_them(
        &sim,
        &env,
        &out,
        dest.as_ref(),
        "parquet",
    )
    .await;
}

/// Everything under the archive but the claims (which a holder renews).
async fn outside_claims(dest: &dyn Destination) -> BTreeMap<String, Vec<u8>> {
    snapshot(dest)
        .await
        .into_iter()
        .filter(|(k, _)| !k.starts_with("_cdr_sink/claims/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_another_run_holds_is_in_progress_and_reconcile_writes_nothing() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, dest) = local(&dir);
    archive(&sim, &[], &out, "SMS", "csv").await;
    // Another worker is archiving SMS 02:00 again: it has no ledger entry
    // (and no files) yet, and a live claim.
    let entry = cdr_sink::ledger::read(dest.as_ref(), CdrType::Sms, &hour(2))
        .await
        .unwrap()
        .unwrap();
    for f in &entry.files {
        dest.delete(&cdr_sink_api::ObjectKey::new(&f.key).unwrap())
            .await
            .unwrap();
    }
    dest.delete(&cdr_sink::layout::ledger_key(CdrType::Sms, &hour(2)).unwrap())
        .await
        .unwrap();
    let owner = Owner {
        host: "worker-b".into(),
        pid: 4242,
        run_id: "0123456789abcdef".into(),
    };
    let claims = Claims::new(dest.clone(), owner, std::time::Duration::from_secs(300));
    let unit = cdr_sink::Unit {
        cdr_type: CdrType::Sms,
        window: hour(2),
    };
    let Acquired::Owned(claim) = claims.acquire(&unit, "archive").await.unwrap() else {
        panic!("the unit is free");
    };
    let before = outside_claims(dest.as_ref()).await;

    let (code, json) = reconcile(&sim, &[], &out, &[]).await;
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["differences"], serde_json::json!([]));
    let held = &json["in_progress"];
    assert_eq!(held.as_array().unwrap().len(), 1, "{json:#}");
    assert_eq!(held[0]["cdr_type"], "SMS");
    assert_eq!(held[0]["window_start"], at(2));
    assert_eq!(held[0]["window_end"], at(3));
    assert_eq!(held[0]["owner"]["host"], "worker-b");
    let sms = &json["types"]["SMS"];
    assert_eq!(
        [
            &sms["windows_checked"],
            &sms["in_progress"],
            &sms["missing"]
        ],
        [5, 1, 0]
    );
    let o = run(&sim, &[], &["reconcile", "--out", &out]).await;
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("claimed by worker-b pid 4242 (run 0123456789abcdef)"),
        "{}",
        text(&o.stdout)
    );
    // Read only: nothing written, and no claim of its own taken.
    assert_eq!(outside_claims(dest.as_ref()).await, before);
    let claims_now: Vec<String> = snapshot(dest.as_ref())
        .await
        .into_keys()
        .filter(|k| k.starts_with("_cdr_sink/claims/"))
        .collect();
    assert_eq!(claims_now.len(), 1, "{claims_now:?}");

    // Once the other run is gone without finishing, the window is missing.
    claim.release().await;
    let (code, json) = reconcile(&sim, &[], &out, &[]).await;
    assert_eq!(code, Some(1), "{json:#}");
    assert_eq!(json["differences"][0]["kind"], "missing");
    assert_eq!(json["differences"][0]["window_start"], at(2));
    assert_eq!(json["in_progress"], serde_json::json!([]));
    assert_eq!(
        strings(&json["repair"]),
        [format!(
            "cdr-sink archive --type SMS --start {} --end {} --out {out} --window 1h --format csv",
            at(2),
            at(3)
        )]
    );
}

/// An export cut off is read again in halves, and still equals the
/// archive; one cut even in its smallest parts, or one holding a value the
/// archive cannot store, is reported as not compared, naming the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_exports_are_split_and_unreadable_ones_are_named() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = local(&dir);
    archive(&sim, &[], &out, "SMS", "csv").await;
    assert!(count(&sim, CdrType::Sms, hour(0)) > 200);

    sim.set_export_row_cap(Some(100));
    let exports = sim.counters().exports;
    let (code, json) = reconcile(&sim, &[], &out, &[]).await;
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["types"]["SMS"]["equal"], 6);
    assert!(sim.counters().exports - exports > 6 * 2);
    assert!(sim.counters().aborted_exports > 0);

    sim.set_export_row_cap(Some(1));
    let (code, json) = reconcile(&sim, &[], &out, &["--type", "SMS", "--end", &at(1)]).await;
    assert_eq!(code, Some(1), "{json:#}");
    assert_eq!(json["status"], "unchecked");
    let message = json["unchecked"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "the export of SMS [{}, {}) was cut off even in its part",
            at(0),
            at(1)
        )),
        "{message}"
    );

    sim.set_export_row_cap(None);
    sim.corrupt(CdrType::Sms, hour(4), 7, "charge", "\"N/A\"")
        .unwrap();
    let (code, json) = reconcile(&sim, &[], &out, &[]).await;
    assert_eq!(code, Some(1), "{json:#}");
    assert_eq!(json["types"]["SMS"]["unchecked"], 1);
    assert_eq!(json["types"]["SMS"]["equal"], 5);
    let message = json["unchecked"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "the export of SMS [{}, {}) holds 1 records",
            at(4),
            at(5)
        )) && message.contains("row 8: `charge`: invalid decimal `N/A`"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_and_an_empty_archive_1() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = local(&dir);
    std::fs::create_dir_all(&out).unwrap();
    for (args, why) in [
        (vec!["--window", "7m"], "--window"),
        (vec!["--concurrency", "0"], "--concurrency"),
        (vec!["--start", "yesterday"], "--start"),
        (vec!["--type", "FAX"], "--type"),
    ] {
        let mut all = vec!["reconcile", "--out", out.as_str()];
        all.extend(args);
        let o = run(&sim, &[], &all).await;
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(why), "{}", text(&o.stderr));
    }
    let o = bin(&sim)
        .env_remove("TSG_EMAIL")
        .args(["reconcile", "--out", &out])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = run(&sim, &[], &["reconcile", "--out", &out]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("holds no finished window"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(sim.counters().requests, 0);
}

/// SIGINT and SIGTERM stop reconcile as they stop verify: exit 130 and 143,
/// with nothing written to the archive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_reconcile_with_its_exit_status() {
    // The data is a pure function of the configuration: a slow simulator
    // serves the records the fast one archived.
    let fast = sim(sim_config()).await;
    let slow = sim(SimConfig {
        latency: std::time::Duration::from_millis(500),
        ..sim_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (out, dest) = local(&dir);
    archive(&fast, &[], &out, "SMS", "csv").await;
    let before = snapshot(dest.as_ref()).await;
    for (signal, exit, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let served = slow.counters().requests;
        let mut child = bin(&slow)
            .args(["reconcile", "--out", &out, "--concurrency", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        cdr_testkit::until("reconcile is under way", || {
            let asked = slow.counters().requests > served;
            assert!(child.try_wait().unwrap().is_none(), "reconcile ended early");
            async move { asked }
        })
        .await;
        let pid = child.id().expect("running") as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let o = child.wait_with_output().await.unwrap();
        assert_eq!(o.status.code(), Some(exit), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(&format!("stopped by {name}")));
    }
    assert_eq!(snapshot(dest.as_ref()).await, before);
}
