//! `--rescan` and `--redo`: check finished windows against the API again and
//! replace the files of those whose content changed, exactly once.
//!
//! A check fetches the window's pages and compares their record count and
//! content hash ([`crate::content`]) with the ledger entry; nothing is written
//! when they are equal. A window whose content changed (or any finished window,
//! with `--redo`) is replaced:
//!
//! 1. a replacement record `_cdr_sink/replacing/cdr_type=<t>/<window>.json` is
//!    written (from generation g to g + 1);
//! 2. the window is fetched again into files of generation g + 1
//!    (`part-<window>-g<g+1>-<n>.<ext>`), which stay uncommitted uploads until
//!    the last page, then are committed;
//! 3. the new ledger entry (generation g + 1, its files, count and hash)
//!    replaces the old one, atomically;
//! 4. every file of the window that the ledger entry does not list (generation
//!    g) is deleted;
//! 5. the replacement record is deleted.
//!
//! A reader listing the partition between the first commit of step 2 and the
//! end of step 4 sees both generations. After a crash anywhere in 1-5, the
//! next `archive` run on the same output first finishes every recorded
//! replacement ([`recover`]): it keeps exactly the files the ledger entry lists
//! and deletes the rest, whichever generation the entry names. So exactly one
//! generation stays visible, and a rescan that runs again finds the window
//! unchanged (the new generation was committed) or replaces it again (the old
//! one was kept).

use std::collections::BTreeSet;

use futures_util::StreamExt;
use tracing::{debug, info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, StoreError};

use crate::content::ContentHash;
use crate::layout;
use crate::ledger::{self, LedgerError, Replacement, UnitEntry};
use crate::plan::Unit;
use crate::source::{PageSource, SourceError};
use crate::unit::{UnitContext, UnitError, run_unit_generation};

/// Why a window could not be checked or replaced. Its finished files stay as
/// they were (or are restored by the next run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RescanError {
    #[error("rescan fetching: {0}")]
    Source(#[from] SourceError),
    #[error("rescan replacing: {0}")]
    Unit(#[from] UnitError),
    #[error("rescan ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("rescan storing: {0}")]
    Store(#[from] StoreError),
    #[error("rescan: a {got} record came back for a {asked} query")]
    WrongKind {
        asked: CdrType,
        got: cdr_core::RecordKind,
    },
}

/// What a check of a finished window found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Count and content hash equal the ledger's: nothing to write.
    Unchanged,
    /// The window's files are to be replaced (its records changed, or
    /// `--redo`); holds its current ledger entry.
    Changed(Box<UnitEntry>),
    /// The window had no ledger entry any more (nothing to compare).
    NotFinished,
}

/// What a replacement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    pub generation: u32,
    pub records_before: u64,
    pub records_after: u64,
}

/// The records of a window as the API lists them now: count and content hash.
pub async fn fetch_content(
    source: &dyn PageSource,
    unit: &Unit,
) -> Result<(ContentHash, u64), RescanError> {
    let kind = unit.cdr_type.record_kind();
    let mut hash = ContentHash::new();
    let mut pages = 0;
    let mut stream = source.pages(unit);
    while let Some(page) = stream.next().await {
        let page = page?;
        pages += 1;
        if let Some(bad) = page.records.iter().find(|r| r.kind() != kind) {
            return Err(RescanError::WrongKind {
                asked: unit.cdr_type,
                got: bad.kind(),
            });
        }
        hash.add_all(&page.records);
    }
    Ok((hash, pages))
}

