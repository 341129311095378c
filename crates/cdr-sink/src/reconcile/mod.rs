//! `cdr-sink reconcile`: the archive compared with the provider's own CSV
//! export, window by window. Reads the archive only; never claims a window
//! and never writes.
//!
//! For each finished window (a ledger entry) of the types and range asked
//! for, the window's export is downloaded and read as it streams by
//! ([`canonical_csv`]: CSV rows into records, each hashed in the canonical
//! form of [`ContentHash`], never stored), with the hash version the entry
//! records; its record count and content hash are compared with the entry's.
//! A window whose count differs (records added or removed after it was
//! archived) or whose content alone differs (a value changed: a re-rated
//! charge) is a difference. Every unit window of the range that has no
//! ledger entry and lies in the past by the settle lag is missing, with the
//! export's count for it; one that another run holds a live claim on is in
//! progress, not a difference. The report ends with the `cdr-sink archive`
//! commands that repair the differences ([`report`]).
//!
//! The phases, each in a module of its own: [`windows`] reads claims and the
//! ledger and decides which windows to compare, which are missing and which
//! in progress; [`fetch`] downloads one window's export into counts and a
//! hash (splitting an export that is cut off); [`report`] turns the outcomes
//! into the report and its repair commands.
//!
//! [`ContentHash`]: crate::ContentHash

mod canonical_csv;
mod fetch;
mod report;
mod windows;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, StoreError};
use cdr_transport::{Client, TransportError};

use crate::claim::Owner;
use crate::content::HashVersion;
use crate::ledger::{LedgerError, UnitEntry};
use crate::plan::ReconcilePlan;

pub use canonical_csv::{CsvError, ExportContent, ExportReader, read_all};
pub use fetch::MIN_SPLIT;

/// A failure that stops reconciliation: the archive could not be read, the
/// API cannot be used at all, or there is nothing to compare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No request to the API can succeed (credentials refused, unreachable).
    #[error(transparent)]
    Api(TransportError),
    #[error(
        "{output} holds no finished window{types}: nothing to reconcile (is --out right? to list the missing windows of a range, name the types with --type and give --start and --end)"
    )]
    NothingArchived { output: String, types: String },
}

/// Why one window could not be compared; the others go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The export is not a CSV of the records asked for.
    #[error(
        "the export of {cdr_type} {window}{} is malformed: {source}",
        part.map(|p| format!(" (its part {p})")).unwrap_or_default()
    )]
    Malformed {
        cdr_type: CdrType,
        window: Window,
        /// The sub-window whose body it was, when the export was split.
        part: Option<Window>,
        #[source]
        source: CsvError,
    },
    #[error(
        "the export of {cdr_type} {window} was cut off even in its part {part}, which is not split further: {reason}; try again later"
    )]
    Cut {
        cdr_type: CdrType,
        window: Window,
        part: Window,
        reason: String,
    },
    /// Records whose values cannot be stored, where the archive kept none
    /// aside.
    #[error(
        "the export of {cdr_type} {window} holds {count} records whose values cannot be stored ({first}), and the archive quarantined none: the window was archived when they were not there or were readable; archive it with --rescan and --on-bad-record quarantine to keep them aside"
    )]
    Unstorable {
        cdr_type: CdrType,
        window: Window,
        count: u64,
        first: String,
    },
    #[error("the export of {cdr_type} {window}: {source}")]
    Transport {
        cdr_type: CdrType,
        window: Window,
        #[source]
        source: TransportError,
    },
    /// The window's ledger entry could not be read.
    #[error("{0}: run cdr-sink verify")]
    Ledger(LedgerError),
}

impl CheckError {
    /// Whether no other window can be checked either (see
    /// [`TransportError::is_fatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, CheckError::Transport { source, .. } if source.is_fatal())
    }
}

/// How a window differs from its export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The record counts differ: records were added to (or removed from)
    /// the window after it was archived.
    Count,
    /// The counts agree, the content hashes do not: values changed (a
    /// re-rated charge).
    Content,
    /// The window is not archived (no ledger entry) though it is due.
    Missing,
}

/// A window that differs from its export, or is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub cdr_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Records the ledger entry holds; `None` for a missing window.
    pub ledger_records: Option<u64>,
    /// Records of the export that can be stored.
    pub export_records: u64,
    pub message: String,
    /// The command (of [`ReconcileReport::repair`]) that repairs it.
    pub repair: String,
}

