//! The exactly-once rules of the pipeline, with an in-memory page source, the
//! real local directory destination and a one-line-per-record format.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::TimeDelta;

use cdr_core::{Cdr, MessageCdr, RecordKind, Timestamped, format_datetime, parse_datetime};
use cdr_sink_api::{
    ByteStream, ColumnSet, EncodeError, Encoder, Leftovers, ObjectKey, ObjectMeta, Precondition,
    Upload, Version, Versioned,
};
use cdr_sink_local::LocalDir;

use super::*;
use crate::plan::{FormatChoice, Output};
use crate::source::{PageData, PageStream, SourceError};

/// One line per record: the datetime and the sender.
#[derive(Debug)]
pub(super) struct Lines;

struct LinesEncoder {
    buf: Vec<u8>,
    rows: u64,
    done: bool,
}

impl Format for Lines {
    fn name(&self) -> &'static str {
        "lines"
    }
    fn extension(&self) -> &'static str {
        "txt"
    }
    fn content_type(&self) -> &'static str {
        "text/plain"
    }
    fn encoder(&self, _columns: ColumnSet) -> Result<Box<dyn Encoder>, EncodeError> {
        Ok(Box::new(LinesEncoder {
            buf: Vec::new(),
            rows: 0,
            done: false,
        }))
    }
    fn row_counter(&self) -> Box<dyn cdr_sink_api::RowCounter> {
        Box::new(LineCounter(0))
    }
}

/// Counts line ends.
struct LineCounter(u64);

impl cdr_sink_api::RowCounter for LineCounter {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), cdr_sink_api::ReadError> {
        self.0 += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<u64, cdr_sink_api::ReadError> {
        Ok(self.0)
    }
}

impl Encoder for LinesEncoder {
    fn encode(&mut self, records: &[Cdr]) -> Result<(), EncodeError> {
        if self.done {
            return Err(EncodeError::Finished);
        }
        for r in records {
            let Cdr::Message(m) = r else {
                return Err(EncodeError::WrongKind {
                    expected: RecordKind::Message,
                    got: r.kind(),
                });
            };
            self.buf.extend_from_slice(
                format!(
                    "{} {}\n",
                    format_datetime(&m.datetime),
                    m.from_number.as_deref().unwrap_or("")
                )
                .as_bytes(),
            );
            self.rows += 1;
        }
        Ok(())
    }
    fn take_ready(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
    fn finish(&mut self) -> Result<Vec<u8>, EncodeError> {
        self.done = true;
        Ok(std::mem::take(&mut self.buf))
    }
    fn rows(&self) -> u64 {
        self.rows
    }
    fn size_estimate(&self) -> u64 {
        self.rows * 30
    }
}

fn record(at: chrono::DateTime<chrono::Utc>, id: u64) -> Cdr {
    Cdr::Message(MessageCdr {
        datetime: at,
        from_number: Some(format!("id{id}").into()),
        to_number: None,
        direction: None,
        status: None,
        charge: None,
        r#type: None,
    })
}

/// `per_unit` records per window, evenly spread, served in pages of `page`.
pub(super) struct Memory {
    per_unit: u64,
    page: usize,
    /// unit -> page index at which the next fetch of that unit fails once.
    fail_once_at: Mutex<HashMap<Unit, usize>>,
    pub(super) fetches: AtomicU64,
}

impl Memory {
    pub(super) fn new(per_unit: u64, page: usize) -> Memory {
        Memory {
            per_unit,
            page,
            fail_once_at: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
        }
    }

    pub(super) fn truth(&self, unit: &Unit) -> Vec<Cdr> {
        let step = unit.window.duration() / (self.per_unit as i32).max(1);
        (0..self.per_unit)
            .map(|i| {
                // Pairs of records share a datetime.
                let at = unit.window.start() + step * ((i / 2 * 2) as i32);
                record(at, i)
            })
            .collect()
    }
}

impl PageSource for Memory {
    fn pages(&self, unit: &Unit) -> PageStream {
        self.fetches.fetch_add(1, SeqCst);
        let records = self.truth(unit);
        let fail_at = self.fail_once_at.lock().unwrap().remove(unit);
        let mut pages: Vec<Result<PageData, SourceError>> = records
            .chunks(self.page)
            .map(|c| {
                Ok(PageData {
                    records: c.to_vec(),
                    unknown: Vec::new(),
                    bad: Vec::new(),
                    retries: 1,
                })
            })
            .collect();
        if let Some(at) = fail_at {
            pages.truncate(at);
            pages.push(Err(SourceError::new("connection reset by peer")));
        }
        Box::pin(futures_util::stream::iter(pages))
    }
}

/// A local directory whose `fail_commit_n`-th commit fails (after doing nothing).
#[derive(Debug)]
struct FlakyDir {
    inner: LocalDir,
    commits: std::sync::Arc<AtomicU64>,
    fail_commit_n: u64,
}

struct FlakyUpload {
    inner: Box<dyn Upload>,
    commits: std::sync::Arc<AtomicU64>,
    fail_commit_n: u64,
}

#[async_trait]
impl Upload for FlakyUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.inner.write(chunk).await
    }
    async fn commit(self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        if self.commits.fetch_add(1, SeqCst) + 1 == self.fail_commit_n {
            self.inner.abort().await?;
            return Err(StoreError::Remote {
                operation: "complete upload",
                location: "test".into(),
                message: "injected failure".into(),
                retryable: false,
            });
        }
        self.inner.commit().await
    }
    async fn abort(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.abort().await
    }
}

