//! Why a unit fails ([`UnitError`]): the unit stays unfinished and a re-run
//! redoes it; some errors (a fatal source error) stop the whole run.

use std::collections::BTreeMap;

use cdr_core::CdrType;
use cdr_sink_api::{EncodeError, StoreError};

use crate::claim::ClaimLost;
use crate::ledger::LedgerError;
use crate::source::SourceError;

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
    /// The window is finished in the ledger but not yet in its Delta table;
    /// the next run publishes it.
    #[error("publishing to the Delta table: {0}")]
    Delta(#[from] crate::delta::TablesError),
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
