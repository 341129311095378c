//! `--rescan` of windows whose records changed in place (a re-rated charge:
//! the same number of records, another value), and of ledger entries written
//! before content hashes existed; to a local directory and to S3.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use cdr_core::{CdrType, Window};
use cdr_sim::SimConfig;
use cdr_sink::ledger;
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;
use common::*;

const DAY: &str = "2026-11-01T00:00:00Z";
/// The SMS window whose charges change.
const RERATED: &str = "20261101T070000Z-20261101T080000Z";
/// The SMS window whose ledger entry is of ledger version 1.
const LEGACY: &str = "20261101T050000Z-20261101T060000Z";

fn sim_config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([(CdrType::Sms, 240), (CdrType::Voice, 120)]),
        ..SimConfig::default()
    }
}

fn incremental(format: &str) -> cdr_sink::RawArchive {
    cdr_sink::RawArchive {
        start: DAY.into(),
        incremental: true,
        rescan: Some("6h".into()),
        ..raw("SMS,VOICE", format)
    }
}

/// The objects of `snap` that do not belong to SMS `window` (its data files,
/// its ledger entry, and what its replacement moved aside).
fn outside(snap: &BTreeMap<String, Vec<u8>>, window: &str) -> BTreeMap<String, Vec<u8>> {
    snap.iter()
        .filter(|(k, _)| !(k.contains(window) && k.contains("sms")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn sms_hour(h: i64) -> Window {
    let start = t(DAY) + chrono::TimeDelta::hours(h);
    Window::new(start, start + chrono::TimeDelta::hours(1)).unwrap()
}

/// Charges re-rated inside one archived window (same count, other values):
/// `--rescan` replaces exactly that window, once, and nothing else.
async fn a_rerated_window_is_replaced_alone(dest: Arc<dyn Destination>, format: &str) {
    let sim = sim(sim_config()).await;
    let raw = incremental(format);
    // Archive 00:00..10:00.
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:20:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let before = snapshot(dest.as_ref()).await;
    let hours = hours_between(DAY, "2026-11-01T10:00:00Z");
    let count_before = truth(&sim, &[CdrType::Sms], &hours)["sms"].len();

    // A quarter of an hour of SMS charges goes up by 0.0001.
    sim.rerate(
        CdrType::Sms,
        window("2026-11-01T07:10:00Z", "2026-11-01T07:25:00Z"),
        rust_decimal::Decimal::new(1, 4),
    );
    let want = truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours);
    assert_eq!(want["sms"].len(), count_before, "re-rating keeps the count");
    assert_ne!(read_archive(dest.as_ref(), format).await, want);

    // The same hour: nothing new to archive, only the rescan of 04:00..10:00.
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:40:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let r = s.rescan.as_ref().expect("rescan summary");
    assert_eq!(
        (r.start, r.end),
        (t("2026-11-01T04:00:00Z"), t("2026-11-01T10:00:00Z"))
    );
    assert_eq!((r.types["SMS"].checked, r.types["SMS"].changed), (6, 1));
    assert_eq!(r.types["SMS"].records_after, r.types["SMS"].records_before);
    assert_eq!((r.types["VOICE"].checked, r.types["VOICE"].changed), (6, 0));

    let after = snapshot(dest.as_ref()).await;
    // Every object of every other window is byte for byte the same.
    assert_eq!(outside(&before, RERATED), outside(&after, RERATED));
    // The re-rated window holds the new generation only, as its ledger says.
    let entry = ledger::read(dest.as_ref(), CdrType::Sms, &sms_hour(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.generation, 1);
    let files: Vec<&str> = after
        .keys()
        .filter(|k| k.starts_with("cdr_type=sms/") && k.contains(RERATED))
        .map(String::as_str)
        .collect();
    assert_eq!(
        entry
            .files
            .iter()
            .map(|f| f.key.as_str())
            .collect::<Vec<_>>(),
        files
    );
    assert!(files.iter().all(|k| k.contains("-g0001-")), "{files:?}");
    assert_same(&read_archive(dest.as_ref(), format).await, &want);
    assert_verifies(&dest).await;

    // Checked again: unchanged, nothing written.
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:50:00Z"))
        .await
        .unwrap();
    assert_eq!(s.rescan.as_ref().unwrap().changed(), 0, "{s}");
    assert_eq!(snapshot(dest.as_ref()).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerated_window_is_replaced_alone_local_archive() {
    let (_dir, dest) = local_archive();
    a_rerated_window_is_replaced_alone(dest, "csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerated_window_is_replaced_alone_s3() {
    let (dest, _) = s3_dest("rerate").await;
    a_rerated_window_is_replaced_alone(dest, "parquet").await;
}

/// A ledger entry as ledger version 1 wrote it: no `generation`, no
/// `content_hash`.
fn as_version_1(body: &[u8]) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(body).unwrap();
    let map = doc.as_object_mut().unwrap();
    assert!(map.remove("content_hash").is_some());
    map.remove("generation");
    map.remove("skipped_members");
    map.insert("ledger_version".into(), 1.into());
    serde_json::to_vec_pretty(&doc).unwrap()
}

/// An entry of ledger version 1 (no content hash) verifies as it is; a
/// rescan cannot compare its content, so it replaces that window once (same
/// records, now with a hash) and leaves every other window alone; the next
/// rescan finds it unchanged.
async fn a_ledger_entry_without_a_hash_is_rescanned_once(dest: Arc<dyn Destination>, format: &str) {
    let sim = sim(sim_config()).await;
    let raw = incremental(format);
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:20:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let key = cdr_sink::layout::ledger_key(CdrType::Sms, &sms_hour(5)).unwrap();
    assert!(key.as_str().contains(LEGACY));
    let body = dest.get(&key).await.unwrap().unwrap();
    dest.put(&key, as_version_1(&body).into(), "application/json")
        .await
        .unwrap();
    let old = ledger::read(dest.as_ref(), CdrType::Sms, &sms_hour(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((old.generation, old.content_hash.as_deref()), (0, None));
    assert_verifies(&dest).await;
    let before = snapshot(dest.as_ref()).await;

    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:40:00Z"))
        .await
        .unwrap();
    assert!(s.is_ok(), "{s}");
    let r = s.rescan.as_ref().unwrap();
    assert_eq!((r.types["SMS"].checked, r.types["SMS"].changed), (6, 1));
    assert_eq!(r.types["SMS"].records_after, r.types["SMS"].records_before);
    assert_eq!(r.types["VOICE"].changed, 0);
    let after = snapshot(dest.as_ref()).await;
    assert_eq!(outside(&before, LEGACY), outside(&after, LEGACY));
    let new = ledger::read(dest.as_ref(), CdrType::Sms, &sms_hour(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.generation, 1);
    assert_eq!(new.records, old.records);
    assert_eq!(new.ledger_version, ledger::LEDGER_VERSION);
    let hash = new.content_hash.clone().expect("a content hash now");
    // The same hash as a window archived by this version has.
    let fresh = tempfile::tempdir().unwrap();
    let twin: Arc<dyn Destination> = Arc::new(LocalDir::new(fresh.path().join("a")));
    let once = cdr_sink::RawArchive {
        start: "2026-11-01T05:00:00Z".into(),
        end: "2026-11-01T06:00:00Z".into(),
        incremental: false,
        rescan: None,
        ..incremental(format)
    };
    run_at(&sim, twin.clone(), &once, t("2026-11-01T10:40:00Z"))
        .await
        .unwrap();
    let twin_entry = ledger::read(twin.as_ref(), CdrType::Sms, &sms_hour(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(twin_entry.content_hash.as_deref(), Some(hash.as_str()));

    let hours = hours_between(DAY, "2026-11-01T10:00:00Z");
    assert_same(
        &read_archive(dest.as_ref(), format).await,
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
    assert_verifies(&dest).await;
    let s = run_at(&sim, dest.clone(), &raw, t("2026-11-01T10:50:00Z"))
        .await
        .unwrap();
    assert_eq!(s.rescan.as_ref().unwrap().changed(), 0, "{s}");
    assert_eq!(snapshot(dest.as_ref()).await, after);
    assert!(!after.keys().any(|k| k.starts_with("_cdr_sink/replacing/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_entry_without_a_hash_is_rescanned_once_local_archive() {
    let (_dir, dest) = local_archive();
    a_ledger_entry_without_a_hash_is_rescanned_once(dest, "parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_entry_without_a_hash_is_rescanned_once_s3() {
    let (dest, _) = s3_dest("legacy").await;
    a_ledger_entry_without_a_hash_is_rescanned_once(dest, "csv").await;
}
