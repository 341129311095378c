//! Clean-up of what earlier attempts at a unit left: uploads never
//! committed ([`clean_leftovers`]), and files committed by an attempt that
//! crashed before its ledger entry (removed before the unit is redone).

use tracing::debug;

use cdr_sink_api::{Destination, Leftovers, StoreError};

use super::error::UnitError;
use super::job::{UnitContext, UnitJob};
use crate::layout;
use crate::plan::Unit;

/// Removes what crashed attempts at `unit` left unfinished: its temporary
/// uploads. Only under the unit's claim (an upload of a live run would be
/// removed with them). Its ledger entry's leftovers are not looked for here:
/// bookkeeping is written whole under its directory's lock, so whatever a
/// killed run left there is dead, and every run removes all of it when it
/// starts (`pipeline::clean_state`); looking per unit walked the type's whole
/// ledger directory on local disk (a walk that grows with the archive) and
/// cost a listing request on S3, for every unit.
pub async fn clean_leftovers(dest: &dyn Destination, unit: &Unit) -> Result<u64, StoreError> {
    let data = format!(
        "{}/{}",
        layout::partition(unit.cdr_type, &unit.window),
        layout::part_stem(&unit.window)
    );
    dest.clean_incomplete(&Leftovers::all(data)).await
}

/// Deletes the visible files earlier attempts at the job's unit left: all of
/// the unit's files for a first archive (generation 0), those of the job's
/// own generation for a replacement.
pub(super) async fn remove_stale_files(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
) -> Result<(), UnitError> {
    let (unit, generation) = (&job.unit, job.generation);
    let partition = layout::partition(unit.cdr_type, &unit.window);
    for meta in ctx.dest.list(&partition).await? {
        let stale = match layout::generation_of(&meta.key, unit.cdr_type, &unit.window) {
            Some(g) => generation == 0 || g == generation,
            None => false,
        };
        if stale {
            job.claim.check()?;
            debug!("removing {} left by an unfinished attempt", meta.key);
            ctx.dest.delete(&meta.key).await?;
        }
    }
    Ok(())
}
