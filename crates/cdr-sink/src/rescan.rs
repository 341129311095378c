//! `--rescan` and `--redo`: check finished windows against the API again and
//! replace the files of those whose content changed, exactly once.
//!
//! A check fetches the window's pages and compares their record count and
//! content hash ([`crate::content`], of the version the entry was written
//! with) with the ledger entry; nothing is written when they are equal. A window whose content changed (or any finished window,
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
//!    g) is moved to `_cdr_sink/replaced/<time>/`, with the old ledger entry,
//!    and removed from there after `--keep-replaced`. With Delta tables the
//!    files of generation g stay in place instead, on a list
//!    ([`crate::retained`]): the table's earlier versions name them there.
//!    They are deleted after `--keep-replaced` too;
//! 5. the replacement record is deleted.
//!
//! All of it happens under the unit's claim, and the new ledger entry replaces
//! exactly the entry read under that claim (a compare-and-swap). A replacement
//! that would leave the window with fewer records than it has is refused
//! unless the operator allows it: nothing archived is deleted on the API's
//! word alone.
//!
//! A reader listing the partition between the first commit of step 2 and the
//! end of step 4 sees both generations (with Delta tables, until
//! `--keep-replaced` has passed; readers of the table see one generation). After a crash anywhere in 1-5, the
//! next `archive` run on the same output first finishes every recorded
//! replacement ([`recover`]): it keeps exactly the files the ledger entry lists
//! and moves the rest aside, whichever generation the entry names. So exactly one
//! generation stays visible, and a rescan that runs again finds the window
//! unchanged (the new generation was committed) or replaces it again (the old
//! one was kept).

use std::collections::BTreeSet;

use futures_util::StreamExt;
use tracing::{debug, info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError, Version};

use crate::claim::{Claim, ClaimLost};
use crate::content::{ContentHash, HashVersion};
use crate::layout;
use crate::ledger::{self, LedgerError, Replacement, UnitEntry};
use crate::plan::Unit;
use crate::source::{PageSource, SourceError};
use crate::unit::{FetchSlot, UnitContext, UnitError, UnitJob, run_unit};

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
    #[error("publishing to the Delta table: {0}")]
    Delta(#[from] crate::delta::TablesError),
    #[error("rescan: {0}")]
    ClaimLost(#[from] ClaimLost),
    #[error("rescan: a {got} record came back for a {asked} query")]
    WrongKind {
        asked: CdrType,
        got: cdr_core::RecordKind,
    },
    #[error(
        "rescan: the API now lists {now} records where the archive holds {archived}: not replaced, so that no archived record is deleted on the API's word; pass --allow-shrink to accept the smaller answer"
    )]
    Shrink { archived: u64, now: u64 },
}

/// What a check of a finished window found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Count and content hash equal the ledger's: nothing to write.
    Unchanged,
    /// The window's files are to be replaced (its records changed, or
    /// `--redo`); holds its current ledger entry and that entry's version.
    Changed(Box<UnitEntry>, Version),
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

/// The records of a window as the API lists them now.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// Count and content hash of the records that can be stored.
    pub hash: ContentHash,
    /// Records that cannot be stored (what `--on-bad-record quarantine` keeps aside).
    pub bad: u64,
    /// Elements of union members this version does not know.
    pub unknown: u64,
    pub pages: u64,
}

/// The records of a window as the API lists them now: their count and
/// content hash of `version`.
pub async fn fetch_content(
    source: &dyn PageSource,
    unit: &Unit,
    version: HashVersion,
) -> Result<Content, RescanError> {
    let kind = unit.cdr_type.record_kind();
    let mut content = Content {
        hash: ContentHash::of_version(version),
        ..Content::default()
    };
    let mut stream = source.pages(unit);
    while let Some(page) = stream.next().await {
        let page = page?;
        content.pages += 1;
        if let Some(bad) = page.records.iter().find(|r| r.kind() != kind) {
            return Err(RescanError::WrongKind {
                asked: unit.cdr_type,
                got: bad.kind(),
            });
        }
        content.bad += page.bad.len() as u64;
        content.unknown += page.unknown.len() as u64;
        content.hash.add_all(&page.records);
    }
    Ok(content)
}

