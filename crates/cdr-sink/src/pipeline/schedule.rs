//! Scheduling the units of a run under claims and fetch slots: as many units
//! fetch at once as the run's [`Throttle`] allows (a fixed `--concurrency`,
//! or the adaptive limit of `--concurrency auto`, read again whenever it may
//! have changed), a few more may finish beyond that, each runs as a task of
//! its own, and a unit another live run holds is looked at again later, with
//! growing waits. What an attempt does is the caller's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use cdr_transport::Throttle;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::plan::Unit;
use crate::unit::{FetchSlot, Fetching};

/// What one attempt at a unit came to.
pub(super) enum Attempt<T> {
    Finished(T),
    /// Claimed by a live run: look again after this long.
    Busy(Duration),
}

/// Units that may finish (encode their last pages, commit, write their
/// ledger entry) beyond `concurrency`, having given up their fetching slot
/// when their last page arrived: an eighth of `concurrency`, at least 1 and at
/// most 8. Each holds an encoder until its files are sealed and its uploads
/// until they are committed, so this bounds the memory the overlap costs.
pub(super) fn finishing_limit(concurrency: usize) -> usize {
    (concurrency / 8).clamp(1, 8)
}

/// Runs `work` for every unit, at most [`Throttle::chains`] fetching at once
/// (the throttle's limit; when adaptive, plus the requests resting before a
/// retry, whose units would otherwise leave their places unused). Each unit
/// holds a [`FetchSlot`] and gives it up when its last page has arrived, so
/// that the next unit's requests overlap its commit; at most
/// [`finishing_limit`] more units than that are in flight. A limit that
/// falls does not stop units already fetching: the throttle holds back their
/// requests instead.
///
/// A unit whose attempt finds it claimed by another live run is tried again
/// later, until it is finished here, finished elsewhere, or failed: first
/// after [`FIRST_LOOK`], then after twice as long each time up to
/// [`LAST_LOOK`], never later than the claim's lease expires nor than a third
/// of a lease. Another run usually finishes a unit in seconds, and a run that
/// waits on it has nothing else to do at its end: each look later than the
/// other run's finish is time its worker sits idle (two workers of one plan
/// ran at 4% of twice one worker's speed while the wait was a third of a
/// lease; `docs/performance.md`). A look is one read of the claim.
///
/// An outcome for which `stop` holds ends everything at once (the units in
/// flight are dropped, which aborts their uploads and releases their claims):
/// it is the last one returned.
pub(super) async fn run_claimed<T, F, Fut>(
    units: Vec<Unit>,
    throttle: &Throttle,
    lease: Duration,
    work: F,
    stop: impl Fn(&T) -> bool,
) -> Vec<(Unit, T)>
where
    F: Fn(Unit, FetchSlot) -> Fut,
    Fut: std::future::Future<Output = Attempt<T>> + Send + 'static,
    T: Send + 'static,
{
    let fetching = Arc::new(Fetching::default());
    // Each unit with how long it waited last time it was busy.
    let mut queue: VecDeque<(Unit, Option<Duration>)> =
        units.into_iter().map(|u| (u, None)).collect();
    let mut waiting: Vec<(tokio::time::Instant, Unit, Duration)> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    let mut out = Vec::new();
    let start =
        |unit: Unit, waited: Option<Duration>, slot, in_flight: &mut FuturesUnordered<_>| {
            // A task of its own: the units that run at once encode on every
            // core, not in turn on the task that polls them all.
            let task = AbortOnDrop(tokio::spawn(work(unit, slot)));
            in_flight.push(async move { (unit, waited, task.join().await) });
        };
    loop {
        let chains = throttle.chains().max(1);
        let most = chains + finishing_limit(chains);
        while in_flight.len() < most && fetching.count() < chains {
            let Some((unit, waited)) = queue.pop_front() else {
                break;
            };
            start(unit, waited, fetching.take(), &mut in_flight);
        }
        if in_flight.is_empty() && waiting.is_empty() && queue.is_empty() {
            return out;
        }
        let next_due = waiting.iter().map(|(at, _, _)| *at).min();
        tokio::select! {
            // A unit in flight gave its slot up (its last page arrived), or
            // more units may fetch: look again.
            () = fetching.freed(), if !queue.is_empty() => {}
            () = throttle.chains_changed(), if !queue.is_empty() => {}
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
const FIRST_LOOK: Duration = Duration::from_millis(250);
/// The longest wait between two looks at a busy unit.
const LAST_LOOK: Duration = Duration::from_secs(1);

/// How long to wait before looking again at a unit another run holds, after
/// waiting `waited` the last time (`None`: the first time) and with its
/// claim's lease ending in `expires_in`.
fn busy_wait(waited: Option<Duration>, expires_in: Duration, lease: Duration) -> Duration {
    let next = waited.map_or(FIRST_LOOK, |w| w.saturating_mul(2));
    next.min(LAST_LOOK)
        .min(expires_in)
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

#[cfg(test)]
mod tests;
