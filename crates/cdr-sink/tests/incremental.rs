//! Scheduled archiving with a fake clock: `--incremental` runs every hour,
//! `--rescan` of late records, and crashes in the middle of a replacement;
//! against the simulator, to a local directory and to S3.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::FutureExt;

use chrono::TimeDelta;

use cdr_core::{Cdr, CdrType, MessageCdr, VoiceCdr};
use cdr_sim::{Faults, SimConfig};
use cdr_sink::ledger;
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;
use common::crash::Crashing;
use common::*;

const DAY: &str = "2026-11-01T00:00:00Z";

/// Small rates keep a simulated day quick; every type is present.
fn sim_config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([
            (CdrType::Sms, 240),
            (CdrType::Mms, 60),
            (CdrType::Voice, 120),
            (CdrType::Api, 30),
        ]),
        ..SimConfig::default()
    }
}

fn incremental(types: &str, format: &str) -> cdr_sink::RawArchive {
    cdr_sink::RawArchive {
        start: DAY.into(),
        incremental: true,
        ..raw(types, format)
    }
}

/// Hourly runs over a day (with a gap in the schedule and one run that fails
/// on every request) end with exactly the records of every settled hour.
async fn hourly_runs_over_a_day(dest: Arc<dyn Destination>, format: &str) {
    let sim = sim(sim_config()).await;
    let raw = incremental("SMS,MMS,VOICE,API", format);
    let day = t(DAY);
    let mut requests_before = 0;
    for hour in 0..=26 {
        // Cron fires at :20; no runs from 05:00 to 08:00 (the machine was down).
        if (5..=8).contains(&hour) {
            continue;
        }
        let now = day + TimeDelta::hours(hour) + TimeDelta::minutes(20);
        let failing = hour == 12;
        if failing {
            sim.set_faults(Faults {
                server_error: 1.0,
                ..Faults::default()
            });
        }
        let summary = run_at(&sim, dest.clone(), &raw, now).await.unwrap();
        sim.set_faults(Faults::default());
        // Archived up to now - 15m, aligned down to the hour.
        assert_eq!(summary.end, day + TimeDelta::hours(hour), "{summary}");
        assert!(summary.incremental);
        if failing {
            assert!(!summary.is_ok(), "{summary}");
            continue;
        }
        assert!(summary.is_ok(), "{summary}");
        let done: u64 = summary.types.values().map(|s| s.units_done).sum();
        let expected_hours = match hour {
            0 => 0,
            9 => 5,  // 04:00..09:00, after the gap in the schedule
            13 => 2, // the failed 11:00-12:00 run is retried, then 12:00-13:00
            _ => 1,
        };
        assert_eq!(done, 4 * expected_hours, "hour {hour}: {summary}");
        // Nothing finished is fetched again.
        assert_eq!(
            summary.types.values().map(|s| s.units_skipped).sum::<u64>(),
            0
        );
        let requests = sim.counters().graphql_requests;
        assert!(expected_hours == 0 || requests > requests_before);
        requests_before = requests;
    }
    // A run within the same hour has nothing to do and asks nothing.
    let now = day + TimeDelta::hours(26) + TimeDelta::minutes(50);
    let summary = run_at(&sim, dest.clone(), &raw, now).await.unwrap();
    assert_eq!(
        summary.types.values().map(|s| s.units_total).sum::<u64>(),
        0
    );
    assert_eq!(sim.counters().graphql_requests, requests_before);
    assert!(
        summary.to_string().contains("nothing new to archive"),
        "{summary}"
    );

    let hours = hours_between(DAY, "2026-11-02T02:00:00Z");
    let want = truth(&sim, &CdrType::ALL, &hours);
    assert_same(&read_archive(dest.as_ref(), format).await, &want);
    for ty in CdrType::ALL {
        let windows = ledger::list_windows(dest.as_ref(), ty).await.unwrap();
        assert_eq!(windows.into_iter().collect::<Vec<_>>(), hours, "{ty}");
    }
    assert_verifies(&dest).await;

    // status: complete until 02:00 on the next day, 40 minutes before "now".
    let report = cdr_sink::status::status(dest.as_ref(), &[], t("2026-11-02T02:40:00Z"))
        .await
        .unwrap();
    let sms = &report.types["SMS"];
    assert_eq!(sms.complete_until, Some(t("2026-11-02T02:00:00Z")));
    assert_eq!(sms.behind_seconds, Some(40 * 60));
    assert_eq!(sms.windows, 26);
    assert_eq!(sms.gaps, 0);
    assert_eq!(sms.records as usize, want["sms"].len());
    assert_eq!(sms.newest_window_end, Some(t("2026-11-02T02:00:00Z")));
    assert!(sms.bytes > 0 && sms.files >= 26, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_incremental_runs_over_a_day_local_archive() {
    let (_dir, dest) = local_archive();
    hourly_runs_over_a_day(dest, "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_incremental_runs_over_a_day_s3() {
    let (dest, _) = s3_dest("incremental").await;
    hourly_runs_over_a_day(dest, "csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_incremental_run_needs_a_start() {
    let sim = sim(sim_config()).await;
    let (_dir, dest) = local_archive();
    let mut raw = incremental("SMS", "csv");
    raw.start = String::new();
    let err = run_at(&sim, dest.clone(), &raw, t("2026-11-01T05:20:00Z"))
        .await
        .unwrap_err();
    assert!(err.is_bad_input());
    assert!(
        err.to_string()
            .contains("--start is required on the first --incremental run"),
        "{err}"
    );
    assert_eq!(sim.counters().graphql_requests, 0);
    // Once a window is finished, --start is no longer needed.
    raw.start = "2026-11-01T03:00:00Z".into();
    run_at(&sim, dest.clone(), &raw, t("2026-11-01T04:20:00Z"))
        .await
        .unwrap();
    raw.start = String::new();
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T06:20:00Z"))
        .await
        .unwrap();
    assert_eq!(s.start, t("2026-11-01T04:00:00Z"));
    assert_eq!(s.types["SMS"].units_done, 2);
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

fn late_voice(at: &str) -> Vec<Cdr> {
    vec![Cdr::Voice(VoiceCdr {
        datetime: t(at),
        call_id: Some("late-call".into()),
        source_ani: None,
        destination_number: None,
        did_used: None,
        session_time: Some(61),
        status: Some("completed".into()),
        called_rate: None,
        charge: Some(cdr_core::parse_decimal("0.12").unwrap()),
        call_type: None,
        ani_ii: None,
    })]
}

/// Keys of `snap` that belong to the window `label` (data files and ledger).
fn of_window<'a>(snap: &'a BTreeMap<String, Vec<u8>>, label: &str) -> BTreeMap<&'a str, &'a [u8]> {
    snap.iter()
        .filter(|(k, _)| k.contains(label))
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect()
}

/// Late records in two archived windows: `--rescan` replaces exactly those
/// windows, once, and leaves every other file and ledger entry as it was.
async fn rescan_picks_up_late_records(dest: Arc<dyn Destination>, format: &str) {
    let sim = sim(sim_config()).await;
    let mut raw = incremental("SMS,VOICE", format);
    raw.rescan = Some("6h".into());
    // Archive 00:00..10:00.
    run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:20:00Z"))
        .await
        .unwrap();
    let before = snapshot(dest.as_ref()).await;

    // Late records: SMS in 07:00-08:00 (inside the rescan range), VOICE in
    // 02:00-03:00 (outside it, so not seen yet).
    sim.insert_late(CdrType::Sms, late_sms("2026-11-01T07:30:00.123456Z", 3));
    sim.insert_late(CdrType::Voice, late_voice("2026-11-01T02:15:00Z"));
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T11:20:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let r = s.rescan.as_ref().expect("rescan summary");
    // [11:00 - 6h, 11:00) = 05:00..11:00; 10:00-11:00 was archived by this run.
    assert_eq!(
        (r.start, r.end),
        (t("2026-11-01T05:00:00Z"), t("2026-11-01T11:00:00Z"))
    );
    assert_eq!(r.types["SMS"].checked, 5);
    assert_eq!(r.types["SMS"].changed, 1);
    assert_eq!(
        r.types["SMS"].records_after,
        r.types["SMS"].records_before + 3
    );
    assert_eq!(r.types["VOICE"].checked, 5);
    assert_eq!(r.types["VOICE"].changed, 0);
    assert!(
        s.to_string().contains("10 windows checked, 1 changed"),
        "{s}"
    );

    let after = snapshot(dest.as_ref()).await;
    let changed = "20261101T070000Z-20261101T080000Z";
    // Every object of another window is byte for byte the same.
    let untouched = |snap: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        snap.iter()
            .filter(|(k, _)| {
                let replaced = k.contains(changed) && k.contains("sms");
                let new_this_run = k.contains("T100000Z-20261101T110000Z");
                !replaced && !new_this_run
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(untouched(&before), untouched(&after));
    // The changed window has one generation, the new one, and its ledger says so.
    let files: Vec<&str> = of_window(&after, changed)
        .into_keys()
        .filter(|k| k.starts_with("cdr_type=sms/"))
        .collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|k| k.contains("-g0001-")), "{files:?}");
    let w = cdr_core::Window::new(t("2026-11-01T07:00:00Z"), t("2026-11-01T08:00:00Z")).unwrap();
    let entry = ledger::read(dest.as_ref(), CdrType::Sms, &w)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.generation, 1);
    assert_eq!(
        entry
            .files
            .iter()
            .map(|f| f.key.as_str())
            .collect::<Vec<_>>(),
        files
    );
    assert!(!after.keys().any(|k| k.starts_with("_cdr_sink/replacing/")));

    // Exactly the ground truth, late SMS included once; the VOICE record
    // outside the rescan range is not archived yet.
    let hours = hours_between(DAY, "2026-11-01T11:00:00Z");
    let got = read_archive(dest.as_ref(), format).await;
    let want = truth(&sim, &[CdrType::Sms], &hours);
    assert_eq!(got["sms"], want["sms"]);
    let want_voice = truth(&sim, &[CdrType::Voice], &hours);
    assert_eq!(got["voice"].len() + 1, want_voice["voice"].len());
    assert_verifies(&dest).await;

    // The same rescan again changes nothing; a longer one finds the VOICE record.
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T11:40:00Z"))
        .await
        .unwrap();
    assert_eq!(s.rescan.as_ref().unwrap().changed(), 0);
    assert_eq!(snapshot(dest.as_ref()).await, after);
    raw.rescan = Some("1d".into());
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T11:40:00Z"))
        .await
        .unwrap();
    let r = s.rescan.as_ref().unwrap();
    assert_eq!((r.types["VOICE"].changed, r.types["SMS"].changed), (1, 0));
    assert_eq!(r.checked(), 22);
    assert_same(
        &read_archive(dest.as_ref(), format).await,
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
    assert_verifies(&dest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_replaces_only_changed_windows_local_archive() {
    let (_dir, dest) = local_archive();
    rescan_picks_up_late_records(dest, "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_replaces_only_changed_windows_s3() {
    let (dest, _) = s3_dest("rescan").await;
    rescan_picks_up_late_records(dest, "parquet").await;
}

/// A fresh, empty output for attempt `n`.
type MakeDest<'a> =
    &'a dyn Fn(usize) -> futures_util::future::BoxFuture<'static, Arc<dyn Destination>>;

/// A copy of `dest` in memory without the objects `left_out`.
async fn without(dest: &dyn Destination, left_out: &[String]) -> Arc<dyn Destination> {
    let copy = cdr_sink_api::memory::MemoryDir::new("copy");
    for (key, body) in snapshot(dest).await {
        if !left_out.contains(&key) {
            let key = cdr_sink_api::ObjectKey::new(key).unwrap();
            copy.put(&key, body.into(), "application/octet-stream")
                .await
                .unwrap();
        }
    }
    Arc::new(copy)
}

/// The files of the SMS window `w` that its Delta table shows, as keys of
/// the output (none before the table exists).
async fn table_files(dest: &Arc<dyn Destination>, w: &cdr_core::Window) -> Vec<String> {
    if dest
        .list("cdr_type=sms/_delta_log/")
        .await
        .unwrap()
        .is_empty()
    {
        return Vec::new();
    }
    let table = cdr_sink::delta::open_table(dest.clone(), CdrType::Sms)
        .await
        .unwrap();
    let (_, active) = table.active_files().await.unwrap();
    let label = w.label();
    active
        .into_iter()
        .filter(|f| f.contains(&label))
        .map(|f| format!("cdr_type=sms/{f}"))
        .collect()
}

/// Kills the store at every mutation of a rescan run in turn (its probe, its
/// claims, the replacement's record, files, ledger entry and moves); each
/// time, the ledger never names a missing file, and the next run (with the
/// same rescan) ends with exactly the new content, one generation, nothing
/// pending. With Delta tables, the table shows one generation of the window,
/// whole, at every death, and the old generation stays in place afterwards
/// for the table's earlier versions.
async fn a_crash_in_a_replacement_converges(make: MakeDest<'_>, format: &str, delta: bool) {
    let sim = sim(sim_config()).await;
    let mut raw = incremental("SMS", format);
    raw.rescan = Some("3h".into());
    if delta {
        raw.table_format = "delta".into();
    }
    // Pages of 100 and files of 200 rows: several files per window.
    raw.limit = 100;
    let now = t("2026-11-01T04:20:00Z");
    let hours = hours_between(DAY, "2026-11-01T04:00:00Z");
    let w = cdr_core::Window::new(t("2026-11-01T02:00:00Z"), t("2026-11-01T03:00:00Z")).unwrap();
    // The archive before the late records arrive, copied into every attempt's
    // output.
    let first = make(0).await;
    let s = run_at(&sim, first.clone(), &raw, now).await.unwrap();
    assert!(s.is_ok(), "{s}");
    let before = snapshot(first.as_ref()).await;
    let old_files: Vec<String> = ledger::read(first.as_ref(), CdrType::Sms, &w)
        .await
        .unwrap()
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.key)
        .collect();
    let restore = |dest: Arc<dyn Destination>| {
        let before = before.clone();
        async move {
            for (key, body) in before {
                let key = cdr_sink_api::ObjectKey::new(key).unwrap();
                dest.put(&key, body.into(), "application/octet-stream")
                    .await
                    .unwrap();
            }
            dest
        }
    };
    sim.insert_late(CdrType::Sms, late_sms("2026-11-01T02:59:59.999Z", 250));
    let want = truth(&sim, &[CdrType::Sms], &hours);

    // How many mutations a rescan run makes, when nothing goes wrong.
    let counting = Arc::new(Crashing::counting(restore(make(1).await).await));
    let s = run_at(&sim, counting.clone(), &raw, now).await.unwrap();
    assert!(s.is_ok(), "{s}");
    let total = counting.mutations();
    assert!(total >= 8, "{total} mutations");

    for n in 1..=total {
        let inner = restore(make(n as usize + 1).await).await;
        let dying = Arc::new(Crashing::new(inner.clone(), n));
        // The run may end in error, report failed windows, or (when it died
        // releasing its last claim, which is not needed for correctness)
        // even succeed: what matters is the state it leaves.
        let _ = run_at(&sim, dying.clone(), &raw, now).await;
        assert!(dying.is_dead(), "attempt {n} of {total} did not die");
        // Whatever the moment, the ledger lists only files that exist.
        let entry = ledger::read(inner.as_ref(), CdrType::Sms, &w)
            .await
            .unwrap()
            .unwrap();
        let listed = snapshot(inner.as_ref()).await;
        for f in &entry.files {
            assert_eq!(
                listed.get(&f.key).map(Vec::len),
                Some(f.size as usize),
                "attempt {n}: {} missing",
                f.key
            );
        }
        if delta {
            // The table shows one generation, whole, and every file of it is there.
            let shown = table_files(&inner, &w).await;
            let new: Vec<String> = entry.files.iter().map(|f| f.key.clone()).collect();
            assert!(
                shown == old_files || shown == new,
                "attempt {n}: the table shows {shown:?}"
            );
            assert!(
                shown.iter().all(|k| listed.contains_key(k)),
                "attempt {n}: the table names a missing file: {shown:?}"
            );
        }
        // The next run, once the killed run's claims have expired.
        let later = Arc::new(Later {
            inner: inner.clone(),
            ahead: std::time::Duration::from_secs(3600),
        });
        let s = run_at(&sim, later, &raw, now).await.unwrap();
        assert!(s.is_ok(), "attempt {n}: {s}");
        // The files the ledger lists (with Delta tables the old generation is
        // still in place, out of the table: see below).
        let current = if delta {
            without(inner.as_ref(), &old_files).await
        } else {
            inner.clone()
        };
        assert_same(&read_archive(current.as_ref(), format).await, &want);
        let entry = ledger::read(inner.as_ref(), CdrType::Sms, &w)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.generation, 1, "attempt {n}");
        let objects = snapshot(inner.as_ref()).await;
        let (new, old): (Vec<&String>, Vec<&String>) = objects
            .keys()
            .filter(|k| k.contains("20261101T020000Z-20261101T030000Z") && !k.starts_with('_'))
            .filter(|k| !k.contains("/_delta_log/"))
            .partition(|k| k.contains("-g0001-"));
        assert_eq!(new.len(), entry.files.len(), "attempt {n}: {new:?}");
        if delta {
            // The old generation stays in place until --keep-replaced.
            assert_eq!(old, old_files.iter().collect::<Vec<_>>(), "attempt {n}");
            let shown = table_files(&inner, &w).await;
            let listed: Vec<String> = entry.files.iter().map(|f| f.key.clone()).collect();
            assert_eq!(
                shown, listed,
                "attempt {n}: the table shows the new generation"
            );
        } else {
            assert!(old.is_empty(), "attempt {n}: {old:?}");
        }
        assert!(
            !objects.keys().any(
                |k| k.starts_with("_cdr_sink/replacing/") || k.starts_with("_cdr_sink/claims/")
            ),
            "attempt {n}: {:?}",
            objects
                .keys()
                .filter(|k| k.starts_with("_cdr_sink/"))
                .collect::<Vec<_>>()
        );
        assert_verifies(&inner).await;
    }
}

/// A fresh local output under `root` for attempt `n`.
fn local_output(
    root: &std::path::Path,
) -> impl Fn(usize) -> futures_util::future::BoxFuture<'static, Arc<dyn Destination>> + '_ {
    move |n| {
        let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(root.join(format!("out{n}"))));
        futures_util::future::ready(dest).boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_a_replacement_converges_local_archive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    a_crash_in_a_replacement_converges(&local_output(&root), "csv", false).await;
    let left: Vec<String> = files(&root)
        .into_iter()
        .filter(|f| f.contains(".cdr-tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_a_replacement_converges_local_delta() {
    let dir = tempfile::tempdir().unwrap();
    a_crash_in_a_replacement_converges(&local_output(dir.path()), "parquet", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_a_replacement_converges_s3() {
    let server = cdr_testkit::S3Server::shared().unwrap();
    let bucket = server.new_bucket("crash").await.unwrap();
    let make = |n: usize| {
        let url = format!("s3://{bucket}/out{n}/");
        async move { s3_at(&url).await }.boxed()
    };
    a_crash_in_a_replacement_converges(&make, "parquet", false).await;
    assert!(
        server.pending_uploads(&bucket).await.unwrap().is_empty(),
        "multipart uploads left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_archives_incrementally_on_the_real_clock() {
    let sim = sim(sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let summary = dir.path().join("summary.json");
    let run = |extra: &[&str]| {
        let mut cmd = bin(&sim);
        cmd.args([
            "archive",
            "--incremental",
            "--type",
            "SMS,API",
            "--format",
            "csv",
            "--quiet",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .args(extra);
        cmd
    };
    // The first run needs --start, and says so before logging in.
    let o = run(&[]).output().await.unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("--start is required on the first --incremental run"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(sim.counters().requests, 0);

    // The hour may turn while the binary runs: it archives up to the start
    // of the hour it read its clock in, one of those seen before and after.
    let before = cdr_core::Step::HOUR.floor(chrono::Utc::now());
    let start = before - TimeDelta::hours(3);
    let start_text = cdr_core::format_datetime(&start);
    let o = run(&["--start", &start_text, "--settle", "0s"])
        .output()
        .await
        .unwrap();
    let after = cdr_core::Step::HOUR.floor(chrono::Utc::now());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["incremental"], true);
    let end = cdr_sink::parse_instant("end", json["end"].as_str().unwrap()).unwrap();
    assert!(end == before || end == after, "{json}");
    assert_eq!(
        json["types"]["SMS"]["units_done"],
        (end - start).num_hours(),
        "{json}"
    );

    // Again (also without --start): nothing new until the next hour settles.
    let o = run(&["--settle", "0s", "--rescan", "2h"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let done = json["types"]["SMS"]["units_done"].as_u64().unwrap();
    let second_end = cdr_sink::parse_instant("end", json["end"].as_str().unwrap()).unwrap();
    // Something new only when the hour turned since the first run's clock.
    assert_eq!(done as i64, (second_end - end).num_hours(), "{json}");
    assert_eq!(json["rescan"]["types"]["SMS"]["changed"], 0);
    assert!(
        json["rescan"]["types"]["SMS"]["checked"].as_u64().unwrap() >= 2,
        "{json}"
    );
    // Exactly the records of [start, end of the last run).
    let end = cdr_sink::parse_instant("end", json["end"].as_str().unwrap()).unwrap();
    let windows = hours_between(&start_text, &cdr_core::format_datetime(&end));
    assert_same(
        &read_csv_archive(&out),
        &truth(&sim, &[CdrType::Sms, CdrType::Api], &windows),
    );
}
