//! The lease of a claim: how long a claim lasts without renewal, by default
//! and at the least, and the safety margin around it. Below the plan, which
//! checks `--lease` against them, and the claims, which count time with them.

use std::time::Duration;

/// The default `--lease`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

/// The shortest lease accepted: renewals every third of it must get through
/// with room to spare.
pub const MIN_LEASE: Duration = Duration::from_secs(3);

/// The safety margin around a lease: a fifth of it, at least a second (S3
/// gives times to the second).
pub(super) fn margin_of(lease: Duration) -> Duration {
    (lease / 5).max(Duration::from_secs(1))
}
