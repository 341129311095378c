//! Committing a unit: its files in order, then its ledger entry, written
//! conditionally, so that only a unit with a ledger entry is finished and a
//! late owner cannot overwrite a newer result.

use std::sync::atomic::Ordering::Relaxed;

use chrono::Utc;
use sha2::Digest;

use cdr_core::SCHEMA_VERSION;

use super::error::UnitError;
use super::files::Files;
use super::job::{UnitContext, UnitJob};
use super::write::WriteStats;
use crate::hex::hex;
use crate::ledger::{self, FileEntry, LedgerError, UnitEntry};

/// Commits the unit's sealed files in order, then its quarantine file, then
/// writes its ledger entry conditionally; each step under a claim check.
pub(super) async fn commit(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: Files,
    stats: WriteStats,
) -> Result<UnitEntry, UnitError> {
    let unit = &job.unit;
    if let Some(archived) = job.at_least
        && stats.records < archived
    {
        files.abort_all().await;
        return Err(UnitError::Shrink {
            archived,
            now: stats.records,
        });
    }
    let counters = ctx.progress.of(unit.cdr_type);
    let mut entries = Vec::with_capacity(files.sealed.len());
    let files_quarantine = files.quarantine;
    let mut sealed = files.sealed.into_iter();
    while let Some(f) = sealed.next() {
        let key = f.key.clone();
        let sha256 = hex(&f.hasher.finalize());
        let committed = match job.claim.check() {
            Ok(()) => f.upload.commit().await.map_err(UnitError::from),
            Err(lost) => {
                let _ = f.upload.abort().await;
                Err(lost.into())
            }
        };
        match committed {
            Ok(meta) => {
                counters.files.fetch_add(1, Relaxed);
                counters.bytes.fetch_add(meta.size, Relaxed);
                entries.push(FileEntry {
                    key: key.to_string(),
                    size: meta.size,
                    rows: f.rows,
                    sha256,
                });
            }
            Err(e) => {
                for rest in sealed.chain(files_quarantine) {
                    let _ = rest.upload.abort().await;
                }
                return Err(e);
            }
        }
    }
    let quarantine = match files_quarantine {
        Some(mut f) => {
            job.claim.check()?;
            f.upload.finish_writes().await?;
            let meta = f.upload.commit().await?;
            Some(meta.key.to_string())
        }
        None => None,
    };
    let skipped = stats.unknown.values().sum();
    let entry = UnitEntry {
        ledger_version: ledger::LEDGER_VERSION,
        cdr_type: unit.cdr_type,
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        records: stats.records,
        pages: stats.pages,
        skipped,
        skipped_members: stats.unknown,
        quarantined: stats.quarantined,
        quarantine,
        min_datetime: stats.seen.min,
        max_datetime: stats.seen.max,
        format: ctx.format.name().to_string(),
        schema_version: SCHEMA_VERSION,
        files: entries,
        finished_at: Utc::now(),
        generation: job.generation,
        content_hash: Some(stats.seen.content.hex()),
        content_hash_version: stats.seen.content.version(),
    };
    job.claim.check()?;
    match ledger::write(ctx.dest.as_ref(), &entry, &job.ledger).await {
        Ok(_) => {
            if let Some(tables) = &ctx.tables {
                job.claim.check()?;
                tables.publish(&entry).await?;
            }
            Ok(entry)
        }
        Err(LedgerError::Store(e)) if e.is_precondition_failed() => {
            Err(UnitError::FinishedElsewhere)
        }
        Err(e) => Err(e.into()),
    }
}
