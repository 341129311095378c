//! plan -> fetch -> encode -> store -> commit, for every unit of a plan, up to
//! `concurrency` units at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use futures_util::StreamExt;
use tracing::{info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, Format, StoreError};

use crate::layout;
use crate::ledger::{self, LedgerError, UnitEntry};
use crate::plan::{ArchivePlan, RollPolicy, Unit};
use crate::progress::Progress;
use crate::source::PageSource;
use crate::summary::{FailedUnit, Summary};
use crate::unit::{UnitContext, run_unit};

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
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{cdr_type} window {planned} overlaps the archived window {archived} (archived with another --window): re-run with the same --window, or use another --out"
    )]
    Overlap {
        cdr_type: CdrType,
        planned: Window,
        archived: Window,
    },
}

/// How a run writes, beyond the plan.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub roll: RollPolicy,
    /// Pages fetched ahead of the encoder, per unit.
    pub prefetch: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            roll: RollPolicy::default(),
            prefetch: 2,
        }
    }
}

/// Runs `plan`: skips finished units, does the others, and summarises.
/// Unit failures are reported in the summary; only setup failures are errors.
pub async fn archive(
    plan: &ArchivePlan,
    source: Arc<dyn PageSource>,
    dest: Arc<dyn Destination>,
    format: Arc<dyn Format>,
    options: RunOptions,
    progress: Arc<Progress>,
) -> Result<Summary, ArchiveError> {
    dest.check_writable()
        .await
        .map_err(|source| ArchiveError::Unwritable {
            location: dest.describe(),
            source,
        })?;

    let mut finished: BTreeMap<CdrType, BTreeMap<Window, UnitEntry>> = BTreeMap::new();
    for &t in &plan.types {
        finished.insert(t, ledger::read_type(dest.as_ref(), t).await?);
    }
    let mut todo = Vec::new();
    for unit in &plan.units {
        let c = progress.of(unit.cdr_type);
        c.units_total.fetch_add(1, Relaxed);
        let nanos = unit.window.duration().num_nanoseconds().unwrap_or(0).max(0) as u64;
        c.window_nanos_total.fetch_add(nanos, Relaxed);
        let done = &finished[&unit.cdr_type];
        if done.contains_key(&unit.window) {
            c.units_skipped.fetch_add(1, Relaxed);
            c.window_nanos_done.fetch_add(nanos, Relaxed);
            continue;
        }
        if let Some(archived) = overlapping(done, &unit.window) {
            return Err(ArchiveError::Overlap {
                cdr_type: unit.cdr_type,
                planned: unit.window,
                archived,
            });
        }
        todo.push(*unit);
    }
    let skipped = plan.units.len() - todo.len();
    if skipped > 0 {
        info!(
            "{skipped} of {} units already finished; skipping them",
            plan.units.len()
        );
    }

    // Remove what crashed runs left half-written in the partitions we touch.
    let partitions: BTreeSet<String> = todo
        .iter()
        .map(|u| layout::partition(u.cdr_type, &u.window))
        .collect();
    for p in &partitions {
        let n = dest.clean_incomplete(p).await?;
        if n > 0 {
            info!("removed {n} incomplete uploads under {p}");
        }
    }

    let ctx = UnitContext {
        source,
        dest: dest.clone(),
        format: format.clone(),
        roll: options.roll,
        progress: progress.clone(),
        prefetch: options.prefetch,
    };
    let mut failed = Vec::new();
    let mut results = futures_util::stream::iter(todo.into_iter().map(|unit| {
        let ctx = ctx.clone();
        async move { (unit, run_unit(&ctx, unit).await) }
    }))
    .buffer_unordered(plan.concurrency);
    while let Some((unit, result)) = results.next().await {
        let c = progress.of(unit.cdr_type);
        c.last_end_ms
            .fetch_max(progress.started.elapsed().as_millis() as u64, Relaxed);
        let nanos = unit.window.duration().num_nanoseconds().unwrap_or(0).max(0) as u64;
        c.window_nanos_done.fetch_add(nanos, Relaxed);
        match result {
            Ok(entry) => {
                c.units_done.fetch_add(1, Relaxed);
                tracing::debug!(
                    records = entry.records,
                    files = entry.files.len(),
                    "finished {} {}",
                    unit.cdr_type,
                    unit.window
                );
            }
            Err(e) => {
                c.units_failed.fetch_add(1, Relaxed);
                warn!("{} {} failed: {e}", unit.cdr_type, unit.window);
                failed.push(failed_unit(&unit, e.to_string()));
            }
        }
    }
    failed.sort_by(|a, b| (a.window_start, &a.cdr_type).cmp(&(b.window_start, &b.cdr_type)));
    Ok(Summary::from_progress(
        &progress,
        dest.describe(),
        format.name().to_string(),
        plan.start,
        plan.end,
        failed,
    ))
}

fn failed_unit(unit: &Unit, error: String) -> FailedUnit {
    FailedUnit {
        cdr_type: unit.cdr_type.as_str().to_string(),
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        error,
    }
}

fn overlapping(done: &BTreeMap<Window, UnitEntry>, w: &Window) -> Option<Window> {
    done.keys()
        .find(|d| d.start() < w.end() && w.start() < d.end())
        .copied()
}

#[cfg(test)]
mod tests;
