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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use cdr_core::CdrType;
use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError, Version, Versioned};

use crate::layout;
use crate::plan::Unit;

pub(crate) mod lease;

use lease::margin_of;
pub use lease::{DEFAULT_LEASE, MIN_LEASE};

/// Version of the claim document written.
pub const CLAIM_VERSION: u32 = 1;

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    /// Random, different for every run.
    pub run_id: String,
}

impl Owner {
    /// This process, with a fresh random run id.
    pub fn this_process() -> Owner {
        let mut id = [0u8; 8];
        // Without the system's randomness, the time and pid still tell runs apart.
        if getrandom::fill(&mut id).is_err() {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            id = (nanos ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        Owner {
            host: host_name(),
            pid: std::process::id(),
            run_id: crate::hex::hex(&id),
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} pid {} (run {})", self.host, self.pid, self.run_id)
    }
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if name.is_empty() {
        "unknown-host".into()
    } else {
        name
    }
}

/// What a claim object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDoc {
    pub claim_version: u32,
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub owner: Owner,
    /// The lease, in milliseconds, counted from the claim's last write.
    pub lease_ms: u64,
    /// Writes of this claim by its owner so far (each renewal adds one, so
    /// that every write has new bytes and so a new version).
    pub renewals: u64,
    /// What the owner does: `archive` or `replace`.
    pub purpose: String,
}

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

/// Why a claim no longer protects its unit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the claim on {unit} is no longer ours ({reason}): stopped before changing anything more")]
pub struct ClaimLost {
    pub unit: String,
    pub reason: String,
}

/// A store that does not enforce conditional writes cannot coordinate runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    #[error(
        "{store} ignored a create-only write (If-None-Match): cdr-sink coordinates runs with conditional writes and cannot use this store safely; use a store that supports them (AWS S3, recent MinIO) or another --out"
    )]
    IgnoresCreateOnly { store: String },
    #[error(
        "{store} ignored a compare-and-swap write (If-Match): cdr-sink coordinates runs with conditional writes and cannot use this store safely; use a store that supports them (AWS S3, recent MinIO) or another --out"
    )]
    IgnoresCompareAndSwap { store: String },
    #[error("probing {store} for conditional writes: {source}")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
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
        let state = Arc::new(ClaimState {
            unit: format!("{} {}", unit.cdr_type, unit.window),
            key,
            version: Mutex::new(version),
            valid_until: Mutex::new(sent + self.lease.saturating_sub(self.margin())),
            lost: AtomicBool::new(false),
            lost_reason: Mutex::new(String::new()),
            renewals: AtomicU64::new(0),
            released: AtomicBool::new(false),
            owner: doc.owner.clone(),
        });
        let renewer = tokio::spawn(renew(
            self.dest.clone(),
            state.clone(),
            doc,
            self.lease,
            self.margin(),
        ));
        Claim {
            dest: self.dest.clone(),
            state,
            renewer,
        }
    }
}

const JSON: &str = "application/json";

fn encode(doc: &ClaimDoc) -> Bytes {
    // A struct of strings and numbers always serialises.
    Bytes::from(serde_json::to_vec_pretty(doc).unwrap_or_default())
}

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
    renewer: tokio::task::JoinHandle<()>,
}

impl Claim {
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
            let pending = PendingRelease::start();
            runtime.spawn(async move {
                release(dest.as_ref(), &state).await;
                drop(pending);
            });
        }
    }
}

/// Releases of dropped claims still on their way to the store, in this
/// process.
static RELEASES: ReleaseCount = ReleaseCount {
    pending: std::sync::atomic::AtomicUsize::new(0),
    done: tokio::sync::Notify::const_new(),
};

struct ReleaseCount {
    pending: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

/// One release in flight: counted while it lives.
struct PendingRelease;

impl PendingRelease {
    fn start() -> PendingRelease {
        RELEASES.pending.fetch_add(1, Ordering::SeqCst);
        PendingRelease
    }
}

impl Drop for PendingRelease {
    fn drop(&mut self) {
        if RELEASES.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            RELEASES.done.notify_waiters();
        }
    }
}

/// Waits, at most `limit`, until the releases of dropped claims have reached
/// the store. A run stopped by a signal drops its units; this lets their
/// claims go before the process exits, so that the next run need not wait
/// for their leases to expire. A release that does not make it in time only
/// leaves its claim to expire.
pub async fn settle_releases(limit: Duration) {
    let wait = async {
        loop {
            let done = RELEASES.done.notified();
            if RELEASES.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    };
    let _ = tokio::time::timeout(limit, wait).await;
}

/// Checks that `dest` enforces conditional writes: a create-only write done
/// twice must be refused the second time, and a compare-and-swap on a wrong
/// version too. Writes and removes one object under `_cdr_sink/probe/`.
pub async fn probe(dest: &dyn Destination, owner: &Owner) -> Result<(), ProbeError> {
    let store = dest.describe();
    let failed = |source| ProbeError::Store {
        store: store.clone(),
        source,
    };
    let key = layout::probe_key(&owner.run_id).map_err(|e| failed(e.into()))?;
    let body = || Bytes::from(format!("{{\"owner\":\"{}\"}}", owner.run_id));
    let first = dest
        .put_if(&key, body(), JSON, &Precondition::Absent)
        .await
        .map_err(failed)?;
    let outcome = async {
        match dest.put_if(&key, body(), JSON, &Precondition::Absent).await {
            Ok(_) => {
                return Err(ProbeError::IgnoresCreateOnly {
                    store: store.clone(),
                });
            }
            Err(e) if e.is_precondition_failed() => {}
            Err(e) => return Err(failed(e)),
        }
        let wrong = Precondition::Matches(Version::new(format!("\"{}-not-it\"", first)));
        match dest.put_if(&key, body(), JSON, &wrong).await {
            Ok(_) => Err(ProbeError::IgnoresCompareAndSwap {
                store: store.clone(),
            }),
            Err(e) if e.is_precondition_failed() => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
    .await;
    // The probe goes whatever the outcome (a store that ignored the
    // conditions may have changed its version: delete unconditionally).
    let removed = dest.delete(&key).await.map_err(failed);
    outcome?;
    removed?;
    clean_old_probes(dest).await;
    Ok(())
}

/// A probe older than this was left by a killed run: a live run removes its
/// own within a few requests.
const STALE_PROBE: Duration = Duration::from_secs(600);

/// Removes probes left by runs killed in the middle of theirs.
async fn clean_old_probes(dest: &dyn Destination) {
    let Ok(listed) = dest.list(&layout::probe_prefix()).await else {
        return;
    };
    let Ok(now) = dest.now().await else {
        return;
    };
    for meta in listed {
        if let Ok(Some(Versioned { modified, .. })) = dest.get_versioned(&meta.key).await
            && now.duration_since(modified).unwrap_or_default() > STALE_PROBE
        {
            let _ = dest.delete(&meta.key).await;
        }
    }
}

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

#[cfg(test)]
mod tests;
