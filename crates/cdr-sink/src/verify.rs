//! `cdr-sink verify`: checks an archive against its ledger without calling the
//! API.
//!
//! - every file a ledger entry lists exists, with the recorded size, SHA-256
//!   and row count (Parquet footer, CSV rows);
//! - every data file under `cdr_type=*/date=*/` is listed by a ledger entry;
//! - the finished windows of each type cover the archived range (first window
//!   start to last window end) without a gap or an overlap;
//! - no replacement is left unfinished.
//!
//! Each problem comes with its own kind and message, and the report ends with
//! the `cdr-sink archive` commands that repair the affected windows. Files are
//! streamed (a few at once), so memory does not grow with file size.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use cdr_core::{CdrType, Step, Window, format_datetime};
use cdr_sink_api::{Destination, ObjectKey, ObjectMeta, StoreError};

use crate::layout;
use crate::ledger::{self, FileEntry, LedgerError, UnitEntry};

/// The end of a Parquet file kept while streaming it, to read its footer.
const PARQUET_TAIL: usize = 8 * 1024 * 1024;

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The types to check; empty for every type.
    pub types: Vec<CdrType>,
    /// Files read at once.
    pub concurrency: usize,
    /// `--out` as the user wrote it, for the repair commands.
    pub out: String,
}

/// A failure that stops verification (the archive could not be listed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// No ledger at all under the output (or for a type asked for).
    EmptyArchive,
    /// A ledger entry that cannot be read.
    UnreadableLedgerEntry,
    /// A file the ledger lists does not exist.
    MissingFile,
    /// A file is shorter than the ledger says.
    TruncatedFile,
    /// A file is longer than the ledger says.
    SizeMismatch,
    /// A file's bytes differ from the ledger's SHA-256.
    ChecksumMismatch,
    /// A file's row count differs from the ledger's.
    RowCountMismatch,
    /// A file could not be read or parsed.
    UnreadableFile,
    /// A data file that no ledger entry lists.
    NotInLedger,
    /// A replacement that a crashed run left unfinished.
    InterruptedReplacement,
    /// Time between two finished windows that no finished window covers.
    Gap,
    /// Two finished windows that overlap.
    Overlap,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub cdr_type: Option<String>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// The file or ledger entry concerned, relative to the output.
    pub key: Option<String>,
    pub message: String,
}

/// What the ledger says about one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypeReport {
    pub windows: u64,
    /// The archived range: first window start, last window end.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub records: u64,
    pub files: u64,
    pub bytes: u64,
    /// Records of unknown union members skipped (`--on-unknown skip`).
    pub skipped: u64,
    /// Records kept in quarantine files (`--on-bad-record quarantine`).
    pub quarantined: u64,
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// `ok` or `problems`.
    pub status: &'static str,
    pub output: String,
    pub types: BTreeMap<String, TypeReport>,
    /// Files read and checked.
    pub files_checked: u64,
    pub bytes_read: u64,
    pub problems: Vec<Problem>,
    /// Commands that repair the windows with problems, one per line.
    pub repair: Vec<String>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How a window with a problem is repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fix {
    /// Archive the window (it is not finished).
    Archive,
    /// Replace the finished window's files (`--redo`).
    Redo,
}

/// Everything verification collects before reporting.
struct Findings {
    problems: Vec<Problem>,
    fixes: BTreeSet<(CdrType, Fix, Window)>,
    notes: Vec<String>,
}

impl Findings {
    fn problem(
        &mut self,
        kind: ProblemKind,
        t: Option<CdrType>,
        w: Option<Window>,
        key: Option<&str>,
        message: String,
    ) {
        self.problems.push(Problem {
            kind,
            cdr_type: t.map(|t| t.as_str().to_string()),
            window_start: w.map(|w| w.start()),
            window_end: w.map(|w| w.end()),
            key: key.map(str::to_string),
            message,
        });
    }
}

