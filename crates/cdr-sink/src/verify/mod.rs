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

//! The checks run in phases, each in a module of its own: [`entries`] reads
//! the ledger (and unfinished replacements), [`files`] reads every file it
//! lists, [`orphans`] finds data files no entry lists, [`coverage`] finds gaps
//! and overlaps, and [`report`] turns the findings into the report and its
//! repair commands.

mod coverage;
mod entries;
mod files;
mod orphans;
mod report;
mod tables;

pub(crate) use report::{most_common, shell_quote, typical_step};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectMeta, StoreError};

use crate::ledger::LedgerError;

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
    #[error(transparent)]
    Tables(#[from] crate::delta::TablesError),
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
    NotInTable,
    NotInLedgerButInTable,
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
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    fixes: BTreeSet<(CdrType, Fix, Window)>,
    notes: Vec<String>,
    /// The types that have Delta tables: their repairs pass `--table-format delta`.
    delta: BTreeSet<CdrType>,
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
    dest: &Arc<dyn Destination>,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let (shared, dest) = (dest, dest.as_ref());
    let types: Vec<CdrType> = if options.types.is_empty() {
        CdrType::ALL.to_vec()
    } else {
        options.types.clone()
    };
    let mut found = Findings::default();
    let listing: BTreeMap<String, ObjectMeta> = dest
        .list("")
        .await?
        .into_iter()
        .map(|m| (m.key.to_string(), m))
        .collect();
    let ledger = entries::read(dest, &listing, &types, options, &mut found).await?;
    let replacing = entries::replacements(dest, &types, &mut found).await?;
    let (files_checked, bytes_read) = files::check(
        dest,
        &listing,
        &ledger.entries,
        options.concurrency,
        &mut found,
    )
    .await;
    orphans::find(
        dest, &listing, &ledger, &replacing, &types, options, &mut found,
    );
    coverage::check(&ledger.windows, &mut found);
    tables::check(shared, &ledger, &replacing, &types, &mut found).await?;
    Ok(report::finish(
        dest,
        found,
        &ledger,
        options,
        files_checked,
        bytes_read,
    ))
}

/// The unfinished replacements found, by type and window.
type Replacing = BTreeSet<(CdrType, Window)>;

#[cfg(test)]
mod tests;
