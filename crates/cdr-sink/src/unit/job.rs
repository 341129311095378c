//! What a unit is run with: the parts shared by every unit of a run
//! ([`UnitContext`]), one run of one unit ([`UnitJob`]), and its place among
//! the units that fetch at once ([`FetchSlot`]).

use std::sync::Arc;

use cdr_sink_api::{Destination, Format, Precondition};

use crate::claim::Claim;
use crate::plan::{OnBadRecord, OnUnknown, RollPolicy, Unit};
use crate::progress::Progress;
use crate::source::PageSource;

/// What a unit writer needs; shared by every unit of a run.
#[derive(Clone)]
pub struct UnitContext {
    pub source: Arc<dyn PageSource>,
    pub dest: Arc<dyn Destination>,
    pub format: Arc<dyn Format>,
    pub roll: RollPolicy,
    pub progress: Arc<Progress>,
    /// Decoded pages waiting for the encoder: the run's budget, shared by the
    /// units fetching at once; a unit's own share once [`UnitContext::for_unit`]
    /// has divided it.
    pub prefetch: usize,
    /// What to do with records of union members this version cannot store.
    pub on_unknown: OnUnknown,
    /// What to do with records whose values cannot be stored.
    pub on_bad_record: OnBadRecord,
    /// `--table-format delta`: the tables each finished unit is published to.
    pub tables: Option<Arc<crate::delta::Tables>>,
}

/// The default budget of decoded pages waiting for the encoders
/// ([`UnitContext::prefetch`]). A unit running alone holds up to eight: its
/// fetcher and its encoder take turns on the same cores as the rest of the
/// machine, and two pages were too few to keep the encoder fed (one window of
/// 1M SMS records at concurrency 1 took 0.86 of the time and 0.93 of the CPU
/// with eight, `docs/performance.md`). Three units or more hold
/// [`MIN_PREFETCH`] each, as before, so memory does not grow with them.
pub const DEFAULT_PREFETCH: usize = 8;

/// The fewest decoded pages a unit may hold for its encoder: one being
/// handed over while the next waits.
pub const MIN_PREFETCH: usize = 2;

impl UnitContext {
    /// The context of one unit started while `limit` units may fetch at once:
    /// its share of the run's [`prefetch`](UnitContext::prefetch) budget,
    /// at least [`MIN_PREFETCH`].
    pub fn for_unit(&self, limit: usize) -> UnitContext {
        UnitContext {
            prefetch: prefetch_share(self.prefetch, limit),
            ..self.clone()
        }
    }
}

/// A unit's share of a budget of `budget` pages when `limit` units may fetch
/// at once.
fn prefetch_share(budget: usize, limit: usize) -> usize {
    (budget / limit.max(1)).max(MIN_PREFETCH)
}

/// One run of a unit: which generation of its files it writes, under which
/// claim, and what its ledger entry replaces.
pub struct UnitJob<'a> {
    pub unit: Unit,
    /// 0 for a window's first archive; the next one for a replacement.
    pub generation: u32,
    pub claim: &'a Claim,
    /// `Absent` for a first archive; the version of the entry it replaces.
    pub ledger: Precondition,
    /// Refuse to finish with fewer records than this (a replacement must not
    /// shrink a window unless the operator allows it).
    pub at_least: Option<u64>,
    /// The unit's place among those fetching at once, given up when its last
    /// page has arrived.
    pub slot: FetchSlot,
}

/// A unit's place among the units that fetch at once (`--concurrency`). The
/// unit gives it up as soon as its last page has arrived, so that the next
/// unit's requests overlap the rest of this one: encoding its last pages,
/// committing its files (fsyncs, multipart completions), writing its ledger
/// entry and releasing its claim, which it still does. How many units may
/// finish that way at once is the scheduler's business.
#[derive(Debug, Clone, Default)]
pub struct FetchSlot(Arc<std::sync::Mutex<Option<Place>>>);

/// The units fetching at once: counted as their slots are taken, and woken
/// when one is given up.
#[derive(Debug, Default)]
pub struct Fetching {
    count: std::sync::atomic::AtomicUsize,
    freed: tokio::sync::Notify,
}

impl Fetching {
    /// Units holding a slot now.
    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A slot, counted until it is given up or dropped.
    pub fn take(self: &Arc<Self>) -> FetchSlot {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FetchSlot(Arc::new(std::sync::Mutex::new(Some(Place(self.clone())))))
    }

    /// Waits until a slot is given up (at once if one was given up since
    /// the last wait: a single waiter misses nothing).
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

/// A counted place; given back when dropped.
#[derive(Debug)]
struct Place(Arc<Fetching>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

impl FetchSlot {
    /// Gives the place up; later calls do nothing.
    pub fn give_up(&self) {
        let place = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_share_the_prefetch_budget_and_keep_a_minimum() {
        let share = |limit| prefetch_share(DEFAULT_PREFETCH, limit);
        // A unit alone holds the whole budget; two split it.
        assert_eq!((share(1), share(2)), (8, 4));
        // From three units on, each keeps the minimum, as before the budget:
        // memory does not grow with the units.
        for limit in [3, 4, 16, 64] {
            assert_eq!(share(limit), MIN_PREFETCH, "limit {limit}");
        }
        // A limit of zero (never given) counts as one unit.
        assert_eq!(share(0), 8);
        // A small budget never goes below the minimum.
        assert_eq!(prefetch_share(1, 1), MIN_PREFETCH);
    }
}