/// Verifies the archive in `dest` against its ledger.
pub async fn verify(
    dest: &dyn Destination,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let types: Vec<CdrType> = if options.types.is_empty() {
        CdrType::ALL.to_vec()
    } else {
        options.types.clone()
    };
    let mut found = Findings {
        problems: Vec::new(),
        fixes: BTreeSet::new(),
        notes: Vec::new(),
    };
    let listing: BTreeMap<String, ObjectMeta> = dest
        .list("")
        .await?
        .into_iter()
        .map(|m| (m.key.to_string(), m))
        .collect();

    // The ledger, type by type.
    let mut entries: BTreeMap<CdrType, BTreeMap<Window, UnitEntry>> = BTreeMap::new();
    let mut reports = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut windows_by_type: BTreeMap<CdrType, Vec<Window>> = BTreeMap::new();
    for &t in &types {
        let mut mine = BTreeMap::new();
        let mut windows = Vec::new();
        for (key, entry) in ledger::read_type_entries(dest, t).await? {
            let named = layout::window_of_record(&key);
            match entry {
                Ok(Some(e)) => match e.window() {
                    Some(w) if named.is_none_or(|n| n == w) && e.cdr_type == t => {
                        windows.push(w);
                        listed.extend(e.files.iter().map(|f| f.key.clone()));
                        mine.insert(w, e);
                    }
                    _ => {
                        windows.extend(named);
                        found.problem(
                            ProblemKind::UnreadableLedgerEntry,
                            Some(t),
                            named,
                            Some(key.as_str()),
                            format!(
                                "ledger entry {} describes another type or window than its name says",
                                dest.location(&key)
                            ),
                        );
                        note_delete_entry(&mut found, dest, &key, t, named);
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    windows.extend(named);
                    found.problem(
                        ProblemKind::UnreadableLedgerEntry,
                        Some(t),
                        named,
                        Some(key.as_str()),
                        e.to_string(),
                    );
                    note_delete_entry(&mut found, dest, &key, t, named);
                }
            }
        }
        windows.sort();
        windows.dedup();
        let report = TypeReport {
            windows: windows.len() as u64,
            start: windows.first().map(Window::start),
            end: windows.last().map(Window::end),
            records: mine.values().map(|e| e.records).sum(),
            files: mine.values().map(|e| e.files.len() as u64).sum(),
            bytes: mine.values().map(UnitEntry::bytes).sum(),
            skipped: mine.values().map(|e| e.skipped).sum(),
            quarantined: mine.values().map(|e| e.quarantined).sum(),
        };
        if !options.types.is_empty() && windows.is_empty() {
            found.problem(
                ProblemKind::EmptyArchive,
                Some(t),
                None,
                None,
                format!(
                    "no finished {t} window under {}: nothing of this type was archived there",
                    dest.describe()
                ),
            );
        }
        if !windows.is_empty() || !options.types.is_empty() {
            reports.insert(t.as_str().to_string(), report);
        }
        windows_by_type.insert(t, windows);
        entries.insert(t, mine);
    }
    if windows_by_type.values().all(Vec::is_empty) && options.types.is_empty() {
        found.problem(
            ProblemKind::EmptyArchive,
            None,
            None,
            None,
            format!(
                "{} holds no ledger: nothing was archived there (is --out right?)",
                dest.describe()
            ),
        );
    }

    // Unfinished replacements.
    let mut replacing: BTreeSet<(CdrType, Window)> = BTreeSet::new();
    for r in ledger::read_replacements(dest).await? {
        let Some(w) = r.window() else { continue };
        if !types.contains(&r.cdr_type) {
            continue;
        }
        replacing.insert((r.cdr_type, w));
        found.problem(
            ProblemKind::InterruptedReplacement,
            Some(r.cdr_type),
            Some(w),
            None,
            format!(
                "the replacement of {} {w} (generation {} by {}) was interrupted: readers may see both generations until an archive run finishes it",
                r.cdr_type, r.from_generation, r.to_generation
            ),
        );
        found.fixes.insert((r.cdr_type, Fix::Archive, w));
    }

    // Files listed by the ledger.
    let (files_checked, bytes_read) =
        check_files(dest, &listing, &entries, options.concurrency, &mut found).await;

    // Data files no entry lists.
    let wanted: BTreeSet<&str> = types.iter().map(|t| t.as_lower()).collect();
    for (key, meta) in &listing {
        let Some(ty) = data_file_type(key) else {
            continue;
        };
        let filtered_out = !options.types.is_empty() && !wanted.contains(ty);
        if filtered_out || listed.contains(key) {
            continue;
        }
        let parsed = layout::parse_part_key(&meta.key);
        let owner = parsed.as_ref().and_then(|p| {
            let t: CdrType = p.cdr_type.parse().ok()?;
            Some((t, p.window))
        });
        let message = match owner {
            Some((t, w)) if replacing.contains(&(t, w)) => format!(
                "{} is not in the ledger: left by the interrupted replacement of {t} {w}",
                dest.location(&meta.key)
            ),
            Some((t, w)) if entries.get(&t).is_some_and(|e| e.contains_key(&w)) => format!(
                "{} is not in the ledger: a stale file of the finished window {t} {w} (readers see its rows twice)",
                dest.location(&meta.key)
            ),
            Some((t, w)) => format!(
                "{} is not in the ledger: a file of {t} {w}, which has not finished",
                dest.location(&meta.key)
            ),
            None => format!(
                "{} is not in the ledger and not named as cdr-sink names files: remove it or move it out of the archive",
                dest.location(&meta.key)
            ),
        };
        found.problem(
            ProblemKind::NotInLedger,
            owner.map(|o| o.0),
            owner.map(|o| o.1),
            Some(key),
            message,
        );
        if let Some((t, w)) = owner
            && !replacing.contains(&(t, w))
        {
            let finished = entries.get(&t).is_some_and(|e| e.contains_key(&w));
            found
                .fixes
                .insert((t, if finished { Fix::Redo } else { Fix::Archive }, w));
        }
    }

    // Coverage: no gap, no overlap between a type's first and last window.
    for (&t, windows) in &windows_by_type {
        for pair in windows.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.end() < b.start() {
                let Ok(gap) = Window::new(a.end(), b.start()) else {
                    continue;
                };
                found.problem(
                    ProblemKind::Gap,
                    Some(t),
                    Some(gap),
                    None,
                    format!("missing window: no finished {t} window covers {gap}"),
                );
                found.fixes.insert((t, Fix::Archive, gap));
            } else if a.end() > b.start() {
                found.problem(
                    ProblemKind::Overlap,
                    Some(t),
                    Some(b),
                    None,
                    format!(
                        "finished {t} windows {a} and {b} overlap (archived with different --window): their common records are archived twice; delete one of them (its ledger entry and files) and archive its range again"
                    ),
                );
            }
        }
    }

    let repair = repair_commands(&found, &entries, &windows_by_type, &options.out);
    let mut problems = found.problems;
    problems.sort_by(|a, b| {
        (&a.cdr_type, a.window_start, a.kind, &a.key).cmp(&(
            &b.cdr_type,
            b.window_start,
            b.kind,
            &b.key,
        ))
    });
    Ok(VerifyReport {
        status: if problems.is_empty() {
            "ok"
        } else {
            "problems"
        },
        output: dest.describe(),
        types: reports,
        files_checked,
        bytes_read,
        problems,
        repair,
    })
}