/// Checks one finished window against the API (with `redo`, only reads its
/// ledger entry: every finished window counts as changed). Writes nothing.
/// A changed window with fewer records than archived is refused unless
/// `allow_shrink`.
pub async fn check_unit(
    ctx: &UnitContext,
    unit: Unit,
    redo: bool,
    allow_shrink: bool,
) -> Result<Check, RescanError> {
    let Some((entry, version)) =
        ledger::read_versioned(ctx.dest.as_ref(), unit.cdr_type, &unit.window).await?
    else {
        return Ok(Check::NotFinished);
    };
    if redo {
        return Ok(Check::Changed(Box::new(entry), version));
    }
    // Like with like: an entry of an older hash version is compared with the
    // hash of that version; its replacement (if any) gets the current one.
    let content = fetch_content(ctx.source.as_ref(), &unit, entry.content_hash_version).await?;
    ctx.progress
        .of(unit.cdr_type)
        .pages
        .fetch_add(content.pages, std::sync::atomic::Ordering::Relaxed);
    let hash = &content.hash;
    let same = entry.content_hash.as_deref() == Some(hash.hex().as_str())
        && entry.records == hash.records()
        && entry.quarantined == content.bad
        && entry.skipped == content.unknown;
    if same {
        debug!("{} {} unchanged", unit.cdr_type, unit.window);
        return Ok(Check::Unchanged);
    }
    if hash.records() < entry.records && !allow_shrink {
        return Err(RescanError::Shrink {
            archived: entry.records,
            now: hash.records(),
        });
    }
    info!(
        "{} {} changed ({} records archived, {} now)",
        unit.cdr_type,
        unit.window,
        entry.records,
        hash.records()
    );
    Ok(Check::Changed(Box::new(entry), version))
}

