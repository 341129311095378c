//! A unit's first archive killed at every store mutation in turn (local disk
//! and S3, Parquet and CSV), and units that fail after storing parts on S3:
//! each time, the next plain run ends with exactly the ground truth and
//! nothing left over, and a failed unit leaves no multipart upload pending.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use cdr_sink::ledger;
use cdr_sink::verify::{VerifyOptions, verify};
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;
use common::crash::Crashing;
use common::*;

const START: &str = "2026-11-01T00:00:00Z";
/// The end of the one unit the crash sweep archives.
const HOUR: &str = "2026-11-01T01:00:00Z";
const END: &str = "2026-11-01T02:00:00Z";
const NOW: &str = "2026-11-02T00:00:00Z";

/// SMS windows of about 450 records: with pages of 100 and files of 200
/// rows, three files per window, each sealed (stored, uncommitted) before
/// the window's files are committed.
fn sim_config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([(CdrType::Sms, 450)]),
        ..SimConfig::default()
    }
}

/// `[START, end)`, one unit at a time, so that the n-th mutation is the same
/// in every run.
fn plan(format: &str, end: &str) -> cdr_sink::RawArchive {
    cdr_sink::RawArchive {
        start: START.into(),
        end: end.into(),
        limit: 100,
        concurrency: "1".into(),
        ..raw("SMS", format)
    }
}

/// Where each attempt writes: its own directory, or its own prefix of one
/// bucket.
enum Out {
    Local(tempfile::TempDir),
    S3(String),
}

impl Out {
    fn local() -> Out {
        Out::Local(tempfile::tempdir().unwrap())
    }

    async fn s3(hint: &str) -> Out {
        let server = cdr_testkit::S3Server::shared().unwrap();
        Out::S3(server.new_bucket(hint).await.unwrap())
    }

    fn root(&self, n: u64) -> PathBuf {
        match self {
            Out::Local(dir) => dir.path().join(format!("out{n}")),
            Out::S3(_) => unreachable!("local only"),
        }
    }

    async fn dest(&self, n: u64) -> Arc<dyn Destination> {
        match self {
            Out::Local(_) => Arc::new(LocalDir::new(self.root(n))),
            Out::S3(bucket) => s3_at(&format!("s3://{bucket}/out{n}/")).await,
        }
    }

    /// What crashed uploads left: temporary files, pending multipart uploads.
    async fn leftovers(&self) -> Vec<String> {
        match self {
            Out::Local(dir) => files(dir.path())
                .into_iter()
                .filter(|f| {
                    f.contains(".cdr-tmp")
                        || f.split('/').any(|s| s.starts_with('.') && s != ".cdr-lock")
                })
                .collect(),
            Out::S3(bucket) => cdr_testkit::S3Server::shared()
                .unwrap()
                .pending_uploads(bucket)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.key)
                .collect(),
        }
    }
}

async fn keys(dest: &dyn Destination) -> BTreeSet<String> {
    dest.list("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key.to_string())
        .collect()
}

/// Every file a ledger entry names exists with the size it records.
async fn assert_ledger_names_existing_files(dest: &dyn Destination, n: u64) {
    let sizes: BTreeMap<String, u64> = dest
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.key.to_string(), m.size))
        .collect();
    for w in ledger::list_windows(dest, CdrType::Sms).await.unwrap() {
        let entry = ledger::read(dest, CdrType::Sms, &w).await.unwrap().unwrap();
        for f in &entry.files {
            assert_eq!(
                sizes.get(&f.key),
                Some(&f.size),
                "death at {n}: the ledger names {}",
                f.key
            );
        }
    }
}

async fn assert_verifies(dest: &Arc<dyn Destination>, n: u64) {
    let report = verify(
        dest,
        &VerifyOptions {
            types: vec![],
            concurrency: 2,
            out: "out".into(),
        },
    )
    .await
    .unwrap();
    assert!(report.is_ok(), "death at {n}: {report}");
}

