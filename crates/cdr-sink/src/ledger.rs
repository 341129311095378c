//! The ledger: one JSON document per finished unit (type x window), written
//! atomically after the unit's files are committed. Its presence is what makes a
//! unit finished; re-runs skip finished units and redo the others.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, StoreError};

use crate::layout;

/// Version of the ledger document format.
pub const LEDGER_VERSION: u32 = 1;

/// One data file of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Key relative to `--out`.
    pub key: String,
    pub size: u64,
    pub rows: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// The ledger entry of a finished unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitEntry {
    pub ledger_version: u32,
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub records: u64,
    pub pages: u64,
    /// Union members of unknown type that were skipped.
    pub skipped: u64,
    pub min_datetime: Option<DateTime<Utc>>,
    pub max_datetime: Option<DateTime<Utc>>,
    pub format: String,
    pub schema_version: u32,
    pub files: Vec<FileEntry>,
    pub finished_at: DateTime<Utc>,
}

impl UnitEntry {
    /// The unit's window.
    pub fn window(&self) -> Option<Window> {
        Window::new(self.window_start, self.window_end).ok()
    }

    /// Total bytes of the unit's files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger entry {key} is unreadable ({message}): delete it to redo that window")]
    Corrupt { key: String, message: String },
}

/// Writes the entry of a finished unit (atomically: it appears whole or not at all).
pub async fn write(dest: &dyn Destination, entry: &UnitEntry) -> Result<(), LedgerError> {
    let window = entry.window().ok_or_else(|| LedgerError::Corrupt {
        key: "(new entry)".into(),
        message: "empty window".into(),
    })?;
    let key = layout::ledger_key(entry.cdr_type, &window).map_err(StoreError::from)?;
    let body = serde_json::to_vec_pretty(entry).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    dest.put(&key, Bytes::from(body), "application/json")
        .await?;
    Ok(())
}

/// Reads every finished unit of type `t`, keyed by window.
pub async fn read_type(
    dest: &dyn Destination,
    t: CdrType,
) -> Result<BTreeMap<Window, UnitEntry>, LedgerError> {
    let mut out = BTreeMap::new();
    for meta in dest.list(&layout::ledger_prefix(t)).await? {
        if !meta.key.file_name().ends_with(".json") {
            continue;
        }
        let entry = read_entry(dest, &meta.key).await?;
        if let Some((w, e)) = entry.and_then(|e| Some((e.window()?, e))) {
            out.insert(w, e);
        }
    }
    Ok(out)
}

async fn read_entry(
    dest: &dyn Destination,
    key: &ObjectKey,
) -> Result<Option<UnitEntry>, LedgerError> {
    let Some(body) = dest.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| LedgerError::Corrupt {
            key: dest.location(key),
            message: e.to_string(),
        })
}