/// Replaces the files of a finished unit whose ledger entry is `old` (of
/// version `version`) with a new generation (steps 1-5 of the module
/// documentation), under `claim`, giving `slot` up once the new records
/// have all arrived.
pub async fn replace(
    ctx: &UnitContext,
    claim: &Claim,
    unit: Unit,
    slot: FetchSlot,
    old: &UnitEntry,
    version: Version,
    allow_shrink: bool,
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
    claim.check()?;
    ledger::write_replacement(dest, &record).await?;
    let job = UnitJob {
        unit,
        generation: to,
        claim,
        ledger: Precondition::Matches(version),
        at_least: (!allow_shrink).then_some(old.records),
        slot,
    };
    let tables = ctx.tables.is_some();
    match run_unit(ctx, job).await {
        Ok(new) => {
            keep_only_listed(dest, claim, unit.cdr_type, &unit.window, Some(old), tables).await?;
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
            let kept = match publish_listed(
                dest,
                claim,
                ctx.tables.as_deref(),
                unit.cdr_type,
                &unit.window,
            )
            .await
            {
                Ok(()) => {
                    keep_only_listed(dest, claim, unit.cdr_type, &unit.window, None, tables).await
                }
                Err(e) => Err(e),
            };
            match kept {
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
            Err(match e {
                UnitError::Shrink { archived, now } => RescanError::Shrink { archived, now },
                e => e.into(),
            })
        }
    }
}

/// With Delta tables, makes the window's files in its table those of the
/// generation the ledger names (the unit may have failed between its ledger
/// entry and its commit), so that the files moved aside next are none that
/// the table's current version references.
async fn publish_listed(
    dest: &dyn Destination,
    claim: &Claim,
    tables: Option<&crate::delta::Tables>,
    t: CdrType,
    w: &Window,
) -> Result<(), RescanError> {
    if let Some(tables) = tables
        && let Some(entry) = ledger::read(dest, t, w).await?
    {
        claim.check()?;
        tables.publish(&entry).await?;
    }
    Ok(())
}

/// Takes every data file of the unit `(t, w)` that its ledger entry does not
/// list (all of them when it has no entry) out of the window, and returns how
/// many. They move to `_cdr_sink/replaced/`, with `replaced` (the entry they
/// belonged to) when known. With Delta `tables`, the files of generations
/// older than the entry's, which earlier versions of the table name, stay
/// where they are instead, on a list ([`crate::retained`]); both go after
/// `--keep-replaced`.
pub async fn keep_only_listed(
    dest: &dyn Destination,
    claim: &Claim,
    t: CdrType,
    w: &Window,
    replaced: Option<&UnitEntry>,
    tables: bool,
) -> Result<u64, RescanError> {
    let entry = ledger::read(dest, t, w).await?;
    let current = entry.as_ref().map(|e| e.generation);
    let keep: BTreeSet<String> = entry
        .map(|e| {
            e.files
                .into_iter()
                .map(|f| f.key)
                .chain(e.quarantine)
                .collect()
        })
        .unwrap_or_default();
    let (mut aside, mut retain) = (Vec::new(), Vec::new());
    for meta in dest.list(&layout::partition(t, w)).await? {
        if !layout::is_part_of(&meta.key, t, w) || keep.contains(meta.key.as_str()) {
            continue;
        }
        let older = layout::generation_of(&meta.key, t, w)
            .zip(current)
            .is_some_and(|(g, current)| g < current);
        if tables && older {
            retain.push(meta);
        } else {
            aside.push(meta.key);
        }
    }
    // The replaced generation's quarantine file goes with its data files.
    if let Some(old) = replaced.and_then(|e| e.quarantine.as_deref())
        && !keep.contains(old)
        && let Ok(key) = ObjectKey::new(old)
        && dest.get(&key).await?.is_some()
    {
        aside.push(key);
    }
    if aside.is_empty() && retain.is_empty() {
        return Ok(0);
    }
    let stamp = layout::compact_instant(&chrono::DateTime::from(dest.now().await?));
    if let Some(entry) = replaced {
        let key = layout::ledger_key(t, w)
            .and_then(|k| layout::replaced_key(&stamp, &k))
            .map_err(StoreError::from)?;
        let body = serde_json::to_vec_pretty(entry).unwrap_or_default();
        claim.check()?;
        dest.put(&key, body.into(), "application/json").await?;
    }
    if !retain.is_empty() {
        claim.check()?;
        debug!(
            "{t} {w}: {} files of older generations stay in place for earlier table versions",
            retain.len()
        );
        crate::retained::write(dest, &stamp, t, w, &retain).await?;
    }
    for key in &aside {
        claim.check()?;
        debug!("moving {key} aside (not in the ledger entry)");
        let to = layout::replaced_key(&stamp, key).map_err(StoreError::from)?;
        dest.rename(key, &to).await?;
    }
    Ok((aside.len() + retain.len()) as u64)
}

/// Removes what earlier replacements moved aside or left in place more than
/// `keep` ago (by the store's clock); returns how many files went.
pub async fn remove_old_replaced(
    dest: &dyn Destination,
    keep: chrono::TimeDelta,
) -> Result<u64, LedgerError> {
    let listed = dest.list(&layout::replaced_prefix()).await?;
    if listed.is_empty() {
        return Ok(0);
    }
    let now: chrono::DateTime<chrono::Utc> = dest.now().await?.into();
    let mut n = 0;
    for meta in listed {
        let Some(at) = layout::replaced_at(&meta.key) else {
            continue;
        };
        if now - at < keep {
            continue;
        }
        if layout::is_retained_list(&meta.key) {
            n += crate::retained::remove(dest, &meta.key).await?;
        } else {
            dest.delete(&meta.key).await?;
            n += 1;
        }
    }
    if n > 0 {
        info!("removed {n} replaced files older than --keep-replaced");
    }
    Ok(n)
}

/// Finishes a replacement a crashed run left recorded for the unit `(t, w)`,
/// under its claim: keeps exactly the files the ledger entry lists.
pub async fn recover(
    dest: &dyn Destination,
    claim: &Claim,
    r: &Replacement,
    tables: Option<&crate::delta::Tables>,
) -> Result<bool, RescanError> {
    let Some(w) = r.window() else {
        return Ok(false);
    };
    crate::unit::clean_leftovers(
        dest,
        &Unit {
            cdr_type: r.cdr_type,
            window: w,
        },
    )
    .await?;
    publish_listed(dest, claim, tables, r.cdr_type, &w).await?;
    let moved = keep_only_listed(dest, claim, r.cdr_type, &w, None, tables.is_some()).await?;
    claim.check()?;
    ledger::delete_replacement(dest, r.cdr_type, &w).await?;
    info!(
        "finished an interrupted replacement of {} {} ({moved} files taken out of the window)",
        r.cdr_type, w
    );
    Ok(true)
}
