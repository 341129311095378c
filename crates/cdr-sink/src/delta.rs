//! `--table-format delta`: the archive's Parquet files as one Delta table per
//! type (`cdr_type=<type>/`, partitioned by `date`, log in `_delta_log/`).
//!
//! A window's files are committed and its ledger entry written as always;
//! then one Delta commit makes the table's files of that window exactly the
//! entry's files (adding the new generation, removing an older one), with the
//! application transaction `(cdr-sink/<window>, generation)`. So readers see
//! a window whole or not at all, and a replacement in one version. The commit
//! is idempotent and conflicts are retried on the newer table, so a run that
//! dies between the ledger entry and the commit leaves it to the next run
//! ([`Tables::publish_pending`], [`crate::rescan::recover`]), and two runs
//! publishing one window commit it once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{ColumnSet, Destination, StoreError};
use cdr_sink_delta::{DataFile, DeltaError, DeltaTable, Published, WindowCommit};
use tracing::info;

use crate::layout;
use crate::ledger::{self, LedgerError, UnitEntry};

/// Why the Delta tables could not be brought up to date with the ledger.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    #[error(transparent)]
    Delta(#[from] DeltaError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger entry of {cdr_type} {window} lists {key}, which is not under its table")]
    Foreign {
        cdr_type: CdrType,
        window: Window,
        key: String,
    },
}

/// The Delta table of each type a run writes.
#[derive(Debug, Clone)]
pub struct Tables {
    by_type: BTreeMap<CdrType, DeltaTable>,
}

/// The directory key of the table of `t`: `cdr_type=<t>`.
pub fn table_root(t: CdrType) -> String {
    format!("cdr_type={}", t.as_lower())
}

/// The application id of a window's transactions.
pub fn app_id(w: &Window) -> String {
    format!("cdr-sink/{}", w.label())
}

/// The first type of `types` that has a Delta table on `dest`: an output
/// whose runs must all write Delta, or windows would be missing from it.
pub async fn first_with_table(
    dest: &dyn Destination,
    types: &[CdrType],
) -> Result<Option<CdrType>, StoreError> {
    for &t in types {
        if !dest
            .list(&format!("{}/_delta_log/", table_root(t)))
            .await?
            .is_empty()
        {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Opens (creating it if needed) the table of `t` on `dest`, whose columns
/// are those of the type's Parquet files.
pub async fn open_table(dest: Arc<dyn Destination>, t: CdrType) -> Result<DeltaTable, DeltaError> {
    let schema = cdr_sink_parquet::arrow_schema(&ColumnSet::all(t.record_kind()));
    DeltaTable::open(dest, &table_root(t), schema).await
}

impl Tables {
    /// Opens (creating as needed) the table of each of `types` on `dest`.
    pub async fn open(dest: Arc<dyn Destination>, types: &[CdrType]) -> Result<Tables, DeltaError> {
        let mut by_type = BTreeMap::new();
        for &t in types {
            by_type.insert(t, open_table(dest.clone(), t).await?);
        }
        Ok(Tables { by_type })
    }

    /// The table of `t`, when the run writes that type.
    pub fn table(&self, t: CdrType) -> Option<&DeltaTable> {
        self.by_type.get(&t)
    }

    /// Makes the table's files of the entry's window exactly its files, in one
    /// commit (nothing when the log already holds this generation).
    pub async fn publish(&self, entry: &UnitEntry) -> Result<Published, TablesError> {
        let Some(table) = self.by_type.get(&entry.cdr_type) else {
            return Err(DeltaError::Unexpected("no Delta table is open for this type").into());
        };
        Ok(table.publish(window_commit(entry)?).await?)
    }

    /// Publishes every finished window of `t` (`finished`, from the
    /// ledger's names) that has no file in the table: a run that died between
    /// a ledger entry and its commit. Returns how many were published.
    pub async fn publish_pending(
        &self,
        dest: &dyn Destination,
        t: CdrType,
        finished: &BTreeSet<Window>,
    ) -> Result<u64, TablesError> {
        let Some(table) = self.by_type.get(&t) else {
            return Ok(0);
        };
        let (_, active) = table.active_files().await?;
        let root = table_root(t);
        let in_table: BTreeSet<Window> = active
            .iter()
            .filter_map(|p| {
                let key = cdr_sink_api::ObjectKey::new(format!("{root}/{p}")).ok()?;
                layout::parse_part_key(&key).map(|p| p.window)
            })
            .collect();
        let mut n = 0;
        for w in finished.difference(&in_table) {
            let Some(entry) = ledger::read(dest, t, w).await? else {
                continue;
            };
            // A window of no records has no files, and nothing to publish.
            if entry.files.is_empty() {
                continue;
            }
            if let Published::Committed { version, .. } = self.publish(&entry).await? {
                info!(
                    "published {t} {w} to its Delta table (version {version}), left unpublished by an earlier run"
                );
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The Delta commit of a ledger entry: its files relative to the table's
/// root, the window's partition, prefix and `datetime` bounds.
pub fn window_commit(entry: &UnitEntry) -> Result<WindowCommit, TablesError> {
    let w = Window::new(entry.window_start, entry.window_end)
        .map_err(|_| DeltaError::Unexpected("a ledger entry whose window ends before it starts"))?;
    let root = format!("{}/", table_root(entry.cdr_type));
    let partition = layout::partition(entry.cdr_type, &w);
    let prefix = format!("{partition}/{}", layout::part_stem(&w));
    let modified = SystemTime::UNIX_EPOCH
        + Duration::from_millis(entry.finished_at.timestamp_millis().max(0) as u64);
    let files = entry
        .files
        .iter()
        .map(|f| {
            let path = f
                .key
                .strip_prefix(&root)
                .ok_or_else(|| TablesError::Foreign {
                    cdr_type: entry.cdr_type,
                    window: w,
                    key: f.key.clone(),
                })?;
            Ok(DataFile {
                path: path.to_string(),
                size: f.size,
                rows: f.rows,
                modified,
            })
        })
        .collect::<Result<Vec<_>, TablesError>>()?;
    Ok(WindowCommit {
        app_id: app_id(&w),
        generation: entry.generation,
        date: w.date(),
        prefix: prefix.strip_prefix(&root).unwrap_or(&prefix).to_string(),
        files,
        min_datetime: entry.min_datetime,
        max_datetime: entry.max_datetime,
    })
}
