//! Files a replacement took out of a Delta table, left where they are until
//! `--keep-replaced` has passed.
//!
//! Without tables, a replacement moves the old generation's files to
//! `_cdr_sink/replaced/<when>/` at once. With tables, earlier versions of the
//! table (time travel, and a query that started before the replacing commit)
//! still name those files at their place, so they stay there; a list of them,
//! `_cdr_sink/replaced/<when>/_cdr_sink/retained/cdr_type=<t>/<window>.json`
//! ([`layout::retained_key`]), says which and since when. A run that finds a
//! list older than `--keep-replaced` deletes its files, then the list: the
//! same retention as the files moved aside, and what `VACUUM` does for other
//! Delta writers. `verify` accepts listed files, and `status` counts them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, ObjectMeta, StoreError};

use crate::layout;
use crate::ledger::{self, LedgerError};

/// The files of one window that one replacement left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedFiles {
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub files: Vec<RetainedFile>,
}

/// One file left in place, and its size when it was listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedFile {
    pub key: String,
    pub size: u64,
}

impl RetainedFiles {
    /// The window the files belong to.
    pub fn window(&self) -> Option<Window> {
        Window::new(self.window_start, self.window_end).ok()
    }
}

/// Records that `files` of the unit `(t, w)` were taken out of its table at
/// `stamp` (a [`layout::compact_instant`]) and stay in place.
pub async fn write(
    dest: &dyn Destination,
    stamp: &str,
    t: CdrType,
    w: &Window,
    files: &[ObjectMeta],
) -> Result<(), LedgerError> {
    let list = RetainedFiles {
        cdr_type: t,
        window_start: w.start(),
        window_end: w.end(),
        files: files
            .iter()
            .map(|m| RetainedFile {
                key: m.key.to_string(),
                size: m.size,
            })
            .collect(),
    };
    let key = layout::retained_key(stamp, t, w).map_err(StoreError::from)?;
    let body = serde_json::to_vec_pretty(&list).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    dest.put(&key, body.into(), "application/json").await?;
    Ok(())
}

/// The lists of retained files among `listed` (objects of a listing that
/// covers `_cdr_sink/replaced/`) that can be read, with their keys. An
/// unreadable list is logged and left out (its files then show as stale to
/// `verify`).
pub async fn read_lists<'a>(
    dest: &dyn Destination,
    listed: impl IntoIterator<Item = &'a ObjectMeta>,
) -> Result<Vec<(ObjectKey, RetainedFiles)>, StoreError> {
    let keys: Vec<&ObjectKey> = listed
        .into_iter()
        .map(|m| &m.key)
        .filter(|k| layout::is_retained_list(k))
        .collect();
    let mut out = Vec::new();
    for key in keys {
        if let Some(list) = read(dest, key).await? {
            out.push((key.clone(), list));
        }
    }
    Ok(out)
}

async fn read(
    dest: &dyn Destination,
    key: &ObjectKey,
) -> Result<Option<RetainedFiles>, StoreError> {
    let Some(body) = dest.get(key).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&body) {
        Ok(list) => Ok(Some(list)),
        Err(e) => {
            warn!(
                "{} is unreadable ({e}): its files are left as they are",
                dest.location(key)
            );
            Ok(None)
        }
    }
}

/// Deletes the files the list at `key` names, then the list; returns how many
/// files went. A file the window's ledger entry lists now is never deleted
/// (generations only grow, so none should be). Deleting again after a crash
/// is harmless: a missing file is not an error.
pub async fn remove(dest: &dyn Destination, key: &ObjectKey) -> Result<u64, LedgerError> {
    let Some(list) = read(dest, key).await? else {
        return Ok(0);
    };
    let Some(w) = list.window() else {
        warn!("{} names no window: left as it is", dest.location(key));
        return Ok(0);
    };
    let current: BTreeSet<String> = ledger::read(dest, list.cdr_type, &w)
        .await?
        .map(|e| e.files.into_iter().map(|f| f.key).collect())
        .unwrap_or_default();
    let mut n = 0;
    for file in &list.files {
        if current.contains(&file.key) {
            warn!("{} is in its ledger entry again: kept", file.key);
            continue;
        }
        let Ok(file) = ObjectKey::new(file.key.as_str()) else {
            continue;
        };
        if layout::parse_part_key(&file).is_none() {
            // Only data files are ever listed: never delete anything else.
            continue;
        }
        debug!("removing {file}, out of its table since a replacement");
        dest.delete(&file).await?;
        n += 1;
    }
    dest.delete(key).await?;
    Ok(n)
}

#[cfg(test)]
mod tests;
