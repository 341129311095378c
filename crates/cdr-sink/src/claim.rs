//! Claims: many runs, one archive, no coordinator but the store.
//!
//! Before a run touches a unit (type x window) it claims it: it creates
//! `_cdr_sink/claims/cdr_type=<t>/<window>.json` with a create-only write
//! ([`Precondition::Absent`]: S3 `If-None-Match: *`, a locked `O_EXCL`-style
//! write locally). The document names the owner (host, pid, run id) and the
//! lease. Whoever loses the create backs off: the unit belongs to someone else.
//!
//! - **Time** comes from one clock, the store's ([`Destination::now`]): a claim
//!   has expired when the store's time is past its last write
//!   ([`Versioned::modified`]) plus its lease plus a margin. Two machines'
//!   wall clocks are never compared.
//! - **Renewal**: the owner rewrites the claim every third of its lease with a
//!   compare-and-swap on the version it wrote last. A failed swap means the
//!   claim was taken over: the claim is lost for good.
//! - **Take-over**: an expired claim is replaced with a compare-and-swap on the
//!   version that was read, so of several runs that find it expired, one wins.
//! - **Fencing**: before each irreversible step (committing a file, writing the
//!   ledger entry, deleting a file) the owner calls [`Claim::check`]. It
//!   passes only while the claim is not lost and the owner's own lease,
//!   counted on its local monotonic clock from the moment it *sent* its last
//!   successful write, has at least the margin left. Others may take over only
//!   a margin after the lease ended by the store's clock, which cannot be
//!   earlier than that send, so the two never overlap unless a process stalls
//!   for longer than the margin between a check and the step it guards. The
//!   ledger entry is written conditionally as well (create-only, or a
//!   compare-and-swap on the entry read under the claim), so even then a late
//!   owner cannot overwrite a newer result.
//! - **Release**: a conditional delete on the claim's version after the
//!   ledger entry is written (or after the unit failed), so the next run needs
//!   no lease to expire.
//!
//! Where each part lives:
//! - `lease`: how long a claim lasts (the default, the shortest accepted,
//!   the margin around it);
//! - `doc`: the claim document and the owner it names;
//! - `acquire`: claiming a unit, or taking over an expired claim;
//! - `held`: a claim held: renewed, checked before each irreversible step
//!   (fencing) and released;
//! - `settle`: releases of dropped claims still on their way to the store;
//! - `probe`: whether a store enforces the conditional writes all this
//!   rests on;
//! - `listing`: every claim under an archive, for `status` and for removing
//!   the expired ones.
//!
//! [`Precondition::Absent`]: cdr_sink_api::Precondition::Absent
//! [`Destination::now`]: cdr_sink_api::Destination::now
//! [`Versioned::modified`]: cdr_sink_api::Versioned::modified

mod acquire;
mod doc;
mod held;
pub(crate) mod lease;
mod listing;
mod probe;
mod settle;

pub use acquire::{Acquired, Busy, Claims};
pub use doc::{CLAIM_VERSION, ClaimDoc, Owner};
pub use held::{Claim, ClaimLost};
pub use lease::{DEFAULT_LEASE, MIN_LEASE};
pub use listing::{LiveClaim, list, remove_expired};
pub use probe::{ProbeError, probe};
pub use settle::settle_releases;

#[cfg(test)]
mod tests;