/// A window without a ledger entry that another run works on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InProgress {
    pub cdr_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Who holds the claim, when it was readable.
    pub owner: Option<Owner>,
    /// When the claim expires unless renewed, by the store's clock.
    pub expires: Option<DateTime<Utc>>,
    pub message: String,
}

/// A window that could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    pub cdr_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub message: String,
}

/// What was compared of one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypeTotals {
    /// The range looked at: `--start` or the first finished window's start,
    /// `--end` or the last one's end.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Finished windows compared with their export: `equal` + `differ`.
    pub windows_checked: u64,
    pub equal: u64,
    pub differ: u64,
    pub missing: u64,
    pub in_progress: u64,
    /// Windows that could not be compared.
    pub unchecked: u64,
    /// Records of the compared windows, as the ledger counts them.
    pub records_ledger: u64,
    /// Records of the compared and missing windows, as their exports hold them.
    pub records_export: u64,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// `ok` (every window equal), `differences` (some differ or are
    /// missing) or `unchecked` (none differ, but some could not be compared).
    pub status: &'static str,
    pub output: String,
    pub types: BTreeMap<String, TypeTotals>,
    pub differences: Vec<Difference>,
    pub in_progress: Vec<InProgress>,
    pub unchecked: Vec<Unchecked>,
    /// Commands that repair the differences, one per line.
    pub repair: Vec<String>,
}

impl ReconcileReport {
    /// Whether every window compared equals its export and none is missing
    /// or unchecked.
    pub fn is_ok(&self) -> bool {
        self.differences.is_empty() && self.unchecked.is_empty()
    }
}

/// One window to download, and why.
#[derive(Debug)]
enum Job {
    /// A finished window, compared with its entry.
    Compare(CdrType, Window, Box<UnitEntry>),
    /// A window without an entry, counted.
    Missing(CdrType, Window),
}

/// What a job came to.
#[derive(Debug)]
enum Outcome {
    Compared {
        t: CdrType,
        window: Window,
        entry: Box<UnitEntry>,
        export: ExportContent,
    },
    Missing {
        t: CdrType,
        window: Window,
        export: ExportContent,
    },
    Failed {
        t: CdrType,
        window: Window,
        error: CheckError,
    },
}

/// Compares the archive in `dest` with the provider's exports, as `plan`
/// says, through `client`. `now` is the clock reading that decides which
/// windows are due (ended at least the settle lag ago).
pub async fn reconcile(
    dest: &dyn Destination,
    client: &Client,
    plan: &ReconcilePlan,
    now: DateTime<Utc>,
) -> Result<ReconcileReport, ReconcileError> {
    let mut planned = windows::plan(dest, plan, now).await?;
    let missing = planned
        .jobs
        .iter()
        .filter(|j| matches!(j, Job::Missing(..)))
        .count();
    tracing::info!(
        "downloading the exports of {} finished and {missing} missing windows, {} at a time",
        planned.jobs.len() - missing,
        plan.concurrency
    );
    let company_id = plan.company_id.as_deref();
    let jobs = std::mem::take(&mut planned.jobs);
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut running = futures_util::stream::iter(jobs)
        .map(|job| run(client, job, company_id))
        .buffer_unordered(plan.concurrency);
    while let Some(outcome) = running.next().await {
        match outcome {
            Outcome::Failed {
                error: CheckError::Transport { source, .. },
                ..
            } if source.is_fatal() => return Err(ReconcileError::Api(source)),
            outcome => outcomes.push(outcome),
        }
    }
    drop(running);
    let late = windows::since(dest, &outcomes).await?;
    Ok(report::finish(dest, plan, &planned, outcomes, late))
}

async fn run(client: &Client, job: Job, company_id: Option<&str>) -> Outcome {
    match job {
        Job::Compare(t, window, entry) => {
            match fetch::export_content(client, t, window, company_id, entry.content_hash_version)
                .await
            {
                Ok(export) => Outcome::Compared {
                    t,
                    window,
                    entry,
                    export,
                },
                Err(error) => Outcome::Failed { t, window, error },
            }
        }
        Job::Missing(t, window) => {
            match fetch::export_content(client, t, window, company_id, HashVersion::CURRENT).await {
                Ok(export) => Outcome::Missing { t, window, export },
                Err(error) => Outcome::Failed { t, window, error },
            }
        }
    }
}