#[async_trait]
impl Destination for FlakyDir {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.inner.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        Ok(Box::new(FlakyUpload {
            inner: self.inner.begin(key, ct).await?,
            commits: self.commits.clone(),
            fail_commit_n: self.fail_commit_n,
        }))
    }
    async fn put(&self, key: &ObjectKey, body: Bytes, ct: &str) -> Result<ObjectMeta, StoreError> {
        self.inner.put(key, body, ct).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.inner.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.inner.clean_incomplete(which).await
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        ct: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        self.inner.put_if(key, body, ct, precondition).await
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.inner.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.inner.delete_if(key, version).await
    }
    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        self.inner.now().await
    }
}

pub(super) fn plan(window: &str, hours: i64) -> ArchivePlan {
    let start = parse_datetime("2026-11-01T22:00:00Z").unwrap();
    let raw = crate::plan::RawArchive {
        types: "SMS".into(),
        start: format_datetime(&start),
        end: format_datetime(&(start + TimeDelta::hours(hours))),
        out: "unused".into(),
        format: "csv".into(),
        limit: 10,
        concurrency: "3".into(),
        window: window.into(),
        company_id: None,
        ..Default::default()
    };
    let mut p = ArchivePlan::new(&raw, parse_datetime("2026-11-27T00:00:00Z").unwrap()).unwrap();
    p.output = Output::Local("unused".into());
    p.format = FormatChoice::Csv;
    p
}

pub(super) fn options(roll_rows: u64) -> RunOptions {
    RunOptions {
        roll: RollPolicy {
            rows: roll_rows,
            bytes: u64::MAX,
        },
        prefetch: 2,
        owner: crate::claim::Owner::this_process(),
    }
}

async fn run(
    p: &ArchivePlan,
    src: &std::sync::Arc<Memory>,
    dest: std::sync::Arc<dyn Destination>,
    roll_rows: u64,
) -> Summary {
    archive(
        p,
        src.clone(),
        dest,
        std::sync::Arc::new(Lines),
        options(roll_rows),
        Progress::new(&p.types),
    )
    .await
    .unwrap()
}

/// Every visible data line under `root`, and the visible file names.
fn visible(root: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut names = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                if !name.starts_with('_') {
                    stack.push(e.path());
                }
            } else {
                names.push(name.clone());
                if !name.starts_with('.') && !name.starts_with('_') {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    lines.extend(text.lines().map(str::to_string));
                }
            }
        }
    }
    lines.sort();
    names.sort();
    (lines, names)
}

pub(super) fn truth_lines(p: &ArchivePlan, src: &Memory) -> Vec<String> {
    let mut out: Vec<String> = p
        .units
        .iter()
        .flat_map(|u| src.truth(u))
        .map(|r| {
            let Cdr::Message(m) = &r else { unreachable!() };
            format!(
                "{} {}",
                format_datetime(&r.datetime()),
                m.from_number.as_deref().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn archives_every_unit_once_and_rolls_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan("1h", 4); // 22:00..02:00, across a day boundary
    let src = std::sync::Arc::new(Memory::new(25, 10));
    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    let s = run(&p, &src, dest.clone(), 10).await;
    assert!(s.is_ok(), "{s}");
    let t = &s.types["SMS"];
    assert_eq!(
        (t.records, t.units_done, t.files, t.pages, t.retries),
        (100, 4, 12, 12, 12)
    );
    let (lines, names) = visible(dir.path());
    assert_eq!(lines, truth_lines(&p, &src));
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    assert!(dir.path().join("cdr_type=sms/date=2026-11-01").is_dir());
    assert!(dir.path().join("cdr_type=sms/date=2026-11-02").is_dir());
    let ledger = ledger::read_type(dest.as_ref(), cdr_core::CdrType::Sms)
        .await
        .unwrap();
    assert_eq!(ledger.len(), 4);
    let e = ledger.values().next().unwrap();
    assert_eq!(e.records, 25);
    assert_eq!(e.files.len(), 3);
    assert_eq!(e.files.iter().map(|f| f.rows).sum::<u64>(), 25);
    assert_eq!(e.files[0].sha256.len(), 64);

    // A re-run skips everything and fetches nothing.
    let before = src.fetches.load(SeqCst);
    let s = run(&p, &src, dest, 10).await;
    assert_eq!(src.fetches.load(SeqCst), before);
    assert_eq!(s.types["SMS"].units_skipped, 4);
    assert_eq!(visible(dir.path()).0, truth_lines(&p, &src));
}

#[tokio::test]
async fn a_failed_unit_leaves_nothing_visible_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan("1h", 3);
    let src = std::sync::Arc::new(Memory::new(25, 10));
    // The second unit fails after two pages (one file already sealed).
    src.fail_once_at.lock().unwrap().insert(p.units[1], 2);
    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    let s = run(&p, &src, dest.clone(), 10).await;
    assert!(!s.is_ok());
    assert_eq!(s.failed.len(), 1);
    assert!(s.failed[0].error.contains("connection reset"), "{s}");
    assert_eq!(s.failed[0].window_start, p.units[1].window.start());
    let (lines, names) = visible(dir.path());
    assert_eq!(lines.len(), 50, "only the two finished units are visible");
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );

    let s = run(&p, &src, dest, 10).await;
    assert!(s.is_ok(), "{s}");
    assert_eq!(s.types["SMS"].units_skipped, 2);
    assert_eq!(visible(dir.path()).0, truth_lines(&p, &src));
}

#[tokio::test]
async fn a_crash_between_commits_is_repaired_by_the_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan("1h", 1);
    let src = std::sync::Arc::new(Memory::new(25, 10));
    // Three files per unit; the second commit fails: file 0 is visible, no ledger.
    let flaky = std::sync::Arc::new(FlakyDir {
        inner: LocalDir::new(dir.path()),
        commits: Default::default(),
        fail_commit_n: 2,
    });
    let s = run(&p, &src, flaky, 10).await;
    assert!(!s.is_ok());
    let (lines, _) = visible(dir.path());
    assert_eq!(
        lines.len(),
        10,
        "the first file was committed before the failure"
    );

    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    let s = run(&p, &src, dest, 10).await;
    assert!(s.is_ok(), "{s}");
    assert_eq!(visible(dir.path()).0, truth_lines(&p, &src));
}

