//! Flags become a validated plan before any request: every bad-input error
//! happens here, as one line that says what to change.
//!
//! - [`RawArchive`] (the flags of `archive` as given) → [`ArchivePlan`]
//!   ([`ArchivePlan::new`], against a clock reading): types, range, windows,
//!   output, format and every option checked. An `--incremental` plan's units
//!   come from the ledger, once, when the run starts ([`ArchivePlan::resolve`]).
//! - [`RawExport`] → [`ExportPlan`] likewise for `export`, and
//!   [`RawReconcile`] → [`ReconcilePlan`] for `reconcile`.
//! - The flags outside a plan: [`type_filter`], [`concurrency`] and
//!   [`max_behind`] of `verify` and `status`, and the [`limits`] on what a
//!   server may send, shared by every command.
//!
//! Durations are parsed by one function, [`cdr_core::parse_duration`], here
//! wrapped with the flag's name ([`parse_duration`]).

mod archive;
mod choices;
mod export;
mod flags;
mod reconcile;

pub use archive::{
    AUTO_START, ArchivePlan, Concurrency, DEFAULT_KEEP_REPLACED, DEFAULT_MAX_CONCURRENCY,
    DEFAULT_SETTLE, Incremental, MAX_CONCURRENCY, RawArchive,
};
pub use choices::{FormatChoice, OnBadRecord, OnUnknown, Output, RollPolicy, TableFormat};
pub use export::{ExportPlan, ExportTarget, RawExport};
pub use flags::{concurrency, limits, max_behind, max_rps, type_filter};
pub use reconcile::{RawReconcile, ReconcilePlan};

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Window, parse_datetime};

/// One unit of work: one type over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    pub cdr_type: CdrType,
    pub window: Window,
}

/// Bad input, as one line that says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl PlanError {
    pub fn new(msg: impl Into<String>) -> PlanError {
        PlanError(msg.into())
    }
}

/// Parses a duration flag such as `15m`, `2h`, `1d` or `0s` (s, m, h or d),
/// naming the flag in the error.
pub fn parse_duration(flag: &str, s: &str, allow_zero: bool) -> Result<TimeDelta, PlanError> {
    cdr_core::parse_duration(s)
        .filter(|d| allow_zero || *d > TimeDelta::zero())
        .ok_or_else(|| {
            PlanError::new(format!(
                "{flag} `{s}` is not a duration: use a whole number with s, m, h or d, e.g. {}",
                if allow_zero {
                    "0s, 15m or 1h"
                } else {
                    "30m, 24h or 7d"
                }
            ))
        })
}

/// Parses an RFC 3339 flag value.
pub fn parse_instant(flag: &str, s: &str) -> Result<DateTime<Utc>, PlanError> {
    parse_datetime(s).map_err(|_| {
        PlanError::new(format!(
            "{flag} `{s}` is not an RFC 3339 datetime: use e.g. 2026-11-01T00:00:00Z"
        ))
    })
}

/// Checks `--company-id`: absent, or not empty.
pub fn company_id(given: Option<&str>) -> Result<Option<String>, PlanError> {
    match given.map(str::trim) {
        Some("") => Err(PlanError::new(
            "--company-id is empty: give an ID or leave it out",
        )),
        other => Ok(other.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests;
