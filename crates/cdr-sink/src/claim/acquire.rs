//! Claiming a unit: a create-only write of the claim document, or, when the
//! claim found has expired by the store's clock, a compare-and-swap that
//! takes it over. Of several runs that try at once, one wins; the others
//! learn who holds the unit and until when ([`Busy`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::info;

use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError, Version};

use super::doc::{CLAIM_VERSION, ClaimDoc, JSON, Owner, encode};
use super::held::Claim;
use super::lease::{MIN_LEASE, margin_of};
use crate::layout;
use crate::plan::Unit;

/// A claim someone else holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// The owner, when the claim was readable.
    pub owner: Option<Owner>,
    /// When the claim expires if its owner stops renewing it, by the store's clock.
    pub expires: SystemTime,
    /// How long from now that is.
    pub expires_in: Duration,
}

/// The outcome of [`Claims::acquire`].
pub enum Acquired {
    Owned(Claim),
    Busy(Busy),
}

/// Claims of one run on one archive.
pub struct Claims {
    dest: Arc<dyn Destination>,
    owner: Owner,
    lease: Duration,
}

impl Claims {
    /// Claims held by `owner` for `lease` at a time.
    pub fn new(dest: Arc<dyn Destination>, owner: Owner, lease: Duration) -> Claims {
        Claims {
            dest,
            owner,
            lease: lease.max(MIN_LEASE),
        }
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The safety margin around a lease: a fifth of it, at least a second
    /// (S3 gives times to the second).
    pub fn margin(&self) -> Duration {
        margin_of(self.lease)
    }

    /// Claims `unit` for `purpose` (`archive`, `replace`), taking over a
    /// claim whose lease has expired.
    pub async fn acquire(&self, unit: &Unit, purpose: &str) -> Result<Acquired, StoreError> {
        let key = layout::claim_key(unit.cdr_type, &unit.window)?;
        let doc = ClaimDoc {
            claim_version: CLAIM_VERSION,
            cdr_type: unit.cdr_type,
            window_start: unit.window.start(),
            window_end: unit.window.end(),
            owner: self.owner.clone(),
            lease_ms: self.lease.as_millis() as u64,
            renewals: 0,
            purpose: purpose.to_string(),
        };
        // A claim released between our create and our read is tried again; a
        // few rounds settle any race.
        for _ in 0..4 {
            let sent = Instant::now();
            match self
                .dest
                .put_if(&key, encode(&doc), JSON, &Precondition::Absent)
                .await
            {
                Ok(version) => {
                    return Ok(Acquired::Owned(self.owned(unit, key, doc, version, sent)));
                }
                Err(e) if e.is_precondition_failed() => {}
                Err(e) => return Err(e),
            }
            let Some(current) = self.dest.get_versioned(&key).await? else {
                continue;
            };
            let now = self.dest.now().await?;
            let theirs = serde_json::from_slice::<ClaimDoc>(&current.body).ok();
            let lease = theirs
                .as_ref()
                .map_or(self.lease, |d| Duration::from_millis(d.lease_ms));
            let expires = current.modified + lease + margin_of(lease);
            if now < expires {
                return Ok(Acquired::Busy(Busy {
                    owner: theirs.map(|d| d.owner),
                    expires,
                    expires_in: expires.duration_since(now).unwrap_or_default(),
                }));
            }
            let sent = Instant::now();
            match self
                .dest
                .put_if(
                    &key,
                    encode(&doc),
                    JSON,
                    &Precondition::Matches(current.version.clone()),
                )
                .await
            {
                Ok(version) => {
                    match &theirs {
                        Some(d) => info!(
                            "{} {}: took over the expired claim of {}",
                            unit.cdr_type, unit.window, d.owner
                        ),
                        None => info!(
                            "{} {}: took over an expired, unreadable claim",
                            unit.cdr_type, unit.window
                        ),
                    }
                    return Ok(Acquired::Owned(self.owned(unit, key, doc, version, sent)));
                }
                Err(e) if e.is_precondition_failed() => continue,
                Err(e) => return Err(e),
            }
        }
        // Every round lost a race: someone else is busy with this unit.
        let now = self.dest.now().await?;
        Ok(Acquired::Busy(Busy {
            owner: None,
            expires: now + self.lease,
            expires_in: self.lease,
        }))
    }

    fn owned(
        &self,
        unit: &Unit,
        key: ObjectKey,
        doc: ClaimDoc,
        version: Version,
        sent: Instant,
    ) -> Claim {
        Claim::start(self.dest.clone(), unit, key, doc, version, sent, self.lease)
    }
}
