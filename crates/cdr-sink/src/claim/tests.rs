//! The claim protocol on an in-memory store whose clock is tokio's (paused),
//! so leases expire in simulated time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use cdr_core::{CdrType, Window, parse_datetime};
use cdr_sink_api::memory::MemoryDir;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

use super::*;
use crate::plan::Unit;

const LEASE: Duration = Duration::from_secs(30);

/// A store on tokio's clock: paused in these tests, so time moves only when
/// every task waits.
fn store() -> Arc<MemoryDir> {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_025_600);
    let start = tokio::time::Instant::now();
    Arc::new(MemoryDir::with_clock(
        "claims",
        Arc::new(move || base + start.elapsed()),
    ))
}

fn unit() -> Unit {
    Unit {
        cdr_type: CdrType::Sms,
        window: Window::new(
            parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            parse_datetime("2026-11-01T01:00:00Z").unwrap(),
        )
        .unwrap(),
    }
}

fn owner(name: &str) -> Owner {
    Owner {
        host: "test".into(),
        pid: 1,
        run_id: name.into(),
    }
}

fn claims(dest: &Arc<MemoryDir>, name: &str) -> Claims {
    Claims::new(dest.clone(), owner(name), LEASE)
}

async fn owned(c: &Claims) -> Claim {
    match c.acquire(&unit(), "archive").await.unwrap() {
        Acquired::Owned(claim) => claim,
        Acquired::Busy(b) => panic!("busy: {b:?}"),
    }
}

async fn busy(c: &Claims) -> Busy {
    match c.acquire(&unit(), "archive").await.unwrap() {
        Acquired::Owned(_) => panic!("claimed a unit someone else holds"),
        Acquired::Busy(b) => b,
    }
}

#[tokio::test(start_paused = true)]
async fn a_claim_excludes_others_until_released() {
    let dest = store();
    let (a, b) = (claims(&dest, "a"), claims(&dest, "b"));
    let claim = owned(&a).await;
    let seen = busy(&b).await;
    assert_eq!(seen.owner, Some(owner("a")));
    assert!(seen.expires_in > LEASE && seen.expires_in <= LEASE + a.margin());
    claim.check().unwrap();
    claim.release().await;
    assert!(dest.keys().is_empty(), "the release deletes the claim");
    let _ = owned(&b).await;
}

#[tokio::test(start_paused = true)]
async fn renewals_keep_a_claim_for_as_long_as_its_owner_lives() {
    let dest = store();
    let (a, b) = (claims(&dest, "a"), claims(&dest, "b"));
    let claim = owned(&a).await;
    for _ in 0..10 {
        tokio::time::sleep(LEASE).await;
        claim.check().unwrap();
        busy(&b).await;
    }
    assert!(claim.renewals() >= 25, "{} renewals", claim.renewals());
}

/// A store whose conditional writes from one owner can be switched off, as
/// for a process that stalls or loses its network.
#[derive(Debug)]
struct Partitioned {
    inner: Arc<MemoryDir>,
    cut: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Destination for Partitioned {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.inner.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        self.inner.begin(key, ct).await
    }
    async fn put(&self, key: &ObjectKey, body: Bytes, ct: &str) -> Result<ObjectMeta, StoreError> {
        self.inner.put(key, body, ct).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.inner.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.inner.clean_incomplete(which).await
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        ct: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        if self.cut.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Remote {
                operation: "put",
                location: key.to_string(),
                message: "connection refused".into(),
                retryable: true,
            });
        }
        self.inner.put_if(key, body, ct, precondition).await
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.inner.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.inner.delete_if(key, version).await
    }
    async fn now(&self) -> Result<SystemTime, StoreError> {
        self.inner.now().await
    }
}

#[tokio::test(start_paused = true)]
async fn an_owner_that_cannot_renew_stops_before_anyone_takes_over() {
    let dest = store();
    let cut_off = Arc::new(Partitioned {
        inner: dest.clone(),
        cut: false.into(),
    });
    let a = Claims::new(cut_off.clone(), owner("a"), LEASE);
    let b = claims(&dest, "b");
    let claim = owned(&a).await;
    cut_off.cut.store(true, std::sync::atomic::Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    // Step through the lease a second at a time: the owner's checks fail
    // strictly before the other run can take the unit over.
    let mut fenced_at = None;
    let mut taken_at = None;
    while taken_at.is_none() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if fenced_at.is_none() && claim.check().is_err() {
            fenced_at = Some(start.elapsed());
        }
        if let Acquired::Owned(c) = b.acquire(&unit(), "archive").await.unwrap() {
            taken_at = Some(start.elapsed());
            std::mem::forget(c);
        }
        assert!(start.elapsed() < 3 * LEASE, "never taken over");
    }
    let (fenced, taken) = (fenced_at.unwrap(), taken_at.unwrap());
    assert!(
        fenced < taken,
        "fenced at {fenced:?}, taken over at {taken:?}"
    );
    assert!(fenced <= LEASE, "{fenced:?}");
    assert!(taken >= LEASE + a.margin(), "{taken:?}");
    // The old owner comes back: its checks keep failing and its release
    // leaves the new owner's claim alone.
    cut_off
        .cut
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(claim.check().is_err());
    claim.release().await;
    assert_eq!(busy(&claims(&dest, "c")).await.owner, Some(owner("b")));
}

