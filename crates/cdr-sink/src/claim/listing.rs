//! Every claim under an archive at once: listed for `status` ([`list`]),
//! and the expired ones removed at a run's start ([`remove_expired`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::info;

use cdr_core::CdrType;
use cdr_sink_api::{Destination, StoreError};

use super::doc::{ClaimDoc, Owner};
use super::lease::{DEFAULT_LEASE, margin_of};
use crate::layout;

/// Deletes the claims of `types` whose lease has expired: their owners are
/// gone, and a later claim would take them over anyway. Each delete is
/// conditional on the version read, so a claim renewed or taken over
/// meanwhile stays. Returns how many went.
pub async fn remove_expired(dest: &dyn Destination, types: &[CdrType]) -> Result<u64, StoreError> {
    let mut n = 0;
    for &t in types {
        let listed = dest.list(&layout::claims_prefix(t)).await?;
        if listed.is_empty() {
            continue;
        }
        let now = dest.now().await?;
        for meta in listed {
            let Some(current) = dest.get_versioned(&meta.key).await? else {
                continue;
            };
            let lease = serde_json::from_slice::<ClaimDoc>(&current.body)
                .map_or(DEFAULT_LEASE, |d| Duration::from_millis(d.lease_ms));
            if now < current.modified + lease + margin_of(lease) {
                continue;
            }
            match dest.delete_if(&meta.key, &current.version).await {
                Ok(()) => n += 1,
                Err(e) if e.is_precondition_failed() => {}
                Err(e) => return Err(e),
            }
        }
    }
    if n > 0 {
        info!("removed {n} expired claims of runs that were stopped");
    }
    Ok(n)
}

/// A claim as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveClaim {
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub owner: Option<Owner>,
    pub purpose: Option<String>,
    /// When it expires unless renewed, by the store's clock.
    pub expires: DateTime<Utc>,
    /// Whether that is already past (its owner is gone; the next run takes it over).
    pub expired: bool,
}

/// Every claim of type `t` under the archive.
pub async fn list(dest: &dyn Destination, t: CdrType) -> Result<Vec<LiveClaim>, StoreError> {
    let now = dest.now().await?;
    let mut out = Vec::new();
    for meta in dest.list(&layout::claims_prefix(t)).await? {
        let Some(window) = layout::window_of_record(&meta.key) else {
            continue;
        };
        let Some(current) = dest.get_versioned(&meta.key).await? else {
            continue;
        };
        let doc = serde_json::from_slice::<ClaimDoc>(&current.body).ok();
        let lease = doc
            .as_ref()
            .map_or(DEFAULT_LEASE, |d| Duration::from_millis(d.lease_ms));
        let expires = current.modified + lease + margin_of(lease);
        out.push(LiveClaim {
            cdr_type: t,
            window_start: window.start(),
            window_end: window.end(),
            purpose: doc.as_ref().map(|d| d.purpose.clone()),
            owner: doc.map(|d| d.owner),
            expires: DateTime::<Utc>::from(expires),
            expired: now >= expires,
        });
    }
    Ok(out)
}
