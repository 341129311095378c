//! plan -> fetch -> encode -> store -> commit, for every unit of a plan, up to
//! `concurrency` units at once; then `--rescan` / `--redo` of finished windows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use futures_util::StreamExt;
use tracing::{info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, Format, StoreError};

use crate::layout;
use crate::ledger::{self, LedgerError};
use crate::plan::{ArchivePlan, PlanError, RollPolicy, Unit};
use crate::progress::Progress;
use crate::rescan::{self, Check};
use crate::source::PageSource;
use crate::summary::{FailedUnit, RescanSummary, Summary};
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
    /// Bad input found once the ledger was read (e.g. `--incremental` without
    /// `--start` on an empty output).
    #[error(transparent)]
    Plan(#[from] PlanError),
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

impl ArchiveError {
    /// Whether the input (flags) is at fault, rather than the store.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ArchiveError::Plan(_))
    }
}

/// The finished windows of each type of `plan`, from the ledger's names.
pub async fn finished_windows(
    plan: &ArchivePlan,
    dest: &dyn Destination,
) -> Result<BTreeMap<CdrType, BTreeSet<Window>>, LedgerError> {
    let mut finished = BTreeMap::new();
    for &t in &plan.types {
        finished.insert(t, ledger::list_windows(dest, t).await?);
    }
    Ok(finished)
}

/// The units of `plan` given what `dest` has finished: an `--incremental`
/// plan's units come from the ledger ([`ArchivePlan::resolve`]); a fixed plan
/// is returned as it is. Reads only the ledger's names.
pub async fn resolve(
    plan: &ArchivePlan,
    dest: &dyn Destination,
) -> Result<ArchivePlan, ArchiveError> {
    if plan.incremental.is_none() {
        return Ok(plan.clone());
    }
    Ok(plan.resolve(&finished_windows(plan, dest).await?)?)
}

