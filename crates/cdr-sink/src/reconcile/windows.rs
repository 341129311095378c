//! Which windows to compare, which are missing and which are in progress,
//! from the claims and the ledger; and, once the exports are read, which
//! missing windows other runs finished or claimed meanwhile.
//!
//! Claims are listed before the ledger is read: a window that a run
//! finishes between the two is then found finished (its entry), and one
//! it claims after the listing is found by the second look ([`since`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Step, Window};
use cdr_sink_api::Destination;

use crate::claim::{self, LiveClaim};
use crate::ledger::{self, UnitEntry};
use crate::plan::ReconcilePlan;

use super::{CheckError, InProgress, Job, Outcome, ReconcileError, Unchecked};

/// What one type of the archive holds, and what to do about it.
#[derive(Debug)]
pub(super) struct TypePlan {
    /// The range looked at, when there is one.
    pub range: Option<Window>,
    /// The length of the type's windows (the most common one), or
    /// `--window` when it has none.
    pub step: Step,
    /// The format most of its windows were written in.
    pub format: Option<String>,
}

/// What [`plan`] found.
#[derive(Debug, Default)]
pub(super) struct Planned {
    pub types: BTreeMap<CdrType, TypePlan>,
    pub jobs: Vec<Job>,
    pub in_progress: Vec<(CdrType, InProgress)>,
    pub unchecked: Vec<(CdrType, Window, String)>,
}

