//! What one window's commit says: its application transaction, its
//! partition and its files.

use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};

/// One data file, already stored under the table's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Relative to the table's root, e.g. `date=2026-11-01/part-…-00000.parquet`.
    pub path: String,
    pub size: u64,
    pub rows: u64,
    pub modified: SystemTime,
}

/// A window's files, to be made the table's files of that window in one
/// commit ([`crate::DeltaTable::publish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCommit {
    /// The application id of the window's transaction: the same for every
    /// generation of one window, unique across windows of the table.
    pub app_id: String,
    /// The window's generation: the transaction's version. A generation
    /// already in the log (or an older one than the log's) is not committed
    /// again.
    pub generation: u32,
    /// The partition (`date`) of the window's files.
    pub date: NaiveDate,
    /// The path prefix, relative to the table's root, that every file of the
    /// window has, whatever its generation (e.g. `date=2026-11-01/part-<window>-`):
    /// the table's files under it that are not in `files` are removed.
    pub prefix: String,
    pub files: Vec<DataFile>,
    /// Bounds of the window's `datetime` values, the statistics of its files.
    pub min_datetime: Option<DateTime<Utc>>,
    pub max_datetime: Option<DateTime<Utc>>,
}

/// What [`crate::DeltaTable::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A commit at `version` removed and added this many files.
    Committed {
        version: u64,
        added: usize,
        removed: usize,
    },
    /// The log already held the window at this generation or a later one
    /// (table at `version`); nothing was written.
    AlreadyInLog { version: u64 },
}
