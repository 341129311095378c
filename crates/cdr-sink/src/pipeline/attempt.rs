//! One attempt at one unit, under its claim: archiving it (`archive_unit`)
//! or rescanning / redoing a finished window (`rescan_unit`), how each ends,
//! and the summary's line for a unit that failed.

use tracing::debug;

use cdr_sink_api::Precondition;

use super::schedule::Attempt;
use crate::claim::{Acquired, Claims};
use crate::ledger;
use crate::plan::Unit;
use crate::rescan::{self, Check, RescanError};
use crate::summary::FailedUnit;
use crate::unit::{FetchSlot, UnitContext, UnitError, UnitJob, clean_leftovers, run_unit};

/// How a unit ended well.
pub(super) enum Done {
    /// Archived by this run: records and files.
    Here(u64, usize),
    /// Finished by another run.
    Elsewhere,
}

/// One attempt at archiving `unit`: claim it, check under the claim that it
/// is still unfinished, clean up after crashed attempts, write it, release.
pub(super) async fn archive_unit(
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

/// What a rescan (or redo) did to one window.
pub(super) enum Rescanned {
    Unchanged,
    Replaced(rescan::Replaced),
    NotFinished,
}

/// One attempt at rescanning (with `redo`, replacing) the finished window
/// `unit`: claim it, check it, replace its files if they changed, release.
pub(super) async fn rescan_unit(
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

pub(super) fn failed_unit(unit: &Unit, error: String) -> FailedUnit {
    FailedUnit {
        cdr_type: unit.cdr_type.as_str().to_string(),
        window_start: unit.window.start(),
        window_end: unit.window.end(),
        error,
    }
}
