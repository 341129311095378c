//! One unit of work (one type over one window): stream its pages into files,
//! commit the files, then write its ledger entry.
//!
//! Exactly once rests on four rules:
//! 1. every file of the unit stays an uncommitted upload (hidden temporary file,
//!    or incomplete multipart upload) until the last page has been fetched and
//!    encoded; then they are committed in order;
//! 2. the ledger entry is written after the last commit, conditionally
//!    (create-only for a first archive, a compare-and-swap on the entry that
//!    is replaced), and only a unit with a ledger entry is finished;
//! 3. before a unit is (re)done, every visible file of that unit left by an
//!    earlier attempt that crashed between commits is deleted, and names are a
//!    pure function of the unit, so nothing stale survives;
//! 4. all of it happens under the unit's [`Claim`], checked before every step
//!    that cannot be undone, so no two runs work on one unit at once.
//!
//! Nothing is dropped silently: records of a union member this version cannot
//! store fail the unit (or, with `--on-unknown skip`, are counted in the
//! ledger), and a value that cannot be stored fails it too (or, with
//! `--on-bad-record quarantine`, goes to a quarantine file beside the ledger).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};

use std::collections::BTreeMap;

use cdr_core::{Cdr, CdrType, SCHEMA_VERSION, Timestamped};
use cdr_sink_api::{
    ColumnSet, Destination, EncodeError, Encoder, Format, Leftovers, ObjectKey, Precondition,
    StoreError, Upload,
};

use crate::claim::{Claim, ClaimLost};
use crate::content::ContentHash;
use crate::hex::hex;
use crate::layout;
use crate::ledger::{self, FileEntry, LedgerError, UnitEntry};
use crate::plan::{OnBadRecord, OnUnknown, RollPolicy, Unit};
use crate::progress::Progress;
use crate::source::{PageSource, SourceError};

/// Why a unit failed. The unit stays unfinished; a re-run redoes it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    #[error("fetching: {0}")]
    Source(#[from] SourceError),
    #[error("encoding: {0}")]
    Encode(#[from] EncodeError),
    #[error("storing: {0}")]
    Store(#[from] StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("a {got} record came back for a {asked} query")]
    WrongKind {
        asked: CdrType,
        got: cdr_core::RecordKind,
    },
    #[error("{}", unknown_message(*.cdr_type, .members))]
    UnknownMembers {
        cdr_type: CdrType,
        /// Elements per union member name.
        members: BTreeMap<String, u64>,
    },
    #[error(
        "the API now lists {now} records where the archive holds {archived}: refused, so that no archived record is deleted on the API's word; pass --allow-shrink to accept the smaller answer"
    )]
    Shrink { archived: u64, now: u64 },
    #[error(
        "record {position} of the window (page {page}, a {typename}) cannot be stored: `{field}`: {message}{}; pass --on-bad-record quarantine to archive the rest and keep such records aside",
        if *.more > 0 { format!(" (and {} more in that page)", .more) } else { String::new() }
    )]
    BadRecord {
        /// 1-based, counting every element the API returned for the window.
        position: u64,
        page: u64,
        typename: String,
        field: String,
        message: String,
        /// Other bad records of the same page.
        more: u64,
    },
    #[error(transparent)]
    ClaimLost(#[from] ClaimLost),
    #[error("another run finished this window first (its ledger entry changed); its result stands")]
    FinishedElsewhere,
    #[error("the unit was stopped before it finished (the runtime is shutting down)")]
    Stopped,
}

impl UnitError {
    /// Whether no other unit can succeed either (see [`SourceError::is_fatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, UnitError::Source(e) if e.is_fatal())
    }

    /// The one line a fatal error stops the run with.
    pub fn fatal_message(&self) -> String {
        match self {
            UnitError::Source(e) => e.to_string(),
            other => other.to_string(),
        }
    }
}

