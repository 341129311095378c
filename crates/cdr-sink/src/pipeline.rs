//! plan -> fetch -> encode -> store -> commit, for every unit of a plan, up to
//! `concurrency` units at once, each under its claim; then `--rescan` /
//! `--redo` of finished windows.
//!
//! Any number of runs may work on one output at once: units are spread by
//! claims ([`crate::claim`]). A unit claimed by a live run is left to it and
//! looked at again later: it is finished by its owner, or taken over when its
//! owner's lease expires. A run ends when every unit of its plan is finished,
//! by it or by others, or failed.
//!
//! This file is the archive run itself: its setup (ledger, claims, leftovers,
//! replacements that crashed runs left), its units and its summary. Below it:
//! `schedule` (units under claims and fetch slots), `attempt` (one attempt
//! at one unit), `rescan_phase` (finished windows checked again) and `error`.

mod attempt;
mod error;
mod rescan_phase;
mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tracing::{debug, info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, Format, Leftovers, StoreError};

use crate::claim::{self, Acquired, Claims, Owner};
use crate::delta;
use crate::layout;
use crate::ledger::{self, LedgerError};
use crate::plan::{ArchivePlan, PlanError, RollPolicy, TableFormat, Unit};
use crate::progress::Progress;
use crate::rescan;
use crate::source::PageSource;
use crate::summary::{ConcurrencySummary, Summary, UnitRef};
use crate::unit::{DEFAULT_PREFETCH, UnitContext};
use attempt::{Done, archive_unit, failed_unit};
pub use error::ArchiveError;
use rescan_phase::rescan_phase;
use schedule::run_claimed;

/// How a run writes, beyond the plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub roll: RollPolicy,
    /// Decoded pages waiting for the encoders, shared by the units fetching
    /// at once ([`UnitContext::for_unit`]).
    pub prefetch: usize,
    /// Who this run is in its claims (a fresh run id by default).
    pub owner: Owner,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            roll: RollPolicy::default(),
            prefetch: DEFAULT_PREFETCH,
            owner: Owner::this_process(),
        }
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

/// Temporary state under `_cdr_sink/` older than this was left by a killed
/// run: a live run writes a bookkeeping object in milliseconds.
const STALE_STATE: Duration = Duration::from_secs(3600);

/// Removes what killed runs left half-written under `_cdr_sink/`. The
/// ledger, claims, probes and replacement records are written whole by
/// `put`/`put_if` (a temporary file only on local disk, created and renamed
/// under the directory's lock, which `clean_incomplete` takes too), so any
/// leftover there is dead; elsewhere only old ones are taken.
async fn clean_state(dest: &dyn Destination) -> Result<(), StoreError> {
    for area in ["ledger", "claims", "probe", "replacing"] {
        let prefix = format!("{}/{area}/", layout::STATE_PREFIX);
        dest.clean_incomplete(&Leftovers::all(prefix)).await?;
    }
    let all = format!("{}/", layout::STATE_PREFIX);
    dest.clean_incomplete(&Leftovers::older_than(all, STALE_STATE))
        .await?;
    Ok(())
}