#[tokio::test(start_paused = true)]
async fn of_several_runs_that_find_a_claim_expired_exactly_one_takes_it() {
    let dest = store();
    let dead = claims(&dest, "dead");
    let claim = owned(&dead).await;
    // A killed process: no renewal, no release.
    claim.renewer.abort();
    std::mem::forget(claim);
    tokio::time::sleep(LEASE * 2).await;
    let u = unit();
    let runs: Vec<Claims> = (0..6).map(|i| claims(&dest, &format!("r{i}"))).collect();
    let attempts =
        futures_util::future::join_all(runs.iter().map(|c| c.acquire(&u, "archive"))).await;
    let mut winners = Vec::new();
    for a in attempts {
        if let Acquired::Owned(c) = a.unwrap() {
            winners.push(c);
        }
    }
    assert_eq!(winners.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_ignores_conditions_is_refused_by_the_probe() {
    let dest = store();
    probe(dest.as_ref(), &owner("p")).await.unwrap();
    assert!(dest.keys().is_empty(), "the probe leaves nothing behind");

    let careless = Arc::new(Careless(dest.clone()));
    let err = probe(careless.as_ref(), &owner("p")).await.unwrap_err();
    assert!(matches!(err, ProbeError::IgnoresCreateOnly { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("memory:claims") && text.contains("If-None-Match"),
        "{text}"
    );
    assert!(dest.keys().is_empty(), "the probe leaves nothing behind");
}

#[tokio::test(start_paused = true)]
async fn live_claims_are_listed_with_their_owner_and_expiry() {
    let dest = store();
    let claim = owned(&claims(&dest, "a")).await;
    let listed = list(dest.as_ref(), CdrType::Sms).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].owner, Some(owner("a")));
    assert!(!listed[0].expired);
    assert_eq!(listed[0].window_start, unit().window.start());
    claim.renewer.abort();
    tokio::time::sleep(LEASE * 2).await;
    assert!(list(dest.as_ref(), CdrType::Sms).await.unwrap()[0].expired);
}

/// A store that writes whatever it is told, ignoring preconditions.
#[derive(Debug)]
struct Careless(Arc<MemoryDir>);

#[async_trait]
impl Destination for Careless {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.0.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        self.0.begin(key, ct).await
    }
    async fn put(&self, key: &ObjectKey, body: Bytes, ct: &str) -> Result<ObjectMeta, StoreError> {
        self.0.put(key, body, ct).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.0.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.0.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.0.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.0.clean_incomplete(which).await
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        ct: &str,
        _: &Precondition,
    ) -> Result<Version, StoreError> {
        self.0.put(key, body, ct).await?;
        Ok(self
            .0
            .get_versioned(key)
            .await?
            .map(|v| v.version)
            .unwrap_or(Version::new("")))
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.0.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, _: &Version) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn now(&self) -> Result<SystemTime, StoreError> {
        self.0.now().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_claim_is_released_by_the_time_releases_settle() {
    let dest = store();
    let a = claims(&dest, "a");
    let claim = owned(&a).await;
    // A run stopped by a signal drops its units: the release goes on in a
    // task of its own, which has not run yet...
    drop(claim);
    assert!(
        dest.keys().iter().any(|k| k.as_str().contains("claims/")),
        "{:?}",
        dest.keys()
    );
    // ...and has reached the store once the releases have settled.
    settle_releases(Duration::from_secs(10)).await;
    assert!(dest.keys().is_empty(), "{:?}", dest.keys());
    let _ = owned(&claims(&dest, "b")).await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_of_an_aborted_task_is_released_by_the_time_releases_settle() {
    let dest = store();
    let a = claims(&dest, "a");
    // A stopped run's units are aborted tasks: their claims are dropped only
    // when the runtime gets to them, after the wait for releases has begun.
    let unit = tokio::spawn(async move {
        let _claim = owned(&a).await;
        std::future::pending::<()>().await;
    });
    tokio::task::yield_now().await;
    while !dest.keys().iter().any(|k| k.as_str().contains("claims/")) {
        tokio::task::yield_now().await;
    }
    unit.abort();
    settle_releases(Duration::from_secs(10)).await;
    assert!(dest.keys().is_empty(), "{:?}", dest.keys());
}
