//! The rescan (or `--redo`) phase of a run: the windows finished before it
//! that lie in the rescan range, each checked (or replaced) under its claim,
//! scheduled like the archive units, and counted in the rescan summary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tracing::{info, warn};

use cdr_core::{CdrType, Window};

use super::attempt::{Rescanned, failed_unit, rescan_unit};
use super::error::ArchiveError;
use super::schedule::run_claimed;
use crate::claim::Claims;
use crate::plan::{ArchivePlan, Unit};
use crate::rescan::RescanError;
use crate::summary::{FailedUnit, RescanSummary};
use crate::unit::UnitContext;
use cdr_transport::Throttle;

/// Checks (or, with `--redo`, replaces) the windows that were finished before
/// this run and lie in `range`, each under its claim.
pub(super) async fn rescan_phase(
    plan: &ArchivePlan,
    ctx: &UnitContext,
    claims: &Arc<Claims>,
    throttle: &Throttle,
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
        throttle,
        claims.lease(),
        |unit, slot| {
            let (ctx, claims) = (ctx.for_unit(throttle.limit()), claims.clone());
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