#[tokio::test]
async fn stale_files_of_a_crashed_attempt_are_removed_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan("1h", 1);
    let src = std::sync::Arc::new(Memory::new(5, 10));
    let u = p.units[0];
    // A crashed attempt with a larger roll left files 0..3, and a temporary one.
    let part = dir.path().join(layout::partition(u.cdr_type, &u.window));
    std::fs::create_dir_all(&part).unwrap();
    for n in 0..4 {
        let key = layout::part_key(u.cdr_type, &u.window, n, "txt").unwrap();
        std::fs::write(dir.path().join(key.as_str()), "stale line\n").unwrap();
    }
    let stem = layout::part_stem(&u.window);
    std::fs::write(part.join(format!(".{stem}00004.txt.1-1.cdr-tmp")), "half").unwrap();
    // And one killed while writing its ledger entry.
    let ledger_dir = dir.path().join(layout::ledger_prefix(u.cdr_type));
    std::fs::create_dir_all(&ledger_dir).unwrap();
    let entry_name = format!("{}.json", u.window.label());
    std::fs::write(ledger_dir.join(format!(".{entry_name}.1-2.cdr-tmp")), "{").unwrap();
    // Another unit's files in the same partition must survive: its finished
    // file, and its upload in progress (another run may be writing it).
    std::fs::write(part.join("part-other-00000.txt"), "other\n").unwrap();
    let live = part.join(".part-other-00001.txt.9-9.cdr-tmp");
    std::fs::write(&live, "in progress").unwrap();
    // A bookkeeping write is done under its directory's lock, so one found
    // there belongs to a dead run, whichever unit it was for.
    let dead_entry = ledger_dir.join(".other.json.9-9.cdr-tmp");
    std::fs::write(&dead_entry, "{").unwrap();
    let s = run(
        &p,
        &src,
        std::sync::Arc::new(LocalDir::new(dir.path())),
        100,
    )
    .await;
    assert!(s.is_ok(), "{s}");
    let (lines, names) = visible(dir.path());
    let mut want = truth_lines(&p, &src);
    want.push("other".into());
    want.sort();
    assert_eq!(lines, want);
    let temps: Vec<_> = names.iter().filter(|n| n.ends_with(".cdr-tmp")).collect();
    assert_eq!(temps, [".part-other-00001.txt.9-9.cdr-tmp"], "{names:?}");
    let left: Vec<_> = std::fs::read_dir(&ledger_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cdr-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(live.exists());
}

#[tokio::test]
async fn a_different_window_over_archived_ones_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::sync::Arc::new(Memory::new(5, 10));
    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    run(&plan("1h", 2), &src, dest.clone(), 100).await;
    let err = archive(
        &plan("15m", 2),
        src.clone(),
        dest,
        std::sync::Arc::new(Lines),
        options(100),
        Progress::new(&[cdr_core::CdrType::Sms]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ArchiveError::Overlap { .. }), "{err}");
    assert!(err.to_string().contains("same --window"), "{err}");
}

#[tokio::test]
async fn empty_windows_finish_without_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan("1h", 2);
    let src = std::sync::Arc::new(Memory::new(0, 10));
    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    let s = run(&p, &src, dest.clone(), 100).await;
    assert!(s.is_ok());
    assert_eq!(s.types["SMS"].units_done, 2);
    assert_eq!(s.types["SMS"].files, 0);
    let ledger = ledger::read_type(dest.as_ref(), cdr_core::CdrType::Sms)
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger
            .values()
            .all(|e| e.records == 0 && e.files.is_empty())
    );
}
