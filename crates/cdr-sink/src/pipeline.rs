//! plan -> fetch -> encode -> store -> commit, for every unit of a plan, up to
//! `concurrency` units at once, each under its claim; then `--rescan` /
//! `--redo` of finished windows.
//!
//! Any number of runs may work on one output at once: units are spread by
//! claims ([`crate::claim`]). A unit claimed by a live run is left to it and
//! looked at again later: it is finished by its owner, or taken over when its
//! owner's lease expires. A run ends when every unit of its plan is finished,
//! by it or by others, or failed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, Format, Leftovers, Precondition, StoreError};

use crate::claim::{self, Acquired, Claims, Owner, ProbeError};
use crate::layout;
use crate::ledger::{self, LedgerError};
use crate::plan::{ArchivePlan, PlanError, RollPolicy, Unit};
use crate::progress::Progress;
use crate::rescan::{self, Check, RescanError};
use crate::source::PageSource;
use crate::summary::{FailedUnit, RescanSummary, Summary, UnitRef};
use crate::unit::{FetchSlot, UnitContext, UnitError, UnitJob, clean_leftovers, run_unit};

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
    NoConditionalWrites(#[from] ProbeError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input found once the ledger was read (e.g. `--incremental` without
    /// `--start` on an empty output).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A failure that no unit can get past (the API cannot be reached, the
    /// credentials were refused): the run stopped.
    #[error("{0}")]
    Stopped(String),
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
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub roll: RollPolicy,
    /// Pages fetched ahead of the encoder, per unit.
    pub prefetch: usize,
    /// Who this run is in its claims (a fresh run id by default).
    pub owner: Owner,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            roll: RollPolicy::default(),
            prefetch: 2,
            owner: Owner::this_process(),
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
    rescan::remove_old_replaced(dest.as_ref(), plan.keep_replaced).await?;
    clean_state(dest.as_ref()).await?;
    claim::remove_expired(dest.as_ref(), &plan.types).await?;
    let recovered = recover_replacements(dest.as_ref(), &claims).await?;
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

    let ctx = UnitContext {
        source,
        dest: dest.clone(),
        format: format.clone(),
        roll: options.roll,
        progress: progress.clone(),
        prefetch: options.prefetch,
        on_unknown: plan.on_unknown,
        on_bad_record: plan.on_bad_record,
    };
    let mut failed = Vec::new();
    let mut elsewhere = Vec::new();
    let outcomes = run_claimed(
        todo,
        plan.concurrency,
        claims.lease(),
        |unit, slot| {
            let (ctx, claims) = (ctx.clone(), claims.clone());
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
            Some(rescan_phase(plan, &ctx, &claims, &finished, range, &mut failed).await?)
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
    Ok(summary)
}

/// How a unit ended well.
enum Done {
    /// Archived by this run: records and files.
    Here(u64, usize),
    /// Finished by another run.
    Elsewhere,
}

/// What one attempt at a unit came to.
enum Attempt<T> {
    Finished(T),
    /// Claimed by a live run: look again after this long.
    Busy(Duration),
}

/// Units that may finish (encode their last pages, commit, write their
/// ledger entry) beyond `concurrency`, having given up their fetching slot
/// when their last page arrived: an eighth of `concurrency`, at least 1 and at
/// most 8. Each holds an encoder until its files are sealed and its uploads
/// until they are committed, so this bounds the memory the overlap costs.
fn finishing_limit(concurrency: usize) -> usize {
    (concurrency / 8).clamp(1, 8)
}

/// Runs `work` for every unit, at most `concurrency` fetching at once. Each
/// unit holds a [`FetchSlot`] and gives it up when its last page has arrived,
/// so that the next unit's requests overlap its commit; at most
/// [`finishing_limit`] more units than `concurrency` are in flight.
///
/// A unit whose attempt finds it claimed by another live run is tried again
/// later, until it is finished here, finished elsewhere, or failed: first
/// after [`FIRST_LOOK`], then after twice as long each time, never later than
/// the claim's lease expires nor than a third of a lease. Another run usually
/// finishes a unit in seconds, and a run that waited a third of a lease for
/// each such unit spent most of its time waiting at its end (two workers of
/// one plan ran at 4% of twice one worker's speed; `docs/performance.md`).
///
/// An outcome for which `stop` holds ends everything at once (the units in
/// flight are dropped, which aborts their uploads and releases their claims):
/// it is the last one returned.
async fn run_claimed<T, F, Fut>(
    units: Vec<Unit>,
    concurrency: usize,
    lease: Duration,
    work: F,
    stop: impl Fn(&T) -> bool,
) -> Vec<(Unit, T)>
where
    F: Fn(Unit, FetchSlot) -> Fut,
    Fut: std::future::Future<Output = Attempt<T>> + Send + 'static,
    T: Send + 'static,
{
    let concurrency = concurrency.max(1);
    let most = concurrency + finishing_limit(concurrency);
    let fetching = Arc::new(Semaphore::new(concurrency));
    // Each unit with how long it waited last time it was busy.
    let mut queue: VecDeque<(Unit, Option<Duration>)> =
        units.into_iter().map(|u| (u, None)).collect();
    let mut waiting: Vec<(tokio::time::Instant, Unit, Duration)> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    let mut out = Vec::new();
    let start =
        |unit: Unit, waited: Option<Duration>, permit, in_flight: &mut FuturesUnordered<_>| {
            // A task of its own: the units that run at once encode on every
            // core, not in turn on the task that polls them all.
            let task = AbortOnDrop(tokio::spawn(work(unit, FetchSlot::new(permit))));
            in_flight.push(async move { (unit, waited, task.join().await) });
        };
    loop {
        while in_flight.len() < most && !queue.is_empty() {
            let Ok(permit) = fetching.clone().try_acquire_owned() else {
                break;
            };
            if let Some((unit, waited)) = queue.pop_front() {
                start(unit, waited, permit, &mut in_flight);
            }
        }
        if in_flight.is_empty() && waiting.is_empty() && queue.is_empty() {
            return out;
        }
        let may_start = in_flight.len() < most && !queue.is_empty();
        let next_due = waiting.iter().map(|(at, _, _)| *at).min();
        tokio::select! {
            // A unit in flight gave its slot up (its last page arrived).
            Ok(permit) = fetching.clone().acquire_owned(), if may_start => {
                if let Some((unit, waited)) = queue.pop_front() {
                    start(unit, waited, permit, &mut in_flight);
                }
            }
            Some((unit, waited, attempt)) = in_flight.next(), if !in_flight.is_empty() => match attempt {
                Some(Attempt::Finished(t)) if stop(&t) => {
                    out.push((unit, t));
                    return out;
                }
                Some(Attempt::Finished(t)) => out.push((unit, t)),
                Some(Attempt::Busy(expires_in)) => {
                    let wait = busy_wait(waited, expires_in, lease);
                    waiting.push((tokio::time::Instant::now() + wait, unit, wait));
                }
                // The runtime is shutting down: the unit is simply not done.
                None => {}
            },
            () = sleep_until(next_due), if next_due.is_some() => {
                let now = tokio::time::Instant::now();
                let (due, later): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|(at, _, _)| *at <= now);
                waiting = later;
                queue.extend(due.into_iter().map(|(_, u, wait)| (u, Some(wait))));
            }
        }
    }
}

/// The first wait before a busy unit is looked at again.
const FIRST_LOOK: Duration = Duration::from_millis(500);

/// How long to wait before looking again at a unit another run holds, after
/// waiting `waited` the last time (`None`: the first time) and with its
/// claim's lease ending in `expires_in`.
fn busy_wait(waited: Option<Duration>, expires_in: Duration, lease: Duration) -> Duration {
    let next = waited.map_or(FIRST_LOOK, |w| w.saturating_mul(2));
    next.min(expires_in)
        .min(lease / 3)
        .max(Duration::from_millis(200))
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// The task's output; `None` when it was cancelled. A panic in it goes on here.
    async fn join(mut self) -> Option<T> {
        match (&mut self.0).await {
            Ok(t) => Some(t),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => None,
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One attempt at archiving `unit`: claim it, check under the claim that it
/// is still unfinished, clean up after crashed attempts, write it, release.
async fn archive_unit(
    ctx: &UnitContext,
    claims: &Claims,
    unit: Unit,
    slot: FetchSlot,
) -> Attempt<Result<Done, UnitError>> {
    let claim = match claims.acquire(&unit, "archive").await {
        Ok(Acquired::Owned(claim)) => claim,
        Ok(Acquired::Busy(busy)) => {
            debug!(
                "{} {} is claimed by {} for {:?} more; looking again later",
                unit.cdr_type,
                unit.window,
                busy.owner.map_or("another run".into(), |o| o.to_string()),
                busy.expires_in
            );
            return Attempt::Busy(busy.expires_in);
        }
        Err(e) => return Attempt::Finished(Err(e.into())),
    };
    let result = async {
        let dest = ctx.dest.as_ref();
        if ledger::read(dest, unit.cdr_type, &unit.window)
            .await?
            .is_some()
        {
            return Ok(Done::Elsewhere);
        }
        let removed = clean_leftovers(dest, &unit).await?;
        if removed > 0 {
            debug!(
                "{} {}: removed {removed} unfinished uploads of earlier attempts",
                unit.cdr_type, unit.window
            );
        }
        let job = UnitJob {
            unit,
            generation: 0,
            claim: &claim,
            ledger: Precondition::Absent,
            at_least: None,
            slot,
        };
        match run_unit(ctx, job).await {
            Ok(entry) => Ok(Done::Here(entry.records, entry.files.len())),
            Err(UnitError::FinishedElsewhere) => Ok(Done::Elsewhere),
            Err(e) => Err(e),
        }
    }
    .await;
    claim.release().await;
    Attempt::Finished(result)
}

/// Finishes the replacements that crashed runs left recorded, each under its
/// unit's claim (one held by a live run is that run's business).
async fn recover_replacements(
    dest: &dyn Destination,
    claims: &Claims,
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
            rescan::recover(dest, &claim, &r).await
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

/// What a rescan (or redo) did to one window.
enum Rescanned {
    Unchanged,
    Replaced(rescan::Replaced),
    NotFinished,
}

/// Checks (or, with `--redo`, replaces) the windows that were finished before
/// this run and lie in `range`, each under its claim.
async fn rescan_phase(
    plan: &ArchivePlan,
    ctx: &UnitContext,
    claims: &Arc<Claims>,
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
    let (redo, allow_shrink) = (plan.redo, plan.allow_shrink);
    let outcomes = run_claimed(
        units,
        plan.concurrency,
        claims.lease(),
        |unit, slot| {
            let (ctx, claims) = (ctx.clone(), claims.clone());
            async move { rescan_unit(&ctx, &claims, unit, slot, redo, allow_shrink).await }
        },
        |outcome| matches!(outcome, Err(RescanError::Source(e)) if e.is_fatal()),
    )
    .await;
    if let Some((_, Err(RescanError::Source(e)))) = outcomes.last()
        && e.is_fatal()
    {
        return Err(ArchiveError::Stopped(e.to_string()));
    }
    for (unit, result) in outcomes {
        let t = summary.of(unit.cdr_type);
        match result {
            Ok(Rescanned::Unchanged) => t.checked += 1,
            Ok(Rescanned::NotFinished) => {}
            Ok(Rescanned::Replaced(r)) => {
                t.checked += 1;
                t.changed += 1;
                t.records_before += r.records_before;
                t.records_after += r.records_after;
                info!(
                    "{} {}: replaced by generation {} ({} -> {} records)",
                    unit.cdr_type, unit.window, r.generation, r.records_before, r.records_after
                );
            }
            Err(e) => {
                t.checked += 1;
                t.failed += 1;
                warn!(cdr_type = %unit.cdr_type, window = %unit.window, "rescan failed: {e}");
                failed.push(failed_unit(&unit, e.to_string()));
            }
        }
    }
    Ok(summary)
}

async fn rescan_unit(
    ctx: &UnitContext,
    claims: &Claims,
    unit: Unit,
    slot: FetchSlot,
    redo: bool,
    allow_shrink: bool,
) -> Attempt<Result<Rescanned, RescanError>> {
    let claim = match claims.acquire(&unit, "replace").await {
        Ok(Acquired::Owned(claim)) => claim,
        Ok(Acquired::Busy(busy)) => return Attempt::Busy(busy.expires_in),
        Err(e) => return Attempt::Finished(Err(e.into())),
    };
    let result = async {
        let (entry, version) = match rescan::check_unit(ctx, unit, redo, allow_shrink).await? {
            Check::Unchanged => return Ok(Rescanned::Unchanged),
            Check::NotFinished => return Ok(Rescanned::NotFinished),
            Check::Changed(entry, version) => (entry, version),
        };
        clean_leftovers(ctx.dest.as_ref(), &unit).await?;
        let replaced =
            rescan::replace(ctx, &claim, unit, slot, &entry, version, allow_shrink).await?;
        Ok(Rescanned::Replaced(replaced))
    }
    .await;
    claim.release().await;
    Attempt::Finished(result)
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
mod simulation;
#[cfg(test)]
mod slots;
#[cfg(test)]
mod tests;