/// Checks one finished window against the API (with `redo`, only reads its
/// ledger entry: every finished window counts as changed). Writes nothing.
pub async fn check_unit(ctx: &UnitContext, unit: Unit, redo: bool) -> Result<Check, RescanError> {
    let Some(entry) = ledger::read(ctx.dest.as_ref(), unit.cdr_type, &unit.window).await? else {
        return Ok(Check::NotFinished);
    };
    if redo {
        return Ok(Check::Changed(Box::new(entry)));
    }
    let (hash, pages) = fetch_content(ctx.source.as_ref(), &unit).await?;
    ctx.progress
        .of(unit.cdr_type)
        .pages
        .fetch_add(pages, std::sync::atomic::Ordering::Relaxed);
    let same = entry.content_hash.as_deref() == Some(hash.hex().as_str())
        && entry.records == hash.records();
    if same {
        debug!("{} {} unchanged", unit.cdr_type, unit.window);
        return Ok(Check::Unchanged);
    }
    info!(
        "{} {} changed ({} records archived, {} now)",
        unit.cdr_type,
        unit.window,
        entry.records,
        hash.records()
    );
    Ok(Check::Changed(Box::new(entry)))
}

/// Replaces the files of a finished unit whose ledger entry is `old` with a
/// new generation (steps 1-5 of the module documentation). Replacements of
/// windows in the same partition must not run at once (each lists and deletes
/// files of the partition).
pub async fn replace(
    ctx: &UnitContext,
    unit: Unit,
    old: &UnitEntry,
) -> Result<Replaced, RescanError> {
    let dest = ctx.dest.as_ref();
    let to = old.generation.saturating_add(1);
    let record = Replacement {
        cdr_type: unit.cdr_type,
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        from_generation: old.generation,
        to_generation: to,
        started_at: chrono::Utc::now(),
    };
    ledger::write_replacement(dest, &record).await?;
    match run_unit_generation(ctx, unit, to).await {
        Ok(new) => {
            keep_only_listed(dest, unit.cdr_type, &unit.window).await?;
            ledger::delete_replacement(dest, unit.cdr_type, &unit.window).await?;
            Ok(Replaced {
                generation: new.generation,
                records_before: old.records,
                records_after: new.records,
            })
        }
        Err(e) => {
            // Keep whichever generation the ledger names now; when that fails
            // too, the replacement record makes the next run do it.
            match keep_only_listed(dest, unit.cdr_type, &unit.window).await {
                Ok(_) => {
                    if let Err(d) =
                        ledger::delete_replacement(dest, unit.cdr_type, &unit.window).await
                    {
                        warn!("could not remove the replacement record: {d}");
                    }
                }
                Err(k) => warn!(
                    "{} {}: could not restore the finished files yet ({k}); the next run will",
                    unit.cdr_type, unit.window
                ),
            }
            Err(e.into())
        }
    }
}

/// Deletes every data file of the unit `(t, w)` that its ledger entry does not
/// list (all of them when it has no entry); returns how many.
pub async fn keep_only_listed(
    dest: &dyn Destination,
    t: CdrType,
    w: &Window,
) -> Result<u64, LedgerError> {
    let keep: BTreeSet<String> = ledger::read(dest, t, w)
        .await?
        .map(|e| e.files.into_iter().map(|f| f.key).collect())
        .unwrap_or_default();
    let mut deleted = 0;
    for meta in dest.list(&layout::partition(t, w)).await? {
        if layout::is_part_of(&meta.key, t, w) && !keep.contains(meta.key.as_str()) {
            debug!("removing {} (not in the ledger entry)", meta.key);
            dest.delete(&meta.key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Finishes every replacement a crashed run left recorded, of any type: keeps
/// exactly the files each window's ledger entry lists. Must run before any
/// upload starts (it removes incomplete uploads of those partitions).
/// Returns how many replacements were finished.
pub async fn recover(dest: &dyn Destination) -> Result<u64, LedgerError> {
    let mut n = 0;
    for r in ledger::read_replacements(dest).await? {
        let Some(w) = r.window() else {
            continue;
        };
        dest.clean_incomplete(&layout::partition(r.cdr_type, &w))
            .await?;
        let removed = keep_only_listed(dest, r.cdr_type, &w).await?;
        ledger::delete_replacement(dest, r.cdr_type, &w).await?;
        info!(
            "finished an interrupted replacement of {} {} ({removed} files removed)",
            r.cdr_type, w
        );
        n += 1;
    }
    Ok(n)
}
