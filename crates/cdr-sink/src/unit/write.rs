//! Writing a unit's files: the page loop. Pages are fetched ahead in a task
//! of their own; each is checked, fingerprinted and encoded off the runtime;
//! bad records fail the unit or go to quarantine; files roll over by the
//! roll policy and are sealed, to be committed only when the unit ends.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use cdr_sink_api::{ColumnSet, StoreError};

use super::cleanup::remove_stale_files;
use super::cpu::off_runtime;
use super::error::UnitError;
use super::files::{Files, OpenFile};
use super::fingerprint::Fingerprint;
use super::job::{UnitContext, UnitJob};
use super::quarantine::quarantine;
use crate::layout;
use crate::plan::{OnBadRecord, OnUnknown};

/// What the page loop counted, for the ledger entry.
#[derive(Default)]
pub(super) struct WriteStats {
    pub(super) records: u64,
    pub(super) pages: u64,
    /// Elements of union members this version cannot store, per name.
    pub(super) unknown: BTreeMap<String, u64>,
    /// Elements of every kind received so far (for positions in messages).
    pub(super) elements: u64,
    /// Records that cannot be stored, written to the quarantine file.
    pub(super) quarantined: u64,
    pub(super) seen: Fingerprint,
}

/// Streams the job's pages into files: fetched in a task of their own,
/// checked, fingerprinted and encoded on the CPU pool, rolled over into a new
/// file by the roll policy; every file sealed but none committed.
pub(super) async fn write_files(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: &mut Files,
) -> Result<WriteStats, UnitError> {
    let (unit, generation) = (&job.unit, job.generation);
    let counters = ctx.progress.of(unit.cdr_type);
    let kind = unit.cdr_type.record_kind();
    // Fetch in a task of its own, so that the next pages are fetched and
    // decoded while this one is checked, fingerprinted, encoded and stored.
    let (tx, mut rx) = mpsc::channel(ctx.prefetch.max(1));
    let mut pages = ctx.source.pages(unit);
    let asked = unit.cdr_type;
    let slot = job.slot.clone();
    let fetcher = tokio::spawn(async move {
        loop {
            let Some(page) = pages.next().await else {
                // Every page has arrived: the next unit may start fetching
                // while this one encodes the last pages and commits.
                slot.give_up();
                break;
            };
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                break;
            }
        }
    });
    let _abort_fetcher = AbortOnDrop(fetcher);
    // The first request is on its way while the partition is cleaned up.
    remove_stale_files(ctx, job).await?;
    let mut seen = Fingerprint::default();

    let mut stats = WriteStats::default();
    while let Some(page) = rx.recv().await {
        let page = page?;
        stats.pages += 1;
        counters.pages.fetch_add(1, Relaxed);
        counters.retries.fetch_add(page.retries, Relaxed);
        if !page.unknown.is_empty() {
            for member in &page.unknown {
                *stats.unknown.entry(member.typename.clone()).or_default() += 1;
            }
            if ctx.on_unknown == OnUnknown::Fail {
                // The unit fails: free its files now, count to the end for
                // the message.
                std::mem::take(files).abort_all().await;
            }
        }
        let first = stats.elements;
        stats.elements += (page.records.len() + page.unknown.len() + page.bad.len()) as u64;
        if !page.bad.is_empty() {
            match ctx.on_bad_record {
                OnBadRecord::Fail => {
                    let bad = &page.bad[0];
                    return Err(UnitError::BadRecord {
                        position: first + bad.index as u64 + 1,
                        page: stats.pages,
                        typename: bad.typename.clone(),
                        field: bad.field.clone(),
                        message: bad.message.clone(),
                        more: page.bad.len() as u64 - 1,
                    });
                }
                OnBadRecord::Quarantine => {
                    quarantine(ctx, job, files, first, stats.pages, &page.bad).await?;
                    stats.quarantined += page.bad.len() as u64;
                    counters
                        .quarantined
                        .fetch_add(page.bad.len() as u64, Relaxed);
                }
            }
        }
        if ctx.on_unknown == OnUnknown::Fail && !stats.unknown.is_empty() {
            ctx.source.recycle(page.records);
            continue;
        }
        if page.records.is_empty() {
            continue;
        }
        if files.current.is_none() {
            let n = files.sealed.len() as u32;
            let key = layout::generation_part_key(
                unit.cdr_type,
                &unit.window,
                generation,
                n,
                ctx.format.extension(),
            )
            .map_err(StoreError::from)?;
            let encoder = ctx.format.encoder(ColumnSet::all(kind))?;
            let upload = ctx.dest.begin(&key, ctx.format.content_type()).await?;
            files.current = Some((
                encoder,
                OpenFile {
                    key,
                    upload,
                    hasher: Sha256::new(),
                    size: 0,
                    rows: 0,
                },
            ));
        }
        let Some((encoder, file)) = files.current.take() else {
            continue;
        };
        // Check, fingerprint and encode the page in one piece of CPU work;
        // the encoder comes back whatever the outcome.
        let records = page.records;
        let done = off_runtime(move || {
            let (mut encoder, mut seen) = (encoder, seen);
            let result = seen
                .add(asked, &records)
                .and_then(|()| encoder.encode(&records).map_err(UnitError::from));
            (encoder, seen, records, result)
        })
        .await;
        let Some((encoder, fingerprint, records, result)) = done else {
            // The encoder is gone with its thread: abort the file with the rest.
            files.sealed.push(file);
            return Err(UnitError::Stopped);
        };
        seen = fingerprint;
        let (encoder, file) = files.current.insert((encoder, file));
        result?;
        let n = records.len() as u64;
        // The fetcher decodes a later page into this one's memory.
        ctx.source.recycle(records);
        file.rows += n;
        stats.records += n;
        counters.records.fetch_add(n, Relaxed);
        file.write(encoder.take_ready()).await?;
        if encoder.rows() >= ctx.roll.rows || encoder.size_estimate() >= ctx.roll.bytes {
            seal_current(files).await?;
            // The sealed file waits for the unit's end before its commit: let
            // the destination store its buffered tail now, so memory does not
            // grow with the number of files a unit rolls over.
            if let Some(sealed) = files.sealed.last_mut() {
                sealed.upload.finish_writes().await?;
            }
        }
    }
    if ctx.on_unknown == OnUnknown::Fail && !stats.unknown.is_empty() {
        return Err(UnitError::UnknownMembers {
            cdr_type: unit.cdr_type,
            members: stats.unknown,
        });
    }
    for (name, n) in &stats.unknown {
        counters.skipped_members.fetch_add(*n, Relaxed);
        counters.note_unknown(name, *n);
    }
    seal_current(files).await?;
    stats.seen = seen;
    Ok(stats)
}

async fn seal_current(files: &mut Files) -> Result<(), UnitError> {
    if let Some((encoder, mut file)) = files.current.take() {
        // Finishing flushes the last row group: CPU work, off the runtime.
        let done = off_runtime(move || {
            let mut encoder = encoder;
            let rest = encoder.finish();
            (encoder, rest)
        })
        .await;
        let Some((encoder, rest)) = done else {
            files.sealed.push(file);
            return Err(UnitError::Stopped);
        };
        let rest = match rest {
            Ok(r) => r,
            Err(e) => {
                files.current = Some((encoder, file));
                return Err(e.into());
            }
        };
        if let Err(e) = file.write(rest).await {
            files.current = Some((encoder, file));
            return Err(e.into());
        }
        files.sealed.push(file);
    }
    Ok(())
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