/// Reads the claims and the ledger of the types `plan` names (every type
/// the archive holds when it names none) and plans the downloads.
pub(super) async fn plan(
    dest: &dyn Destination,
    plan: &ReconcilePlan,
    now: DateTime<Utc>,
) -> Result<Planned, ReconcileError> {
    let explicit = !plan.types.is_empty();
    let types = if explicit {
        plan.types.clone()
    } else {
        CdrType::ALL.to_vec()
    };
    let due = now - plan.settle;
    let mut out = Planned::default();
    for t in types {
        let live: Vec<LiveClaim> = claim::list(dest, t)
            .await?
            .into_iter()
            .filter(|c| !c.expired)
            .collect();
        let mut entries: BTreeMap<Window, UnitEntry> = BTreeMap::new();
        let mut unreadable: BTreeMap<Window, String> = BTreeMap::new();
        for (key, entry) in ledger::read_type_entries(dest, t).await? {
            let named = crate::layout::window_of_record(&key);
            match entry {
                Ok(Some(e)) => match e.window() {
                    Some(w) if named.is_none_or(|n| n == w) && e.cdr_type == t => {
                        entries.insert(w, e);
                    }
                    _ => {
                        if let Some(n) = named {
                            unreadable.insert(
                                n,
                                format!(
                                    "ledger entry {} describes another type or window than its name says: run cdr-sink verify",
                                    dest.location(&key)
                                ),
                            );
                        }
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    if let Some(n) = named {
                        unreadable.insert(n, CheckError::Ledger(e).to_string());
                    }
                }
            }
        }
        let finished: Vec<Window> = entries
            .keys()
            .chain(unreadable.keys())
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if finished.is_empty() && !explicit {
            continue;
        }
        let start = plan.start.or_else(|| finished.first().map(Window::start));
        let end = plan.end.or_else(|| finished.iter().map(Window::end).max());
        let range = match (start, end) {
            (Some(s), Some(e)) => Window::new(s, e).ok(),
            _ => None,
        };
        let step = if finished.is_empty() {
            plan.window
        } else {
            crate::verify::typical_step(&finished)
        };
        let format = crate::verify::most_common(entries.values().map(|e| e.format.as_str()))
            .map(str::to_string);
        out.types.insert(
            t,
            TypePlan {
                range,
                step,
                format,
            },
        );
        let Some(range) = range else {
            continue;
        };
        let overlaps = |w: &Window| w.start() < range.end() && range.start() < w.end();
        for (w, e) in entries.into_iter().filter(|(w, _)| overlaps(w)) {
            out.jobs.push(Job::Compare(t, w, Box::new(e)));
        }
        for (w, why) in unreadable.into_iter().filter(|(w, _)| overlaps(w)) {
            out.unchecked.push((t, w, why));
        }
        for w in gaps(&finished, range, step, due) {
            match live
                .iter()
                .find(|c| c.window_start < w.end() && w.start() < c.window_end)
            {
                Some(c) => out.in_progress.push((t, claimed(t, w, c))),
                None => out.jobs.push(Job::Missing(t, w)),
            }
        }
    }
    if out.types.values().all(|p| p.range.is_none()) {
        return Err(ReconcileError::NothingArchived {
            output: dest.describe(),
            types: if explicit {
                format!(
                    " of {}",
                    plan.types
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            },
        });
    }
    Ok(out)
}

/// The unit windows of `range` that no window of `finished` (sorted)
/// covers and that ended by `due`: cut at every multiple of `step`, as
/// `archive` plans them.
pub(super) fn gaps(
    finished: &[Window],
    range: Window,
    step: Step,
    due: DateTime<Utc>,
) -> Vec<Window> {
    let mut holes = Vec::new();
    let mut cur = range.start();
    for w in finished {
        if cur >= range.end() {
            break;
        }
        if w.end() <= cur {
            continue;
        }
        if w.start() > cur {
            holes.push((cur, w.start().min(range.end())));
        }
        cur = cur.max(w.end());
    }
    if cur < range.end() {
        holes.push((cur, range.end()));
    }
    holes
        .into_iter()
        // Planned without a clock (the range's own end), then only the
        // windows that are due: a unit window that is not due yet is not
        // cut short.
        .filter_map(|(a, b)| cdr_core::plan(a, b, step, b + TimeDelta::seconds(1)).ok())
        .flat_map(|p| p.windows)
        .filter(|w| w.end() <= due)
        .collect()
}

fn claimed(t: CdrType, w: Window, c: &LiveClaim) -> InProgress {
    InProgress {
        cdr_type: t.as_str().to_string(),
        window_start: w.start(),
        window_end: w.end(),
        owner: c.owner.clone(),
        expires: Some(c.expires),
        message: match &c.owner {
            Some(o) => format!("claimed by {o}"),
            None => "claimed by another run".to_string(),
        },
    }
}

/// Missing windows that other runs claimed or finished while the exports
/// were read, by type and window: they are in progress after all.
pub(super) async fn since(
    dest: &dyn Destination,
    outcomes: &[Outcome],
) -> Result<BTreeMap<(CdrType, Window), InProgress>, ReconcileError> {
    let mut missing: BTreeMap<CdrType, Vec<Window>> = BTreeMap::new();
    for o in outcomes {
        if let Outcome::Missing { t, window, .. } = o {
            missing.entry(*t).or_default().push(*window);
        }
    }
    let mut out = BTreeMap::new();
    for (t, windows) in missing {
        // Claims first, then the ledger: a run that finishes in between is
        // seen by the second.
        let live: Vec<LiveClaim> = claim::list(dest, t)
            .await?
            .into_iter()
            .filter(|c| !c.expired)
            .collect();
        let finished = ledger::list_windows(dest, t).await?;
        for w in windows {
            let overlaps = |a: &Window| a.start() < w.end() && w.start() < a.end();
            if let Some(c) = live
                .iter()
                .find(|c| c.window_start < w.end() && w.start() < c.window_end)
            {
                out.insert((t, w), claimed(t, w, c));
            } else if finished.iter().any(overlaps) {
                out.insert(
                    (t, w),
                    InProgress {
                        cdr_type: t.as_str().to_string(),
                        window_start: w.start(),
                        window_end: w.end(),
                        owner: None,
                        expires: None,
                        message: "finished by another run while reconcile ran".into(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// `unchecked` entries for the report.
pub(super) fn unchecked(t: CdrType, w: Window, message: String) -> Unchecked {
    Unchecked {
        cdr_type: t.as_str().to_string(),
        window_start: w.start(),
        window_end: w.end(),
        message,
    }
}