fn note_delete_entry(
    found: &mut Findings,
    dest: &dyn Destination,
    key: &ObjectKey,
    t: CdrType,
    w: Option<Window>,
) {
    found.notes.push(format!("delete {}", dest.location(key)));
    if let Some(w) = w {
        found.fixes.insert((t, Fix::Archive, w));
    }
}

/// The lowercase type of a data file key (`cdr_type=<t>/date=<d>/<file>`, no
/// hidden or bookkeeping segment), or `None` when it is not a data file.
fn data_file_type(key: &str) -> Option<&str> {
    let mut segments = key.split('/');
    let ty = segments.next()?.strip_prefix("cdr_type=")?;
    segments.next()?.strip_prefix("date=")?;
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty()
        || key
            .split('/')
            .any(|s| s.starts_with('_') || s.starts_with('.'))
    {
        return None;
    }
    Some(ty)
}

/// Checks every listed file; returns (files read, bytes read).
async fn check_files(
    dest: &dyn Destination,
    listing: &BTreeMap<String, ObjectMeta>,
    entries: &BTreeMap<CdrType, BTreeMap<Window, UnitEntry>>,
    concurrency: usize,
    found: &mut Findings,
) -> (u64, u64) {
    let mut jobs = Vec::new();
    for (&t, windows) in entries {
        for (&w, e) in windows {
            for f in &e.files {
                jobs.push((t, w, e.format.clone(), f.clone()));
            }
        }
    }
    let mut checked = 0;
    let mut bytes = 0;
    let mut results = futures_util::stream::iter(jobs.into_iter().map(|(t, w, format, f)| {
        let meta = listing.get(&f.key).cloned();
        async move {
            let outcome = check_file(dest, meta, &format, &f).await;
            (t, w, f, outcome)
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some((t, w, f, outcome)) = results.next().await {
        let location = ObjectKey::new(f.key.clone())
            .map(|k| dest.location(&k))
            .unwrap_or_else(|_| f.key.clone());
        let (kind, message) = match outcome {
            FileOutcome::Ok { read } => {
                checked += 1;
                bytes += read;
                continue;
            }
            FileOutcome::Missing => (
                ProblemKind::MissingFile,
                format!("{location} is listed in the ledger but does not exist (deleted?)"),
            ),
            FileOutcome::Truncated { size } => (
                ProblemKind::TruncatedFile,
                format!(
                    "{location} is truncated: {size} of the {} bytes the ledger records",
                    f.size
                ),
            ),
            FileOutcome::Longer { size } => (
                ProblemKind::SizeMismatch,
                format!("{location} has {size} bytes, the ledger records {}", f.size),
            ),
            FileOutcome::Checksum { sha256, rows, read } => {
                checked += 1;
                bytes += read;
                let rows = match rows {
                    Some(r) if r != f.rows => format!(", and {r} rows instead of {}", f.rows),
                    _ => String::new(),
                };
                (
                    ProblemKind::ChecksumMismatch,
                    format!(
                        "{location} does not match the ledger's checksum (SHA-256 {sha256}, ledger {}){rows}",
                        f.sha256
                    ),
                )
            }
            FileOutcome::Rows { rows, read } => {
                checked += 1;
                bytes += read;
                (
                    ProblemKind::RowCountMismatch,
                    format!(
                        "{location} holds {rows} rows, the ledger records {}",
                        f.rows
                    ),
                )
            }
            FileOutcome::Unreadable(e) => (
                ProblemKind::UnreadableFile,
                format!("{location} could not be read: {e}"),
            ),
        };
        found.problem(kind, Some(t), Some(w), Some(&f.key), message);
        found.fixes.insert((t, Fix::Redo, w));
    }
    (checked, bytes)
}

enum FileOutcome {
    Ok {
        read: u64,
    },
    Missing,
    Truncated {
        size: u64,
    },
    Longer {
        size: u64,
    },
    Checksum {
        sha256: String,
        rows: Option<u64>,
        read: u64,
    },
    Rows {
        rows: u64,
        read: u64,
    },
    Unreadable(String),
}

async fn check_file(
    dest: &dyn Destination,
    meta: Option<ObjectMeta>,
    format: &str,
    f: &FileEntry,
) -> FileOutcome {
    let Some(meta) = meta else {
        return FileOutcome::Missing;
    };
    if meta.size < f.size {
        return FileOutcome::Truncated { size: meta.size };
    }
    if meta.size > f.size {
        return FileOutcome::Longer { size: meta.size };
    }
    match read_file(dest, &meta.key, format).await {
        Ok((sha256, rows, read)) => {
            if sha256 != f.sha256 {
                FileOutcome::Checksum { sha256, rows, read }
            } else if rows.is_some_and(|r| r != f.rows) {
                FileOutcome::Rows {
                    rows: rows.unwrap_or_default(),
                    read,
                }
            } else {
                FileOutcome::Ok { read }
            }
        }
        Err(e) => FileOutcome::Unreadable(e),
    }
}

/// Streams a file: its SHA-256, its row count (for the formats cdr-sink
/// writes; `None` for others) and how many bytes were read.
async fn read_file(
    dest: &dyn Destination,
    key: &ObjectKey,
    format: &str,
) -> Result<(String, Option<u64>, u64), String> {
    let mut stream = dest.read(key).await.map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    let mut rows = RowCounter::new(format);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        hasher.update(&chunk);
        read += chunk.len() as u64;
        rows.feed(chunk).await;
    }
    let rows = rows.finish().await?;
    Ok((crate::unit::hex(&hasher.finalize()), rows, read))
}

/// Counts rows while a file streams by.
enum RowCounter {
    /// The last bytes of the file, where the footer is.
    Parquet {
        tail: Vec<u8>,
        cap: usize,
    },
    /// A blocking CSV reader fed through a bounded channel.
    Csv {
        tx: Option<mpsc::Sender<Bytes>>,
        task: tokio::task::JoinHandle<Result<u64, String>>,
    },
    Unknown,
}

impl RowCounter {
    fn new(format: &str) -> RowCounter {
        match format {
            "parquet" => RowCounter::Parquet {
                tail: Vec::new(),
                cap: PARQUET_TAIL,
            },
            "csv" => {
                let (tx, rx) = mpsc::channel::<Bytes>(4);
                let task = tokio::task::spawn_blocking(move || {
                    cdr_sink_csv::count_rows(ChannelReader {
                        rx,
                        current: Bytes::new(),
                    })
                    .map_err(|e| e.to_string())
                });
                RowCounter::Csv { tx: Some(tx), task }
            }
            _ => RowCounter::Unknown,
        }
    }

    async fn feed(&mut self, chunk: Bytes) {
        match self {
            RowCounter::Parquet { tail, cap } => {
                tail.extend_from_slice(&chunk);
                if tail.len() > 2 * *cap {
                    let cut = tail.len() - *cap;
                    tail.drain(..cut);
                }
            }
            RowCounter::Csv { tx, .. } => {
                // A reader that stopped early has its error waiting in `finish`.
                if let Some(sender) = tx
                    && sender.send(chunk).await.is_err()
                {
                    *tx = None;
                }
            }
            RowCounter::Unknown => {}
        }
    }

    async fn finish(self) -> Result<Option<u64>, String> {
        match self {
            RowCounter::Parquet { tail, .. } => {
                cdr_sink_parquet::parquet_row_count(Bytes::from(tail))
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            RowCounter::Csv { tx, task } => {
                drop(tx);
                match task.await {
                    Ok(r) => r.map(Some),
                    Err(e) => Err(format!("counting CSV rows: {e}")),
                }
            }
            RowCounter::Unknown => Ok(None),
        }
    }
}

/// A blocking reader over chunks arriving on a channel.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The `cdr-sink archive` commands that repair the windows with problems:
/// contiguous windows of one type and one kind of fix become one command.
fn repair_commands(
    found: &Findings,
    entries: &BTreeMap<CdrType, BTreeMap<Window, UnitEntry>>,
    windows: &BTreeMap<CdrType, Vec<Window>>,
    out: &str,
) -> Vec<String> {
    let mut lines: Vec<String> = found.notes.clone();
    let mut ranges: Vec<(CdrType, Fix, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &(t, fix, w) in &found.fixes {
        match ranges.last_mut() {
            Some((lt, lf, _, end)) if *lt == t && *lf == fix && *end >= w.start() => {
                *end = (*end).max(w.end());
            }
            _ => ranges.push((t, fix, w.start(), w.end())),
        }
    }
    for (t, fix, start, end) in ranges {
        let mine = entries.get(&t);
        let step = typical_step(windows.get(&t).map(Vec::as_slice).unwrap_or(&[]));
        let format = mine
            .and_then(|m| most_common(m.values().map(|e| e.format.as_str())))
            .unwrap_or("parquet");
        lines.push(format!(
            "cdr-sink archive --type {} --start {} --end {} --out {} --window {step} --format {format}{}",
            t.as_str(),
            format_datetime(&start),
            format_datetime(&end),
            shell_quote(out),
            if fix == Fix::Redo { " --redo" } else { "" }
        ));
    }
    lines
}

/// The most common window length of a type that is a valid `--window`.
fn typical_step(windows: &[Window]) -> Step {
    let lengths = windows
        .iter()
        .map(|w| w.duration())
        .filter(|d| Step::from_seconds(d.num_seconds()).is_some() && d.subsec_nanos() == 0);
    let mut counts: BTreeMap<TimeDelta, usize> = BTreeMap::new();
    for d in lengths {
        *counts.entry(d).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d))
        .and_then(|(d, _)| Step::from_seconds(d.num_seconds()))
        .unwrap_or(Step::HOUR)
}

fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(i, _)| i)
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+@%,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verified {}: {} files ({} bytes) read and checked against the ledger",
            self.output,
            crate::progress::group(self.files_checked),
            crate::progress::group(self.bytes_read)
        )?;
        for (t, r) in &self.types {
            let range = match (r.start, r.end) {
                (Some(s), Some(e)) => format!("[{}, {})", format_datetime(&s), format_datetime(&e)),
                _ => "(nothing archived)".to_string(),
            };
            writeln!(
                f,
                "{t:<6} {range}  {} windows  {} records  {} files  {} bytes{}{}",
                crate::progress::group(r.windows),
                crate::progress::group(r.records),
                crate::progress::group(r.files),
                crate::progress::group(r.bytes),
                match r.skipped {
                    0 => String::new(),
                    n => format!("  {} skipped (unknown members)", crate::progress::group(n)),
                },
                match r.quarantined {
                    0 => String::new(),
                    n => format!("  {} quarantined", crate::progress::group(n)),
                }
            )?;
        }
        if self.problems.is_empty() {
            return writeln!(
                f,
                "OK: every file matches the ledger, and the windows have no gap or overlap"
            );
        }
        writeln!(f, "{} PROBLEMS:", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", kind_text(p.kind), p.message)?;
        }
        if !self.repair.is_empty() {
            writeln!(f, "To repair, run:")?;
            for line in &self.repair {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

fn kind_text(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::EmptyArchive => "empty archive",
        ProblemKind::UnreadableLedgerEntry => "unreadable ledger entry",
        ProblemKind::MissingFile => "missing file",
        ProblemKind::TruncatedFile => "truncated file",
        ProblemKind::SizeMismatch => "size mismatch",
        ProblemKind::ChecksumMismatch => "checksum mismatch",
        ProblemKind::RowCountMismatch => "row count mismatch",
        ProblemKind::UnreadableFile => "unreadable file",
        ProblemKind::NotInLedger => "file not in the ledger",
        ProblemKind::InterruptedReplacement => "interrupted replacement",
        ProblemKind::Gap => "missing window",
        ProblemKind::Overlap => "overlapping windows",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::parse_datetime;

    fn w(a: &str, b: &str) -> Window {
        Window::new(parse_datetime(a).unwrap(), parse_datetime(b).unwrap()).unwrap()
    }

    async fn count(
        format: &str,
        bytes: &[u8],
        chunk: usize,
        cap: usize,
    ) -> Result<Option<u64>, String> {
        let mut counter = RowCounter::new(format);
        if let RowCounter::Parquet { cap: c, .. } = &mut counter {
            *c = cap;
        }
        for piece in bytes.chunks(chunk) {
            counter.feed(Bytes::copy_from_slice(piece)).await;
        }
        counter.finish().await
    }

    fn encoded(format: &dyn cdr_sink_api::Format, n: usize) -> Vec<u8> {
        let config = cdr_sim::SimConfig::default();
        let records: Vec<cdr_core::Cdr> = cdr_sim::ground_truth(
            &config,
            CdrType::Sms,
            w("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
        )
        .take(n)
        .collect();
        let mut enc = format
            .encoder(cdr_sink_api::ColumnSet::all(cdr_core::RecordKind::Message))
            .unwrap();
        let mut out = Vec::new();
        for page in records.chunks(1000) {
            enc.encode(page).unwrap();
            out.extend(enc.take_ready());
        }
        out.extend(enc.finish().unwrap());
        out
    }

    #[tokio::test]
    async fn rows_are_counted_while_streaming_with_bounded_memory() {
        let parquet = encoded(
            &cdr_sink_parquet::ParquetFormat::new(cdr_sink_parquet::ParquetOptions {
                row_group_rows: std::num::NonZeroUsize::new(1000).unwrap(),
                ..Default::default()
            }),
            5000,
        );
        // Only the last 16 KiB of a larger file are kept, and the footer is read from them.
        assert!(parquet.len() > 4 * 16_384, "{}", parquet.len());
        assert_eq!(
            count("parquet", &parquet, 4096, 16_384).await,
            Ok(Some(5000))
        );
        assert!(
            count("parquet", &parquet[..parquet.len() - 1], 4096, 16_384)
                .await
                .is_err()
        );
        let csv = encoded(&cdr_sink_csv::CsvFormat::new(), 3000);
        // Chunks of 7 bytes split quoted fields and line ends.
        assert_eq!(count("csv", &csv, 7, 0).await, Ok(Some(3000)));
        assert!(count("csv", b"a,b\n1,2\n3\n", 3, 0).await.is_err());
        assert_eq!(count("lines", b"x\n", 1, 0).await, Ok(None));
    }

    #[test]
    fn data_files_are_recognised() {
        assert_eq!(
            data_file_type("cdr_type=sms/date=2026-11-01/part-x.csv"),
            Some("sms")
        );
        assert_eq!(
            data_file_type("cdr_type=sms/date=2026-11-01/.part-x.csv"),
            None
        );
        assert_eq!(data_file_type("_cdr_sink/ledger/cdr_type=sms/x.json"), None);
        assert_eq!(data_file_type("cdr_type=sms/notes.txt"), None);
        assert_eq!(data_file_type("other/date=2026-11-01/x"), None);
    }

    #[test]
    fn repair_commands_merge_neighbours() {
        let mut found = Findings {
            problems: vec![],
            fixes: BTreeSet::new(),
            notes: vec![],
        };
        let hours = [
            w("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"),
            w("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
            w("2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z"),
        ];
        for h in hours {
            found.fixes.insert((CdrType::Sms, Fix::Redo, h));
        }
        found.fixes.insert((
            CdrType::Sms,
            Fix::Archive,
            w("2026-11-01T02:00:00Z", "2026-11-01T04:00:00Z"),
        ));
        let windows = BTreeMap::from([(CdrType::Sms, hours.to_vec())]);
        let lines = repair_commands(&found, &BTreeMap::new(), &windows, "/data/my archive");
        assert_eq!(
            lines,
            [
                "cdr-sink archive --type SMS --start 2026-11-01T02:00:00Z --end 2026-11-01T04:00:00Z --out '/data/my archive' --window 1h --format parquet",
                "cdr-sink archive --type SMS --start 2026-11-01T00:00:00Z --end 2026-11-01T02:00:00Z --out '/data/my archive' --window 1h --format parquet --redo",
                "cdr-sink archive --type SMS --start 2026-11-01T04:00:00Z --end 2026-11-01T05:00:00Z --out '/data/my archive' --window 1h --format parquet --redo",
            ]
        );
        assert_eq!(shell_quote("s3://b/p/"), "s3://b/p/");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_typical_step_is_the_most_common_valid_length() {
        let ws = [
            w("2026-11-01T00:30:00Z", "2026-11-01T01:00:00Z"),
            w("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
            w("2026-11-01T02:00:00Z", "2026-11-01T03:00:00Z"),
        ];
        assert_eq!(typical_step(&ws), Step::HOUR);
        assert_eq!(typical_step(&[]), Step::HOUR);
        assert_eq!(
            typical_step(&[w("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")]),
            Step::DAY
        );
    }
}
