//! Replaced files left in place for a Delta table's earlier versions: which
//! stay, which move, and that they go (and only they) after `--keep-replaced`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::TimeDelta;

use cdr_core::{CdrType, Window, parse_datetime};
use cdr_sink_api::memory::MemoryDir;
use cdr_sink_api::{Destination, ObjectKey, Precondition};

use crate::claim::{Acquired, Claim, Claims, Owner};
use crate::layout;
use crate::ledger::{self, FileEntry, UnitEntry};
use crate::plan::Unit;
use crate::rescan::{keep_only_listed, remove_old_replaced};

/// A store whose clock moves only when the test says so.
fn store() -> (Arc<MemoryDir>, Arc<AtomicU64>) {
    let secs = Arc::new(AtomicU64::new(1_796_025_600));
    let clock = secs.clone();
    let dest = MemoryDir::with_clock(
        "retained",
        Arc::new(move || {
            SystemTime::UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst))
        }),
    );
    (Arc::new(dest), secs)
}

fn unit() -> Unit {
    Unit {
        cdr_type: CdrType::Sms,
        window: Window::new(
            parse_datetime("2026-11-01T03:00:00Z").unwrap(),
            parse_datetime("2026-11-01T04:00:00Z").unwrap(),
        )
        .unwrap(),
    }
}

fn part(generation: u32, n: u32) -> ObjectKey {
    let u = unit();
    layout::generation_part_key(u.cdr_type, &u.window, generation, n, "parquet").unwrap()
}

/// The window's ledger entry at `generation`, listing `files`.
fn entry(generation: u32, files: &[ObjectKey]) -> UnitEntry {
    UnitEntry {
        generation,
        files: files
            .iter()
            .map(|k| FileEntry {
                key: k.to_string(),
                size: 4,
                rows: 1,
                sha256: String::new(),
            })
            .collect(),
        ..ledger::tests::entry("2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z")
    }
}

async fn claim(dest: &Arc<MemoryDir>) -> Claim {
    let owner = Owner {
        host: "test".into(),
        pid: 1,
        run_id: "retained".into(),
    };
    let claims = Claims::new(dest.clone(), owner, Duration::from_secs(300));
    match claims.acquire(&unit(), "archive").await.unwrap() {
        Acquired::Owned(c) => c,
        Acquired::Busy(b) => panic!("busy: {b:?}"),
    }
}

async fn put(dest: &MemoryDir, key: &ObjectKey) {
    dest.put(key, Bytes::from_static(b"PAR1"), "application/octet-stream")
        .await
        .unwrap();
}

/// A store holding `files` and the window's ledger entry at generation 1,
/// which lists `part(1, 0)`.
async fn finished_at_generation_1(files: &[ObjectKey]) -> (Arc<MemoryDir>, Arc<AtomicU64>) {
    let (dest, secs) = store();
    for key in files {
        put(&dest, key).await;
    }
    let current = entry(1, &[part(1, 0)]);
    ledger::write(dest.as_ref(), &current, &Precondition::Absent)
        .await
        .unwrap();
    (dest, secs)
}

/// Generation 0 was replaced by generation 1; generation 2 is what a failed
/// later attempt left. Returns the store, its clock and the claim.
async fn replaced_window() -> (Arc<MemoryDir>, Arc<AtomicU64>, Claim) {
    let (dest, secs) =
        finished_at_generation_1(&[part(0, 0), part(0, 1), part(1, 0), part(2, 0)]).await;
    let c = claim(&dest).await;
    (dest, secs, c)
}

/// The lists of retained files in `dest`.
async fn lists(dest: &MemoryDir) -> Vec<(ObjectKey, super::RetainedFiles)> {
    let listed = dest.list(&layout::replaced_prefix()).await.unwrap();
    super::read_lists(dest, &listed).await.unwrap()
}

fn data_files(dest: &MemoryDir) -> Vec<String> {
    dest.keys()
        .into_iter()
        .filter(|k| k.as_str().starts_with("cdr_type="))
        .map(|k| k.to_string())
        .collect()
}

#[tokio::test]
async fn with_tables_older_generations_stay_in_place_until_keep_replaced_has_passed() {
    let (dest, secs, c) = replaced_window().await;
    let u = unit();
    let old = entry(0, &[part(0, 0), part(0, 1)]);
    let n = keep_only_listed(dest.as_ref(), &c, u.cdr_type, &u.window, Some(&old), true)
        .await
        .unwrap();
    assert_eq!(n, 3);
    // Generation 0 stays where the table's earlier versions name it; the
    // never-published generation 2 moves aside.
    assert_eq!(
        data_files(&dest),
        [part(0, 0), part(0, 1), part(1, 0)].map(|k| k.to_string())
    );
    let lists = lists(&dest).await;
    assert_eq!(lists.len(), 1);
    let (_, list) = &lists[0];
    assert_eq!(list.window(), Some(u.window));
    assert_eq!(
        list.files
            .iter()
            .map(|f| (f.key.as_str(), f.size))
            .collect::<Vec<_>>(),
        [(part(0, 0).as_str(), 4), (part(0, 1).as_str(), 4)]
    );
    let status = crate::status::status(dest.as_ref(), &[CdrType::Sms], chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!((status.replaced_files, status.replaced_in_place), (3, 2));
    assert_eq!(status.replaced_bytes, 12);

    // Not yet: nothing goes.
    secs.fetch_add(3599, Ordering::SeqCst);
    assert_eq!(
        remove_old_replaced(dest.as_ref(), TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(data_files(&dest).len(), 3);
    // Once --keep-replaced has passed, the retained files, the one moved
    // aside and the old entry's copy go; the current generation stays.
    secs.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        remove_old_replaced(dest.as_ref(), TimeDelta::hours(1))
            .await
            .unwrap(),
        4
    );
    assert_eq!(data_files(&dest), [part(1, 0).to_string()]);
    assert!(
        dest.list(&layout::replaced_prefix())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ledger::read(dest.as_ref(), u.cdr_type, &u.window)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn without_tables_every_unlisted_file_moves_aside() {
    let (dest, _, c) = replaced_window().await;
    let u = unit();
    let n = keep_only_listed(dest.as_ref(), &c, u.cdr_type, &u.window, None, false)
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(data_files(&dest), [part(1, 0).to_string()]);
    assert!(lists(&dest).await.is_empty());
}

#[tokio::test]
async fn a_list_never_deletes_what_the_ledger_lists_or_what_is_not_a_data_file() {
    let u = unit();
    let foreign = ObjectKey::new("cdr_type=sms/date=2026-11-01/notes.txt").unwrap();
    let (dest, _) = finished_at_generation_1(&[part(1, 0), foreign.clone()]).await;
    let metas = dest.list("cdr_type=sms/").await.unwrap();
    assert_eq!(metas.len(), 2);
    super::write(
        dest.as_ref(),
        "20261101T000000Z",
        u.cdr_type,
        &u.window,
        &metas,
    )
    .await
    .unwrap();
    assert_eq!(
        remove_old_replaced(dest.as_ref(), TimeDelta::zero())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        data_files(&dest),
        [foreign.to_string(), part(1, 0).to_string()]
    );
    assert!(lists(&dest).await.is_empty());
}
