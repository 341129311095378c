//! The failure that stops an archive run before (or instead of) its units:
//! setup, bad input found in the ledger, a failure no unit can get past, an
//! overlap with windows archived differently. Unit failures are not errors:
//! they go into the summary.

use cdr_core::{CdrType, Window};
use cdr_sink_api::StoreError;

use crate::claim::ProbeError;
use crate::ledger::LedgerError;
use crate::plan::PlanError;

/// A failure that stops a run before its units start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    #[error("output {location} is not writable: {source}")]
    Unwritable {
        location: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    NoConditionalWrites(#[from] ProbeError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Delta tables could not be opened or brought up to date with the ledger.
    #[error("Delta tables: {0}")]
    Delta(#[from] crate::delta::TablesError),
    /// Bad input found once the ledger was read (e.g. `--incremental` without
    /// `--start` on an empty output).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A failure that no unit can get past (the API cannot be reached, the
    /// credentials were refused): the run stopped.
    #[error("{0}")]
    Stopped(String),
    #[error(
        "{cdr_type} window {planned} overlaps the archived window {archived} (archived with another --window): re-run with the same --window, or use another --out"
    )]
    Overlap {
        cdr_type: CdrType,
        planned: Window,
        archived: Window,
    },
}

impl ArchiveError {
    /// Whether the input (flags) is at fault, rather than the store.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ArchiveError::Plan(_))
    }
}
