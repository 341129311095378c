//! Publishing windows to a table on local disk and in memory: racing writers,
//! replacements, checkpoints, and a table of other columns.

use std::sync::Arc;
use std::time::SystemTime;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdr_sink_api::memory::MemoryDir;
use cdr_sink_api::{Destination, ObjectKey};
use cdr_sink_delta::{
    CHECKPOINT_INTERVAL, DataFile, DeltaError, DeltaTable, Published, WindowCommit,
};
use cdr_sink_local::LocalDir;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "datetime",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("charge", DataType::Decimal128(20, 10), true),
    ]))
}

const ROOT: &str = "cdr_type=sms";

/// Window `w` (an hour of 2026-11-01) at `generation`, with `files` files
/// stored under the table.
async fn window(dest: &dyn Destination, w: u32, generation: u32, files: u32) -> WindowCommit {
    let prefix = format!("date=2026-11-01/part-w{w:02}-");
    let mut out = Vec::new();
    for n in 0..files {
        let path = format!("{prefix}g{generation}-{n:05}.parquet");
        let key = ObjectKey::new(format!("{ROOT}/{path}")).unwrap();
        dest.put(&key, "bytes".into(), "x").await.unwrap();
        out.push(DataFile {
            path,
            size: 5,
            rows: 10,
            modified: SystemTime::now(),
        });
    }
    WindowCommit {
        app_id: format!("cdr-sink/w{w:02}"),
        generation,
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        prefix,
        files: out,
        min_datetime: None,
        max_datetime: None,
    }
}

fn log_versions(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(ROOT).join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_of_one_window_commit_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(dir.path()));
    let w = window(dest.as_ref(), 1, 0, 2).await;
    DeltaTable::open(dest.clone(), ROOT, schema())
        .await
        .unwrap();
    // Eight writers, each with its own view of the table, as separate runs have.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (dest, w) = (dest.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let table = DeltaTable::open(dest, ROOT, schema()).await.unwrap();
            table.publish(w).await.unwrap()
        }));
    }
    let mut committed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Published::Committed {
                version,
                added,
                removed,
            } => {
                assert_eq!((version, added, removed), (1, 2, 0));
                committed += 1;
            }
            Published::AlreadyInLog { version } => assert_eq!(version, 1),
        }
    }
    assert_eq!(committed, 1, "exactly one writer commits the window");
    assert_eq!(
        log_versions(dir.path()).len(),
        2,
        "the table's creation and one commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_of_different_windows_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(dir.path()));
    DeltaTable::open(dest.clone(), ROOT, schema())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let dest = dest.clone();
        tasks.push(tokio::spawn(async move {
            let c = window(dest.as_ref(), w, 0, 1).await;
            let table = DeltaTable::open(dest, ROOT, schema()).await.unwrap();
            table.publish(c).await.unwrap()
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        let Published::Committed { version, .. } = t.await.unwrap() else {
            panic!("every window is new");
        };
        versions.push(version);
    }
    versions.sort();
    assert_eq!(
        versions,
        [1, 2, 3, 4, 5, 6],
        "lost races are committed again on top"
    );
    let table = DeltaTable::open(dest, ROOT, schema()).await.unwrap();
    let (version, files) = table.active_files().await.unwrap();
    assert_eq!((version, files.len()), (6, 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_removes_the_old_generation_and_adds_the_new_in_one_commit() {
    let dest: Arc<dyn Destination> = Arc::new(MemoryDir::new("mem"));
    let table = DeltaTable::open(dest.clone(), ROOT, schema())
        .await
        .unwrap();
    let other = window(dest.as_ref(), 2, 0, 1).await;
    table.publish(other.clone()).await.unwrap();
    let g0 = window(dest.as_ref(), 1, 0, 2).await;
    table.publish(g0.clone()).await.unwrap();
    let g1 = window(dest.as_ref(), 1, 1, 1).await;
    assert_eq!(
        table.publish(g1.clone()).await.unwrap(),
        Published::Committed {
            version: 3,
            added: 1,
            removed: 2
        }
    );
    let (_, files) = table.active_files().await.unwrap();
    let mut want = vec![other.files[0].path.clone(), g1.files[0].path.clone()];
    want.sort();
    assert_eq!(files, want, "the other window is untouched");
    // A late writer of the older generation finds the newer one in the log.
    assert_eq!(
        table.publish(g0).await.unwrap(),
        Published::AlreadyInLog { version: 3 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_is_written_every_interval_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(LocalDir::new(dir.path()));
    let table = DeltaTable::open(dest.clone(), ROOT, schema())
        .await
        .unwrap();
    for w in 0..CHECKPOINT_INTERVAL as u32 + 2 {
        let c = window(dest.as_ref(), w, 0, 1).await;
        table.publish(c).await.unwrap();
    }
    let log = dir.path().join(ROOT).join("_delta_log");
    let checkpoint = format!("{CHECKPOINT_INTERVAL:020}.checkpoint.parquet");
    assert!(log.join(&checkpoint).is_file(), "{checkpoint} written");
    assert!(log.join("_last_checkpoint").is_file());
    // A fresh reader starts from the checkpoint and sees every window.
    let again = DeltaTable::open(dest, ROOT, schema()).await.unwrap();
    let (version, files) = again.active_files().await.unwrap();
    assert_eq!(version, CHECKPOINT_INTERVAL + 2);
    assert_eq!(files.len() as u64, CHECKPOINT_INTERVAL + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_other_columns_is_refused() {
    let dest: Arc<dyn Destination> = Arc::new(MemoryDir::new("mem"));
    DeltaTable::open(dest.clone(), ROOT, schema())
        .await
        .unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let err = DeltaTable::open(dest, ROOT, other).await.unwrap_err();
    assert!(matches!(err, DeltaError::SchemaMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("datetime") && text.contains("x long"),
        "{text}"
    );
}