/// Kills the store at its n-th mutation, for every n of a whole run; after
/// each death one plain run (once the dead run's leases have expired) ends
/// exact, with the same objects as an uninterrupted run and no temporary
/// state.
async fn every_death_converges(out: Out, format: &str) {
    let sim = sim(sim_config()).await;
    let raw = plan(format, HOUR);
    let want = truth(&sim, &[CdrType::Sms], &hours_between(START, HOUR));
    assert!(want["sms"].len() > 400, "{}", want["sms"].len());

    let counting = Arc::new(Crashing::counting(out.dest(0).await));
    let s = run_at(&sim, counting.clone(), &raw, t(NOW)).await.unwrap();
    assert!(s.is_ok(), "{s}");
    let total = counting.mutations();
    assert!(
        counting.finished_writes() >= 2,
        "files sealed before commit"
    );
    let clean = keys(counting.as_ref()).await;
    assert_eq!(out.leftovers().await, Vec::<String>::new());

    for n in 1..=total {
        let inner = out.dest(n).await;
        let crashing = Arc::new(Crashing::new(inner.clone(), n));
        // It may end in an error or with failed units: what matters is what
        // it leaves.
        let _ = run_at(&sim, crashing.clone(), &raw, t(NOW)).await;
        assert!(crashing.is_dead(), "death at {n} of {total} did not happen");
        assert_ledger_names_existing_files(inner.as_ref(), n).await;

        let later: Arc<dyn Destination> = Arc::new(Later {
            inner: inner.clone(),
            ahead: std::time::Duration::from_secs(3600),
        });
        let s = run_at(&sim, later, &raw, t(NOW)).await.unwrap();
        assert!(s.is_ok(), "death at {n}: {s}");
        assert_same(&read_archive(inner.as_ref(), format).await, &want);
        assert_eq!(keys(inner.as_ref()).await, clean, "death at {n}");
        assert_eq!(
            out.leftovers().await,
            Vec::<String>::new(),
            "death at {n} of {total}"
        );
        assert_verifies(&inner, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_in_a_first_archive_converges_local_parquet() {
    every_death_converges(Out::local(), "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_in_a_first_archive_converges_local_csv() {
    every_death_converges(Out::local(), "csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_in_a_first_archive_converges_s3_parquet() {
    every_death_converges(Out::s3("sweep-pq").await, "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_in_a_first_archive_converges_s3_csv() {
    every_death_converges(Out::s3("sweep-csv").await, "csv").await;
}

/// A unit that fails after sealing some of its files (which, on S3, stores
/// them as multipart uploads) aborts them: nothing is pending before any
/// other run, nothing of the unit is visible, and the other unit finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_failing_after_parts_are_stored_leaves_no_upload_on_s3() {
    let sim = sim(sim_config()).await;
    let out = Out::s3("unit-fails").await;
    let first = window(START, HOUR);
    // Record 350 of the first hour has a charge that cannot be stored: the
    // unit fails there, with the file of records 0..200 sealed (stored as a
    // multipart upload) and the next one open.
    sim.corrupt(CdrType::Sms, first, 350, "charge", "\"N/A\"")
        .unwrap();
    let inner = out.dest(0).await;
    let counting = Arc::new(Crashing::counting(inner.clone()));
    let s = run_at(&sim, counting.clone(), &plan("csv", END), t(NOW))
        .await
        .unwrap();
    assert!(!s.is_ok(), "{s}");
    assert_eq!(s.failed.len(), 1, "{s}");
    assert!(counting.finished_writes() >= 1, "no part was stored");
    assert_eq!(out.leftovers().await, Vec::<String>::new());
    let objects = keys(inner.as_ref()).await;
    assert!(
        !objects.iter().any(|k| k.contains("20261101T000000Z-")),
        "{objects:?}"
    );
    assert_eq!(
        ledger::list_windows(inner.as_ref(), CdrType::Sms)
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        hours_between(HOUR, END)
    );

    // Archived with the bad record set aside, the window is whole.
    let raw = cdr_sink::RawArchive {
        on_bad_record: "quarantine".into(),
        ..plan("csv", END)
    };
    let s = run_at(&sim, inner.clone(), &raw, t(NOW)).await.unwrap();
    assert!(s.is_ok(), "{s}");
    assert_same(
        &read_archive(inner.as_ref(), "csv").await,
        &truth(&sim, &[CdrType::Sms], &hours_between(START, END)),
    );
    assert_eq!(out.leftovers().await, Vec::<String>::new());
}

/// The table's files of the sweep's one window: nothing, or exactly the
/// files its ledger entry lists, and nothing at all while it has none.
async fn assert_window_whole_in_table(dest: Arc<dyn Destination>, n: u64) {
    if dest
        .list("cdr_type=sms/_delta_log/")
        .await
        .unwrap()
        .is_empty()
    {
        return;
    }
    let table = cdr_sink::delta::open_table(dest.clone(), CdrType::Sms)
        .await
        .unwrap();
    let (_, active) = table.active_files().await.unwrap();
    let w = window(START, HOUR);
    let listed: Vec<String> = match ledger::read(dest.as_ref(), CdrType::Sms, &w).await.unwrap() {
        Some(e) => e
            .files
            .iter()
            .map(|f| f.key.trim_start_matches("cdr_type=sms/").to_string())
            .collect(),
        None => Vec::new(),
    };
    assert!(
        active.is_empty() || active == listed,
        "death at {n}: the table shows {active:?} of a window whose ledger lists {listed:?}"
    );
}

/// As `every_death_converges`, with Delta tables: after each death a reader
/// of the table sees the window whole or not at all; the next run publishes
/// it whole, once.
async fn every_death_leaves_a_delta_window_whole_or_invisible(out: Out) {
    let sim = sim(sim_config()).await;
    let raw = cdr_sink::RawArchive {
        table_format: "delta".into(),
        ..plan("parquet", HOUR)
    };
    let want = truth(&sim, &[CdrType::Sms], &hours_between(START, HOUR));
    let counting = Arc::new(Crashing::counting(out.dest(0).await));
    let s = run_at(&sim, counting.clone(), &raw, t(NOW)).await.unwrap();
    assert!(s.is_ok(), "{s}");
    let total = counting.mutations();
    let clean = keys(counting.as_ref()).await;
    assert!(clean.contains("cdr_type=sms/_delta_log/00000000000000000001.json"));

    for n in 1..=total {
        let inner = out.dest(n).await;
        let crashing = Arc::new(Crashing::new(inner.clone(), n));
        let _ = run_at(&sim, crashing.clone(), &raw, t(NOW)).await;
        assert!(crashing.is_dead(), "death at {n} of {total} did not happen");
        assert_window_whole_in_table(inner.clone(), n).await;

        let later: Arc<dyn Destination> = Arc::new(Later {
            inner: inner.clone(),
            ahead: std::time::Duration::from_secs(3600),
        });
        let s = run_at(&sim, later, &raw, t(NOW)).await.unwrap();
        assert!(s.is_ok(), "death at {n}: {s}");
        assert_eq!(keys(inner.as_ref()).await, clean, "death at {n}");
        assert_same(&read_archive(inner.as_ref(), "parquet").await, &want);
        assert_window_whole_in_table(inner.clone(), n).await;
        let table = cdr_sink::delta::open_table(inner.clone(), CdrType::Sms)
            .await
            .unwrap();
        let (version, active) = table.active_files().await.unwrap();
        assert_eq!(version, 1, "death at {n}: created, then one commit");
        assert!(!active.is_empty(), "death at {n}: the window is published");
        assert_verifies(&inner, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_leaves_a_delta_window_whole_or_invisible_local() {
    every_death_leaves_a_delta_window_whole_or_invisible(Out::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_death_leaves_a_delta_window_whole_or_invisible_s3() {
    every_death_leaves_a_delta_window_whole_or_invisible(Out::s3("sweep-delta").await).await;
}