fn unknown_message(t: CdrType, members: &BTreeMap<String, u64>) -> String {
    let list: Vec<String> = members
        .iter()
        .map(|(name, n)| {
            let name = if name.is_empty() { "(unnamed)" } else { name };
            format!("{n} records of union member {name}")
        })
        .collect();
    format!(
        "`cdrs` of type {t} returned {}, which this version cannot store: upgrade cdr-sink, or pass --on-unknown skip to archive the rest and count them",
        list.join(" and ")
    )
}

/// What a unit writer needs; shared by every unit of a run.
#[derive(Clone)]
pub struct UnitContext {
    pub source: Arc<dyn PageSource>,
    pub dest: Arc<dyn Destination>,
    pub format: Arc<dyn Format>,
    pub roll: RollPolicy,
    pub progress: Arc<Progress>,
    /// Pages fetched ahead of the encoder (pipelining fetch with encoding).
    pub prefetch: usize,
    /// What to do with records of union members this version cannot store.
    pub on_unknown: OnUnknown,
    /// What to do with records whose values cannot be stored.
    pub on_bad_record: OnBadRecord,
}

/// One run of a unit: which generation of its files it writes, under which
/// claim, and what its ledger entry replaces.
pub struct UnitJob<'a> {
    pub unit: Unit,
    /// 0 for a window's first archive; the next one for a replacement.
    pub generation: u32,
    pub claim: &'a Claim,
    /// `Absent` for a first archive; the version of the entry it replaces.
    pub ledger: Precondition,
    /// Refuse to finish with fewer records than this (a replacement must not
    /// shrink a window unless the operator allows it).
    pub at_least: Option<u64>,
    /// The unit's place among those fetching at once, given up when its last
    /// page has arrived.
    pub slot: FetchSlot,
}