/// Runs `plan`: finishes replacements a crashed run left, skips finished
/// units, does the others, then rescans (or redoes) finished windows, and
/// summarises. Unit and rescan failures are reported in the summary; only
/// setup failures are errors.
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

    let recovered = rescan::recover(dest.as_ref()).await?;
    let finished = finished_windows(plan, dest.as_ref()).await?;
    let plan = &plan.resolve(&finished)?;
    let mut todo = Vec::new();
    for unit in &plan.units {
        let c = progress.of(unit.cdr_type);
        c.units_total.fetch_add(1, Relaxed);
        let nanos = unit.window.duration().num_nanoseconds().unwrap_or(0).max(0) as u64;
        c.window_nanos_total.fetch_add(nanos, Relaxed);
        let done = &finished[&unit.cdr_type];
        if done.contains(&unit.window) {
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
    if plan.incremental.is_some() && plan.units.is_empty() {
        info!(
            "nothing new to archive: every type is finished up to {}",
            cdr_core::format_datetime(&plan.end)
        );
    }

    // Remove what crashed runs left half-written in the partitions we touch.
    clean_partitions(dest.as_ref(), &todo).await?;

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
    drop(results);

    let rescan = match plan.rescan_range() {
        Some(range) => Some(rescan_phase(plan, &ctx, &finished, range, &mut failed).await?),
        None => None,
    };

    failed.sort_by(|a, b| (a.window_start, &a.cdr_type).cmp(&(b.window_start, &b.cdr_type)));
    let mut summary = Summary::from_progress(
        &progress,
        dest.describe(),
        format.name().to_string(),
        plan.start,
        plan.end,
        failed,
    );
    summary.incremental = plan.incremental.is_some();
    summary.recovered_replacements = recovered;
    summary.rescan = rescan;
    Ok(summary)
}

/// Removes incomplete uploads under the partitions of `units`. Only while no
/// upload of this run is in flight.
async fn clean_partitions(dest: &dyn Destination, units: &[Unit]) -> Result<(), StoreError> {
    let partitions: BTreeSet<String> = units
        .iter()
        .map(|u| layout::partition(u.cdr_type, &u.window))
        .collect();
    // The bookkeeping prefix too: a run killed while writing a ledger entry
    // leaves that write's temporary state there.
    for p in partitions
        .iter()
        .map(String::as_str)
        .chain([layout::STATE_PREFIX])
    {
        let n = dest.clean_incomplete(p).await?;
        if n > 0 {
            info!("removed {n} incomplete uploads under {p}");
        }
    }
    Ok(())
}

/// Checks (or, with `--redo`, replaces) the windows that were finished before
/// this run and lie in `range`.
async fn rescan_phase(
    plan: &ArchivePlan,
    ctx: &UnitContext,
    finished: &BTreeMap<CdrType, BTreeSet<Window>>,
    range: Window,
    failed: &mut Vec<FailedUnit>,
) -> Result<RescanSummary, ArchiveError> {
    let mut units: Vec<Unit> = finished
        .iter()
        .flat_map(|(&t, windows)| {
            windows
                .iter()
                .filter(|w| w.start() < range.end() && range.start() < w.end())
                .map(move |&w| Unit {
                    cdr_type: t,
                    window: w,
                })
        })
        .collect();
    units.sort_by_key(|u| (u.window.start(), u.cdr_type));
    let mut summary = RescanSummary::new(range, plan.redo, &plan.types);
    if units.is_empty() {
        return Ok(summary);
    }
    info!(
        "{} {} finished windows in {range}",
        if plan.redo { "replacing" } else { "rescanning" },
        units.len()
    );
    clean_partitions(ctx.dest.as_ref(), &units).await?;

    // First every window is checked (fetches only, all at once up to
    // --concurrency), then the changed ones are replaced: partitions at once,
    // the windows of one partition one after the other.
    let redo = plan.redo;
    let mut changed: BTreeMap<String, Vec<(Unit, Box<ledger::UnitEntry>)>> = BTreeMap::new();
    let mut checks = futures_util::stream::iter(units.into_iter().map(|unit| {
        let ctx = ctx.clone();
        async move { (unit, rescan::check_unit(&ctx, unit, redo).await) }
    }))
    .buffer_unordered(plan.concurrency);
    while let Some((unit, result)) = checks.next().await {
        match result {
            Ok(Check::Unchanged) => summary.of(unit.cdr_type).checked += 1,
            Ok(Check::Changed(entry)) => changed
                .entry(layout::partition(unit.cdr_type, &unit.window))
                .or_default()
                .push((unit, entry)),
            Ok(Check::NotFinished) => {}
            Err(e) => {
                summary.of(unit.cdr_type).failed += 1;
                warn!("{} {} rescan failed: {e}", unit.cdr_type, unit.window);
                failed.push(failed_unit(&unit, e.to_string()));
            }
        }
    }
    drop(checks);
    let mut replacements = futures_util::stream::iter(changed.into_values().map(|group| {
        let ctx = ctx.clone();
        async move {
            let mut out = Vec::with_capacity(group.len());
            for (unit, entry) in group {
                out.push((unit, rescan::replace(&ctx, unit, &entry).await));
            }
            out
        }
    }))
    .buffer_unordered(plan.concurrency);
    while let Some(group) = replacements.next().await {
        for (unit, result) in group {
            let t = summary.of(unit.cdr_type);
            t.checked += 1;
            match result {
                Ok(r) => {
                    t.changed += 1;
                    t.records_before += r.records_before;
                    t.records_after += r.records_after;
                    info!(
                        "{} {}: replaced by generation {} ({} -> {} records)",
                        unit.cdr_type, unit.window, r.generation, r.records_before, r.records_after
                    );
                }
                Err(e) => {
                    t.failed += 1;
                    warn!("{} {} replacement failed: {e}", unit.cdr_type, unit.window);
                    failed.push(failed_unit(&unit, e.to_string()));
                }
            }
        }
    }
    Ok(summary)
}

fn failed_unit(unit: &Unit, error: String) -> FailedUnit {
    FailedUnit {
        cdr_type: unit.cdr_type.as_str().to_string(),
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        error,
    }
}

fn overlapping(done: &BTreeSet<Window>, w: &Window) -> Option<Window> {
    done.iter()
        .find(|d| d.start() < w.end() && w.start() < d.end())
        .copied()
}

#[cfg(test)]
mod tests;
