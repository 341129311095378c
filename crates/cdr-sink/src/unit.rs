//! One unit of work (one type over one window): stream its pages into files,
//! commit the files, then write its ledger entry.
//!
//! Exactly once rests on four rules:
//! 1. every file of the unit stays an uncommitted upload (hidden temporary file,
//!    or incomplete multipart upload) until the last page has been fetched and
//!    encoded; then they are committed in order;
//! 2. the ledger entry is written after the last commit, conditionally
//!    (create-only for a first archive, a compare-and-swap on the entry that
//!    is replaced), and only a unit with a ledger entry is finished;
//! 3. before a unit is (re)done, every visible file of that unit left by an
//!    earlier attempt that crashed between commits is deleted, and names are a
//!    pure function of the unit, so nothing stale survives;
//! 4. all of it happens under the unit's [`Claim`], checked before every step
//!    that cannot be undone, so no two runs work on one unit at once.
//!
//! Nothing is dropped silently: records of a union member this version cannot
//! store fail the unit (or, with `--on-unknown skip`, are counted in the
//! ledger), and a value that cannot be stored fails it too (or, with
//! `--on-bad-record quarantine`, goes to a quarantine file beside the ledger).
//!
//! Where each part lives:
//! - `job`: what a unit is run with ([`UnitContext`], [`UnitJob`], [`FetchSlot`]);
//! - `error`: why a unit fails ([`UnitError`]);
//! - `cleanup`: what earlier attempts left (uploads, visible files);
//! - `files`: the uploads a unit is writing, uncommitted until its end;
//! - `write`: the page loop: fetch, check, encode, roll and seal files;
//! - `fingerprint`: what the page loop learns of the records (kind, datetime
//!   range, content hash);
//! - `quarantine`: records that cannot be stored, kept aside;
//! - `cpu`: the threads that do the CPU work of encoding, off the runtime;
//! - `commit`: the files committed in order, then the ledger entry.
//!
//! [`Claim`]: crate::claim::Claim

mod cleanup;
mod commit;
mod cpu;
mod error;
mod files;
mod fingerprint;
mod job;
mod quarantine;
mod write;

pub use cleanup::clean_leftovers;
pub use error::UnitError;
pub use job::{DEFAULT_PREFETCH, FetchSlot, Fetching, UnitContext, UnitJob};

use tracing::{Instrument, info_span};

use crate::ledger::UnitEntry;

/// Runs one unit to its ledger entry (see [`UnitJob`]). Generation 0 is a
/// unit's first archive: every file of the unit left visible by an earlier
/// attempt is removed first. A later generation replaces a finished unit's
/// files (see [`crate::rescan`]): only files of that same generation are
/// removed first, the finished generation stays until the new ledger entry is
/// written.
pub async fn run_unit(ctx: &UnitContext, job: UnitJob<'_>) -> Result<UnitEntry, UnitError> {
    let unit = job.unit;
    let span = info_span!("unit", cdr_type = %unit.cdr_type, window = %unit.window);
    let work = async {
        let mut files = files::Files::default();
        match write::write_files(ctx, &job, &mut files).await {
            Ok(stats) => commit::commit(ctx, &job, files, stats).await,
            Err(e) => {
                files.abort_all().await;
                Err(e)
            }
        }
    }
    .instrument(span);
    work.await
}