/// Runs `plan`: finishes replacements a crashed run left, skips finished
/// units, does the others (sharing them with any other run on the same
/// output), then rescans (or redoes) finished windows, and summarises. Unit
/// and rescan failures are reported in the summary; only setup failures are
/// errors.
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
    // Bad input found in the ledger (an --incremental start) ends the run
    // before anything is written.
    let finished = finished_windows(plan, dest.as_ref()).await?;
    let plan = &plan.resolve(&finished)?;

    claim::probe(dest.as_ref(), &options.owner).await?;
    let claims = Arc::new(Claims::new(dest.clone(), options.owner.clone(), plan.lease));
    let tables = open_tables(plan, &dest, &finished).await?;
    rescan::remove_old_replaced(dest.as_ref(), plan.keep_replaced).await?;
    clean_state(dest.as_ref()).await?;
    claim::remove_expired(dest.as_ref(), &plan.types).await?;
    let recovered = recover_replacements(dest.as_ref(), &claims, tables.as_deref()).await?;
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
    info!(
        "archiving {} units ({}) to {}",
        plan.units.len(),
        plan.types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(","),
        dest.describe()
    );
    let skipped = plan.units.len() - todo.len();
    if skipped > 0 {
        info!(
            "{skipped} of {} units already finished; skipping them",
            plan.units.len()
        );
    }
    if plan.units.is_empty() {
        info!(
            "nothing new to archive: every type is finished up to {}",
            cdr_core::format_datetime(&plan.end)
        );
    }

    // The client's own limits when the source has them, so that the
    // scheduler follows what the API answers.
    let throttle = source.throttle().unwrap_or_else(|| plan.throttle());
    let ctx = UnitContext {
        source,
        dest: dest.clone(),
        format: format.clone(),
        roll: options.roll,
        progress: progress.clone(),
        prefetch: options.prefetch,
        on_unknown: plan.on_unknown,
        on_bad_record: plan.on_bad_record,
        tables,
    };
    let mut failed = Vec::new();
    let mut elsewhere = Vec::new();
    let outcomes = run_claimed(
        todo,
        &throttle,
        claims.lease(),
        |unit, slot| {
            let (ctx, claims) = (ctx.for_unit(throttle.limit()), claims.clone());
            async move { archive_unit(&ctx, &claims, unit, slot).await }
        },
        |outcome| matches!(outcome, Err(e) if e.is_fatal()),
    )
    .await;
    if let Some((_, Err(e))) = outcomes.last()
        && e.is_fatal()
    {
        return Err(ArchiveError::Stopped(e.fatal_message()));
    }
    for (unit, outcome) in outcomes {
        let c = progress.of(unit.cdr_type);
        c.last_end_ms
            .fetch_max(progress.started.elapsed().as_millis() as u64, Relaxed);
        let nanos = unit.window.duration().num_nanoseconds().unwrap_or(0).max(0) as u64;
        c.window_nanos_done.fetch_add(nanos, Relaxed);
        match outcome {
            Ok(Done::Here(records, files)) => {
                c.units_done.fetch_add(1, Relaxed);
                debug!(records, files, "finished {} {}", unit.cdr_type, unit.window);
            }
            Ok(Done::Elsewhere) => {
                c.units_elsewhere.fetch_add(1, Relaxed);
                elsewhere.push(UnitRef::of(&unit));
            }
            Err(e) => {
                c.units_failed.fetch_add(1, Relaxed);
                warn!(cdr_type = %unit.cdr_type, window = %unit.window, "window failed: {e}");
                failed.push(failed_unit(&unit, e.to_string()));
            }
        }
    }

    let rescan = match plan.rescan_range() {
        Some(range) => {
            let phase = rescan_phase(
                plan,
                &ctx,
                &claims,
                &throttle,
                &finished,
                range,
                &mut failed,
            );
            Some(phase.await?)
        }
        None => None,
    };

    failed.sort_by(|a, b| (a.window_start, &a.cdr_type).cmp(&(b.window_start, &b.cdr_type)));
    elsewhere.sort();
    let mut summary = Summary::from_progress(
        &progress,
        dest.describe(),
        format.name().to_string(),
        plan.start,
        plan.end,
        failed,
    );
    summary.incremental = plan.incremental.is_some();
    summary.cut_from = plan.clamped_from.filter(|c| *c > plan.end);
    summary.recovered_replacements = recovered;
    summary.rescan = rescan;
    summary.left_to_others = elsewhere;
    summary.run_id = options.owner.run_id.clone();
    summary.concurrency = Some(ConcurrencySummary::new(
        plan.concurrency,
        &throttle.report(),
    ));
    Ok(summary)
}

/// Finishes the replacements that crashed runs left recorded, each under its
/// unit's claim (one held by a live run is that run's business).
/// With `--table-format delta`, the tables of the plan's types, created as
/// needed and given the windows an earlier run finished but did not publish.
/// Without it, an output that has Delta tables is refused: windows archived
/// without their commits would be missing from the tables.
async fn open_tables(
    plan: &ArchivePlan,
    dest: &Arc<dyn Destination>,
    finished: &BTreeMap<CdrType, BTreeSet<Window>>,
) -> Result<Option<Arc<delta::Tables>>, ArchiveError> {
    if plan.table_format == TableFormat::Files {
        if let Some(t) = delta::first_with_table(dest.as_ref(), &plan.types).await? {
            return Err(ArchiveError::Plan(PlanError::new(format!(
                "{} holds a Delta table of {t} ({}/_delta_log/): pass --table-format delta, so that the windows of this run appear in it",
                dest.describe(),
                delta::table_root(t)
            ))));
        }
        return Ok(None);
    }
    let tables = delta::Tables::open(dest.clone(), &plan.types)
        .await
        .map_err(delta::TablesError::from)?;
    for &t in &plan.types {
        let empty = BTreeSet::new();
        let done = finished.get(&t).unwrap_or(&empty);
        tables.publish_pending(dest.as_ref(), t, done).await?;
    }
    Ok(Some(Arc::new(tables)))
}

async fn recover_replacements(
    dest: &dyn Destination,
    claims: &Claims,
    tables: Option<&delta::Tables>,
) -> Result<u64, ArchiveError> {
    let mut n = 0;
    for r in ledger::read_replacements(dest).await? {
        let Some(window) = r.window() else {
            continue;
        };
        let unit = Unit {
            cdr_type: r.cdr_type,
            window,
        };
        let Acquired::Owned(claim) = claims.acquire(&unit, "replace").await? else {
            continue;
        };
        // Under the claim: the record may be gone meanwhile.
        let still = ledger::read_replacements(dest)
            .await?
            .into_iter()
            .any(|x| x.cdr_type == r.cdr_type && x.window() == Some(window));
        let result = if still {
            rescan::recover(dest, &claim, &r, tables).await
        } else {
            Ok(false)
        };
        claim.release().await;
        match result {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => warn!(
                "{} {}: could not finish an interrupted replacement ({e}); a later run will",
                r.cdr_type, window
            ),
        }
    }
    Ok(n)
}

fn overlapping(done: &BTreeSet<Window>, w: &Window) -> Option<Window> {
    done.iter()
        .find(|d| d.start() < w.end() && w.start() < d.end())
        .copied()
}

#[cfg(test)]
mod simulation;
#[cfg(test)]
mod slots;
#[cfg(test)]
mod tests;
