//! A claim held by this run: renewed in the background every third of its
//! lease (a compare-and-swap on the version it wrote last), checked before
//! every irreversible step ([`Claim::check`], the fencing), and released with
//! a conditional delete when the unit is done or dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError, Version};

use super::doc::{ClaimDoc, JSON, Owner, encode};
use super::lease::margin_of;
use super::settle::PendingRelease;
use crate::plan::Unit;

/// Why a claim no longer protects its unit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the claim on {unit} is no longer ours ({reason}): stopped before changing anything more")]
pub struct ClaimLost {
    pub unit: String,
    pub reason: String,
}

/// What a held claim and its renewal task share.
struct ClaimState {
    unit: String,
    key: ObjectKey,
    version: Mutex<Version>,
    /// The end of the owner's lease by its own monotonic clock, less the margin.
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
    lost_reason: Mutex<String>,
    renewals: AtomicU64,
    released: AtomicBool,
    /// Who holds it, to recognise our own write of it.
    owner: Owner,
}

impl ClaimState {
    fn lose(&self, reason: String) {
        if !self.lost.swap(true, Ordering::SeqCst) {
            warn!("{}: claim lost ({reason})", self.unit);
            *self.lost_reason.lock().unwrap_or_else(|p| p.into_inner()) = reason;
        }
    }
}

/// Renews the claim every third of its lease until the task is stopped or
/// the claim is lost.
async fn renew(
    dest: Arc<dyn Destination>,
    state: Arc<ClaimState>,
    mut doc: ClaimDoc,
    lease: Duration,
    margin: Duration,
) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        doc.renewals += 1;
        let current = state
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let sent = Instant::now();
        match dest
            .put_if(
                &state.key,
                encode(&doc),
                JSON,
                &Precondition::Matches(current),
            )
            .await
        {
            Ok(version) => {
                *state.version.lock().unwrap_or_else(|p| p.into_inner()) = version;
                *state.valid_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    sent + lease.saturating_sub(margin);
                state.renewals.fetch_add(1, Ordering::Relaxed);
                debug!("{}: claim renewed", state.unit);
            }
            Err(e) if e.is_precondition_failed() => {
                state.lose("another run took it over".into());
                return;
            }
            // The lease may still be renewed at the next tick; meanwhile
            // `check` counts down the last successful one.
            Err(e) => warn!("{}: could not renew the claim: {e}", state.unit),
        }
    }
}

/// A unit claimed by this run. Dropping it stops the renewals and releases
/// the claim in the background (best effort; an unreleased claim expires).
pub struct Claim {
    dest: Arc<dyn Destination>,
    state: Arc<ClaimState>,
    pub(super) renewer: tokio::task::JoinHandle<()>,
    /// Counted from acquisition until the release reached the store, so that
    /// a stopped run also waits for claims of tasks that are aborted but not
    /// dropped yet ([`super::settle_releases`]).
    held: Option<PendingRelease>,
}

impl Claim {
    /// Holds the claim on `unit` just written at `version` (the write sent at
    /// `sent`), and renews it every third of `lease` until it is released.
    pub(super) fn start(
        dest: Arc<dyn Destination>,
        unit: &Unit,
        key: ObjectKey,
        doc: ClaimDoc,
        version: Version,
        sent: Instant,
        lease: Duration,
    ) -> Claim {
        let margin = margin_of(lease);
        let state = Arc::new(ClaimState {
            unit: format!("{} {}", unit.cdr_type, unit.window),
            key,
            version: Mutex::new(version),
            valid_until: Mutex::new(sent + lease.saturating_sub(margin)),
            lost: AtomicBool::new(false),
            lost_reason: Mutex::new(String::new()),
            renewals: AtomicU64::new(0),
            released: AtomicBool::new(false),
            owner: doc.owner.clone(),
        });
        let renewer = tokio::spawn(renew(dest.clone(), state.clone(), doc, lease, margin));
        Claim {
            dest,
            state,
            renewer,
            held: Some(PendingRelease::start()),
        }
    }

    /// Passes while the claim is ours with room to spare: call it before
    /// every step that cannot be undone.
    pub fn check(&self) -> Result<(), ClaimLost> {
        let lost = |reason: String| ClaimLost {
            unit: self.state.unit.clone(),
            reason,
        };
        if self.state.lost.load(Ordering::SeqCst) {
            let reason = self
                .state
                .lost_reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return Err(lost(reason));
        }
        let until = *self
            .state
            .valid_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if Instant::now() >= until {
            self.state
                .lose("its lease ran out before it could be renewed".into());
            return Err(lost("its lease ran out before it could be renewed".into()));
        }
        Ok(())
    }

    /// Renewals done so far.
    pub fn renewals(&self) -> u64 {
        self.state.renewals.load(Ordering::Relaxed)
    }

    /// Stops renewing and deletes the claim if it is still ours.
    pub async fn release(self) {
        self.renewer.abort();
        self.state.released.store(true, Ordering::SeqCst);
        release(self.dest.as_ref(), &self.state).await;
    }
}

async fn release(dest: &dyn Destination, state: &ClaimState) {
    if state.lost.load(Ordering::SeqCst) {
        return;
    }
    let version = state
        .version
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut result = dest.delete_if(&state.key, &version).await;
    if result
        .as_ref()
        .is_err_and(StoreError::is_precondition_failed)
    {
        // A renewal stopped by the release after it was sent may still have
        // been written: a claim that still names this owner is ours, at the
        // version that renewal wrote (it was the last one).
        if let Ok(Some(current)) = dest.get_versioned(&state.key).await
            && serde_json::from_slice::<ClaimDoc>(&current.body)
                .is_ok_and(|doc| doc.owner == state.owner)
        {
            result = dest.delete_if(&state.key, &current.version).await;
        }
    }
    match result {
        Ok(()) => debug!("{}: claim released", state.unit),
        Err(e) if e.is_precondition_failed() => {
            debug!("{}: claim was taken over before its release", state.unit)
        }
        Err(e) => warn!(
            "{}: could not release the claim ({e}); it expires with its lease",
            state.unit
        ),
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.renewer.abort();
        if self.state.released.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (dest, state) = (self.dest.clone(), self.state.clone());
            let pending = self.held.take();
            runtime.spawn(async move {
                release(dest.as_ref(), &state).await;
                drop(pending);
            });
        }
    }
}