/// A unit's place among the units that fetch at once (`--concurrency`). The
/// unit gives it up as soon as its last page has arrived, so that the next
/// unit's requests overlap the rest of this one: encoding its last pages,
/// committing its files (fsyncs, multipart completions), writing its ledger
/// entry and releasing its claim, which it still does. How many units may
/// finish that way at once is the scheduler's business.
#[derive(Debug, Clone, Default)]
pub struct FetchSlot(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl FetchSlot {
    /// A slot that holds `permit` until it is given up or dropped.
    pub fn new(permit: tokio::sync::OwnedSemaphorePermit) -> FetchSlot {
        FetchSlot(Arc::new(std::sync::Mutex::new(Some(permit))))
    }

    /// Gives the place up; later calls do nothing.
    pub fn give_up(&self) {
        let permit = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(permit);
    }
}

/// A file being written: its upload stays uncommitted until the unit ends.
struct OpenFile {
    key: ObjectKey,
    upload: Box<dyn Upload>,
    hasher: Sha256,
    size: u64,
    rows: u64,
}

/// Largest piece handed to a destination at once. An encoder's output comes
/// a row group at a time (megabytes); in pieces, no destination needs a
/// buffer of a row group's size to take it.
const WRITE_PIECE: usize = 256 * 1024;

impl OpenFile {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.hasher.update(&bytes);
        self.size += bytes.len() as u64;
        let bytes = Bytes::from(bytes);
        let mut at = 0;
        while at < bytes.len() {
            let end = bytes.len().min(at + WRITE_PIECE);
            self.upload.write(bytes.slice(at..end)).await?;
            at = end;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Files {
    current: Option<(Box<dyn Encoder>, OpenFile)>,
    sealed: Vec<OpenFile>,
    /// The raw JSON of records that cannot be stored, one line each
    /// (`--on-bad-record quarantine`).
    quarantine: Option<OpenFile>,
}

impl Files {
    async fn abort_all(self) {
        let mut all: Vec<OpenFile> = self.sealed;
        if let Some((_, f)) = self.current {
            all.push(f);
        }
        all.extend(self.quarantine);
        for f in all {
            if let Err(e) = f.upload.abort().await {
                tracing::warn!("could not abort upload of {}: {e}", f.key);
            }
        }
    }
}

/// Runs one unit to its ledger entry (see [`UnitJob`]). Generation 0 is a
/// unit's first archive: every file of the unit left visible by an earlier
/// attempt is removed first. A later generation replaces a finished unit's
/// files (see [`crate::rescan`]): only files of that same generation are
/// removed first, the finished generation stays until the new ledger entry is
/// written.
pub async fn run_unit(ctx: &UnitContext, job: UnitJob<'_>) -> Result<UnitEntry, UnitError> {
    let unit = job.unit;
    let span = info_span!("unit", cdr_type = %unit.cdr_type, window = %unit.window);
    let work = async {
        let mut files = Files::default();
        match write_files(ctx, &job, &mut files).await {
            Ok(stats) => commit(ctx, &job, files, stats).await,
            Err(e) => {
                files.abort_all().await;
                Err(e)
            }
        }
    }
    .instrument(span);
    work.await
}

/// Removes what crashed attempts at `unit` left unfinished: its temporary
/// uploads, and those of its ledger entry. Only under the unit's claim (an
/// upload of a live run would be removed with them).
pub async fn clean_leftovers(dest: &dyn Destination, unit: &Unit) -> Result<u64, StoreError> {
    let data = format!(
        "{}/{}",
        layout::partition(unit.cdr_type, &unit.window),
        layout::part_stem(&unit.window)
    );
    let entry = layout::ledger_key(unit.cdr_type, &unit.window)?;
    let mut n = 0;
    for prefix in [data, entry.to_string()] {
        n += dest.clean_incomplete(&Leftovers::all(prefix)).await?;
    }
    Ok(n)
}

async fn remove_stale_files(ctx: &UnitContext, job: &UnitJob<'_>) -> Result<(), UnitError> {
    let (unit, generation) = (&job.unit, job.generation);
    let partition = layout::partition(unit.cdr_type, &unit.window);
    for meta in ctx.dest.list(&partition).await? {
        let stale = match layout::generation_of(&meta.key, unit.cdr_type, &unit.window) {
            Some(g) => generation == 0 || g == generation,
            None => false,
        };
        if stale {
            job.claim.check()?;
            debug!("removing {} left by an unfinished attempt", meta.key);
            ctx.dest.delete(&meta.key).await?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct WriteStats {
    records: u64,
    pages: u64,
    /// Elements of union members this version cannot store, per name.
    unknown: BTreeMap<String, u64>,
    /// Elements of every kind received so far (for positions in messages).
    elements: u64,
    /// Records that cannot be stored, written to the quarantine file.
    quarantined: u64,
    seen: Fingerprint,
}

/// One line of a quarantine file.
#[derive(serde::Serialize)]
struct QuarantineLine<'a> {
    /// 1-based, counting every element the API returned for the window.
    position: u64,
    page: u64,
    typename: &'a str,
    field: &'a str,
    problem: &'a str,
    /// The element as the server sent it.
    record: &'a serde_json::value::RawValue,
}

/// Writes the raw JSON of `bad` records, one line each with where they were
/// and what is wrong, to the unit's quarantine file (begun on first use).
async fn quarantine(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: &mut Files,
    first: u64,
    page: u64,
    bad: &[cdr_core::BadRecord],
) -> Result<(), UnitError> {
    if files.quarantine.is_none() {
        let key = layout::quarantine_key(job.unit.cdr_type, &job.unit.window, job.generation)
            .map_err(StoreError::from)?;
        let upload = ctx.dest.begin(&key, "application/x-ndjson").await?;
        files.quarantine = Some(OpenFile {
            key,
            upload,
            hasher: Sha256::new(),
            size: 0,
            rows: 0,
        });
    }
    let Some(file) = files.quarantine.as_mut() else {
        return Ok(());
    };
    let mut lines = Vec::new();
    for b in bad {
        // The server's text as it was, when it is JSON (it always is, coming
        // from a decoded page); a string otherwise.
        let record = serde_json::from_str::<Box<serde_json::value::RawValue>>(&b.raw)
            .or_else(|_| serde_json::value::to_raw_value(&b.raw))
            .map_err(|e| EncodeError::Format {
                format: "quarantine",
                message: e.to_string(),
            })?;
        let line = QuarantineLine {
            position: first + b.index as u64 + 1,
            page,
            typename: &b.typename,
            field: &b.field,
            problem: &b.message,
            record: &record,
        };
        let text = serde_json::to_vec(&line).map_err(|e| EncodeError::Format {
            format: "quarantine",
            message: e.to_string(),
        })?;
        lines.extend_from_slice(&text);
        lines.push(b'\n');
        file.rows += 1;
    }
    file.write(lines).await?;
    Ok(())
}

async fn write_files(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: &mut Files,
) -> Result<WriteStats, UnitError> {
    let (unit, generation) = (&job.unit, job.generation);
    let counters = ctx.progress.of(unit.cdr_type);
    let kind = unit.cdr_type.record_kind();
    // Fetch in a task of its own, so that the next pages are fetched and
    // decoded while this one is checked, fingerprinted, encoded and stored.
    let (tx, mut rx) = mpsc::channel(ctx.prefetch.max(1));
    let mut pages = ctx.source.pages(unit);
    let asked = unit.cdr_type;
    let slot = job.slot.clone();
    let fetcher = tokio::spawn(async move {
        loop {
            let Some(page) = pages.next().await else {
                // Every page has arrived: the next unit may start fetching
                // while this one encodes the last pages and commits.
                slot.give_up();
                break;
            };
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                break;
            }
        }
    });
    let _abort_fetcher = AbortOnDrop(fetcher);
    // The first request is on its way while the partition is cleaned up.
    remove_stale_files(ctx, job).await?;
    let mut seen = Fingerprint::default();

    let mut stats = WriteStats::default();
    while let Some(page) = rx.recv().await {
        let page = page?;
        stats.pages += 1;
        counters.pages.fetch_add(1, Relaxed);
        counters.retries.fetch_add(page.retries, Relaxed);
        if !page.unknown.is_empty() {
            for member in &page.unknown {
                *stats.unknown.entry(member.typename.clone()).or_default() += 1;
            }
            if ctx.on_unknown == OnUnknown::Fail {
                // The unit fails: free its files now, count to the end for
                // the message.
                std::mem::take(files).abort_all().await;
            }
        }
        let first = stats.elements;
        stats.elements += (page.records.len() + page.unknown.len() + page.bad.len()) as u64;
        if !page.bad.is_empty() {
            match ctx.on_bad_record {
                OnBadRecord::Fail => {
                    let bad = &page.bad[0];
                    return Err(UnitError::BadRecord {
                        position: first + bad.index as u64 + 1,
                        page: stats.pages,
                        typename: bad.typename.clone(),
                        field: bad.field.clone(),
                        message: bad.message.clone(),
                        more: page.bad.len() as u64 - 1,
                    });
                }
                OnBadRecord::Quarantine => {
                    quarantine(ctx, job, files, first, stats.pages, &page.bad).await?;
                    stats.quarantined += page.bad.len() as u64;
                    counters
                        .quarantined
                        .fetch_add(page.bad.len() as u64, Relaxed);
                }
            }
        }
        if ctx.on_unknown == OnUnknown::Fail && !stats.unknown.is_empty() {
            ctx.source.recycle(page.records);
            continue;
        }
        if page.records.is_empty() {
            continue;
        }
        if files.current.is_none() {
            let n = files.sealed.len() as u32;
            let key = layout::generation_part_key(
                unit.cdr_type,
                &unit.window,
                generation,
                n,
                ctx.format.extension(),
            )
            .map_err(StoreError::from)?;
            let encoder = ctx.format.encoder(ColumnSet::all(kind))?;
            let upload = ctx.dest.begin(&key, ctx.format.content_type()).await?;
            files.current = Some((
                encoder,
                OpenFile {
                    key,
                    upload,
                    hasher: Sha256::new(),
                    size: 0,
                    rows: 0,
                },
            ));
        }
        let Some((encoder, file)) = files.current.take() else {
            continue;
        };
        // Check, fingerprint and encode the page in one piece of CPU work;
        // the encoder comes back whatever the outcome.
        let records = page.records;
        let done = off_runtime(move || {
            let (mut encoder, mut seen) = (encoder, seen);
            let result = seen
                .add(asked, &records)
                .and_then(|()| encoder.encode(&records).map_err(UnitError::from));
            (encoder, seen, records, result)
        })
        .await;
        let Some((encoder, fingerprint, records, result)) = done else {
            // The encoder is gone with its thread: abort the file with the rest.
            files.sealed.push(file);
            return Err(UnitError::Stopped);
        };
        seen = fingerprint;
        let (encoder, file) = files.current.insert((encoder, file));
        result?;
        let n = records.len() as u64;
        // The fetcher decodes a later page into this one's memory.
        ctx.source.recycle(records);
        file.rows += n;
        stats.records += n;
        counters.records.fetch_add(n, Relaxed);
        file.write(encoder.take_ready()).await?;
        if encoder.rows() >= ctx.roll.rows || encoder.size_estimate() >= ctx.roll.bytes {
            seal_current(files).await?;
            // The sealed file waits for the unit's end before its commit: let
            // the destination store its buffered tail now, so memory does not
            // grow with the number of files a unit rolls over.
            if let Some(sealed) = files.sealed.last_mut() {
                sealed.upload.finish_writes().await?;
            }
        }
    }
    if ctx.on_unknown == OnUnknown::Fail && !stats.unknown.is_empty() {
        return Err(UnitError::UnknownMembers {
            cdr_type: unit.cdr_type,
            members: stats.unknown,
        });
    }
    for (name, n) in &stats.unknown {
        counters.skipped_members.fetch_add(*n, Relaxed);
        counters.note_unknown(name, *n);
    }
    seal_current(files).await?;
    stats.seen = seen;
    Ok(stats)
}

/// Runs CPU-heavy work (checking, fingerprinting and encoding a page: about
/// a millisecond) on the CPU threads of [`cpu_pool`], so that it never
/// delays the runtime's tasks that read answers and send the next requests:
/// with many units at once, pages arrive together, and work queued on the
/// runtime's workers would hold back every unit's next request. `None` when
/// the work was dropped unrun (its thread is gone).
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    });
    if let Err(std::sync::mpsc::SendError(job)) = cpu_pool().send(job) {
        // No CPU thread could be started: work where we are.
        job();
    }
    match rx.await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => None,
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core for the units' CPU work, started on first use. A fixed
/// set of threads (rather than the runtime's blocking pool, which grows a
/// thread per waiting job) keeps the allocator's per-thread arenas, and with
/// them memory, few.
fn cpu_pool() -> &'static std::sync::mpsc::Sender<Job> {
    static POOL: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for n in 0..threads {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("cdr-sink-cpu-{n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        // Without threads the receiver is gone and sends fail: the caller
        // then works in place.
        drop(rx);
        tx
    })
}

/// What a unit learns of its records on their way to the encoder.
#[derive(Default)]
struct Fingerprint {
    min: Option<chrono::DateTime<Utc>>,
    max: Option<chrono::DateTime<Utc>>,
    content: ContentHash,
}

impl Fingerprint {
    /// Checks that every record is of the kind asked for, and counts the
    /// records into the datetime range and the content hash.
    fn add(&mut self, asked: CdrType, records: &[Cdr]) -> Result<(), UnitError> {
        let kind = asked.record_kind();
        if let Some(bad) = records.iter().find(|r| r.kind() != kind) {
            return Err(UnitError::WrongKind {
                asked,
                got: bad.kind(),
            });
        }
        for r in records {
            let t = r.datetime();
            self.min = Some(self.min.map_or(t, |m| m.min(t)));
            self.max = Some(self.max.map_or(t, |m| m.max(t)));
        }
        self.content.add_all(records);
        Ok(())
    }
}

async fn seal_current(files: &mut Files) -> Result<(), UnitError> {
    if let Some((encoder, mut file)) = files.current.take() {
        // Finishing flushes the last row group: CPU work, off the runtime.
        let done = off_runtime(move || {
            let mut encoder = encoder;
            let rest = encoder.finish();
            (encoder, rest)
        })
        .await;
        let Some((encoder, rest)) = done else {
            files.sealed.push(file);
            return Err(UnitError::Stopped);
        };
        let rest = match rest {
            Ok(r) => r,
            Err(e) => {
                files.current = Some((encoder, file));
                return Err(e.into());
            }
        };
        if let Err(e) = file.write(rest).await {
            files.current = Some((encoder, file));
            return Err(e.into());
        }
        files.sealed.push(file);
    }
    Ok(())
}

async fn commit(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: Files,
    stats: WriteStats,
) -> Result<UnitEntry, UnitError> {
    let unit = &job.unit;
    if let Some(archived) = job.at_least
        && stats.records < archived
    {
        files.abort_all().await;
        return Err(UnitError::Shrink {
            archived,
            now: stats.records,
        });
    }
    let counters = ctx.progress.of(unit.cdr_type);
    let mut entries = Vec::with_capacity(files.sealed.len());
    let files_quarantine = files.quarantine;
    let mut sealed = files.sealed.into_iter();
    while let Some(f) = sealed.next() {
        let key = f.key.clone();
        let sha256 = hex(&f.hasher.finalize());
        let committed = match job.claim.check() {
            Ok(()) => f.upload.commit().await.map_err(UnitError::from),
            Err(lost) => {
                let _ = f.upload.abort().await;
                Err(lost.into())
            }
        };
        match committed {
            Ok(meta) => {
                counters.files.fetch_add(1, Relaxed);
                counters.bytes.fetch_add(meta.size, Relaxed);
                entries.push(FileEntry {
                    key: key.to_string(),
                    size: meta.size,
                    rows: f.rows,
                    sha256,
                });
            }
            Err(e) => {
                for rest in sealed.chain(files_quarantine) {
                    let _ = rest.upload.abort().await;
                }
                return Err(e);
            }
        }
    }
    let quarantine = match files_quarantine {
        Some(mut f) => {
            job.claim.check()?;
            f.upload.finish_writes().await?;
            let meta = f.upload.commit().await?;
            Some(meta.key.to_string())
        }
        None => None,
    };
    let skipped = stats.unknown.values().sum();
    let entry = UnitEntry {
        ledger_version: ledger::LEDGER_VERSION,
        cdr_type: unit.cdr_type,
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        records: stats.records,
        pages: stats.pages,
        skipped,
        skipped_members: stats.unknown,
        quarantined: stats.quarantined,
        quarantine,
        min_datetime: stats.seen.min,
        max_datetime: stats.seen.max,
        format: ctx.format.name().to_string(),
        schema_version: SCHEMA_VERSION,
        files: entries,
        finished_at: Utc::now(),
        generation: job.generation,
        content_hash: Some(stats.seen.content.hex()),
        content_hash_version: stats.seen.content.version(),
    };
    job.claim.check()?;
    match ledger::write(ctx.dest.as_ref(), &entry, &job.ledger).await {
        Ok(_) => Ok(entry),
        Err(LedgerError::Store(e)) if e.is_precondition_failed() => {
            Err(UnitError::FinishedElsewhere)
        }
        Err(e) => Err(e.into()),
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
