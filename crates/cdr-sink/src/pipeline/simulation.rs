//! A deterministic simulation of many runs on one archive: two or three runs
//! of one plan interleave on an in-memory store whose clock is tokio's
//! (paused), each of them killed at a random store operation or stalled at
//! random ones. After every change to the store, the ledger must name only
//! files that exist with their recorded bytes; once the runs are over and
//! their leases have expired, one plain run must end with every record
//! exactly once and nothing left behind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use cdr_sink_api::memory::MemoryDir;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

use super::tests::{Lines, Memory, options, plan, truth_lines};
use super::*;
use crate::claim::Owner;
use crate::ledger::UnitEntry;
use crate::plan::Concurrency;

const LEASE: Duration = Duration::from_secs(30);

/// One run's view of the shared store: it dies at its `die_at`-th change
/// (every later operation fails, and its unfinished uploads are forgotten,
/// as a SIGKILL leaves them), and stalls for up to `stall` before some
/// operations. After every change it checks the store's invariants.
#[derive(Debug)]
struct Chaos {
    store: Arc<MemoryDir>,
    die_at: u64,
    changes: AtomicU64,
    dead: AtomicBool,
    rng: AtomicU64,
    stall: Duration,
    violations: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Chaos {
    fn next(&self) -> u64 {
        // xorshift64*, one step per call.
        let mut x = self.rng.load(SeqCst);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, SeqCst);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    async fn before(&self) -> Result<(), StoreError> {
        if self.dead.load(SeqCst) {
            return Err(killed());
        }
        // Every operation takes a few (simulated) milliseconds, so that the
        // runs interleave operation by operation; some stall longer.
        let mut wait = Duration::from_micros(self.next() % 5_000);
        if !self.stall.is_zero() && self.next().is_multiple_of(4) {
            wait += Duration::from_nanos(self.next() % (self.stall.as_nanos() as u64).max(1));
        }
        tokio::time::sleep(wait).await;
        if self.dead.load(SeqCst) {
            return Err(killed());
        }
        Ok(())
    }

    async fn change(&self) -> Result<(), StoreError> {
        self.before().await?;
        if self.changes.fetch_add(1, SeqCst) + 1 == self.die_at {
            self.dead.store(true, SeqCst);
            return Err(killed());
        }
        Ok(())
    }

    async fn after(&self) {
        let problems = invariants(&self.store).await;
        if !problems.is_empty() {
            self.violations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(problems);
        }
    }
}

fn killed() -> StoreError {
    StoreError::Remote {
        operation: "anything",
        location: "simulation".into(),
        message: "the process was killed".into(),
        retryable: false,
    }
}

/// Every ledger entry names files that exist with its sizes and digests.
async fn invariants(store: &MemoryDir) -> Vec<String> {
    let mut problems = Vec::new();
    for key in store.keys() {
        if !key.as_str().starts_with("_cdr_sink/ledger/") {
            continue;
        }
        let Ok(Some(body)) = store.get(&key).await else {
            continue;
        };
        let Ok(entry) = serde_json::from_slice::<UnitEntry>(&body) else {
            problems.push(format!("{key}: unreadable ledger entry"));
            continue;
        };
        for f in &entry.files {
            let Ok(k) = ObjectKey::new(f.key.clone()) else {
                problems.push(format!("{key}: bad file key {}", f.key));
                continue;
            };
            match store.get(&k).await {
                Ok(Some(bytes)) => {
                    let digest = crate::hex::hex(&Sha256::digest(&bytes));
                    if bytes.len() as u64 != f.size || digest != f.sha256 {
                        problems.push(format!("{key} names {} with other bytes", f.key));
                    }
                }
                _ => problems.push(format!("{key} names the missing file {}", f.key)),
            }
        }
    }
    problems
}

struct ChaosUpload {
    inner: Option<Box<dyn Upload>>,
    dest: Arc<Chaos>,
}

#[async_trait]
impl Upload for ChaosUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.dest.before().await?;
        match self.inner.as_mut() {
            Some(u) => u.write(chunk).await,
            None => Err(killed()),
        }
    }
    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        let inner = self.inner.take().ok_or_else(killed)?;
        if let Err(e) = self.dest.change().await {
            // A killed process neither commits nor aborts.
            std::mem::forget(inner);
            return Err(e);
        }
        let meta = inner.commit().await;
        self.dest.after().await;
        meta
    }
    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        let inner = self.inner.take().ok_or_else(killed)?;
        if let Err(e) = self.dest.change().await {
            std::mem::forget(inner);
            return Err(e);
        }
        inner.abort().await
    }
}

/// The `Chaos` of one run, as a destination.
#[derive(Debug, Clone)]
struct ChaosDir(Arc<Chaos>);

macro_rules! changing {
    ($self:ident, $call:expr) => {{
        $self.0.change().await?;
        let out = $call.await;
        $self.0.after().await;
        out
    }};
}

#[async_trait]
impl Destination for ChaosDir {
    fn describe(&self) -> String {
        self.0.store.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.0.store.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.0.before().await
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        self.0.before().await?;
        Ok(Box::new(ChaosUpload {
            inner: Some(self.0.store.begin(key, ct).await?),
            dest: self.0.clone(),
        }))
    }
    async fn put(&self, key: &ObjectKey, body: Bytes, ct: &str) -> Result<ObjectMeta, StoreError> {
        changing!(self, self.0.store.put(key, body, ct))
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.0.before().await?;
        self.0.store.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.0.before().await?;
        self.0.store.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.0.before().await?;
        self.0.store.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        changing!(self, self.0.store.delete(key))
    }
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        changing!(self, self.0.store.rename(from, to))
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        changing!(self, self.0.store.clean_incomplete(which))
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        ct: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        changing!(self, self.0.store.put_if(key, body, ct, precondition))
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.0.before().await?;
        self.0.store.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        changing!(self, self.0.store.delete_if(key, version))
    }
    async fn now(&self) -> Result<SystemTime, StoreError> {
        self.0.before().await?;
        self.0.store.now().await
    }
}

/// The records every visible data file holds, one line each, sorted.
async fn visible_lines(store: &MemoryDir) -> Vec<String> {
    let mut lines = Vec::new();
    for key in store.keys() {
        if key.is_hidden() {
            continue;
        }
        if let Ok(Some(body)) = store.get(&key).await {
            lines.extend(String::from_utf8_lossy(&body).lines().map(str::to_string));
        }
    }
    lines.sort();
    lines
}

/// One run as the simulation configures it.
#[derive(Debug, Clone)]
struct RunSpec {
    /// Dies at this change (`None`: lives).
    die_at: Option<u64>,
    /// Stalls of up to this much before some operations.
    stall: Duration,
}

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        prop::option::weighted(0.8, 1u64..120),
        prop_oneof![
            Just(Duration::ZERO),
            (1u64..4000).prop_map(Duration::from_millis)
        ],
    )
        .prop_map(|(die_at, stall)| RunSpec { die_at, stall })
}

async fn scenario(seed: u64, specs: Vec<RunSpec>) {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_025_600);
    let start = tokio::time::Instant::now();
    let store = Arc::new(MemoryDir::with_clock(
        "sim",
        Arc::new(move || base + start.elapsed()),
    ));
    let mut p = plan("1h", 6);
    p.lease = LEASE;
    p.concurrency = Concurrency::Fixed(2);
    let src = Arc::new(Memory::new(25, 10));
    let violations = Arc::new(std::sync::Mutex::new(Vec::new()));

    let mut runs = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let chaos = ChaosDir(Arc::new(Chaos {
            store: store.clone(),
            die_at: spec.die_at.unwrap_or(u64::MAX),
            changes: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            rng: AtomicU64::new(seed.wrapping_mul(31).wrapping_add(i as u64) | 1),
            stall: spec.stall,
            violations: violations.clone(),
        }));
        let (p, src) = (p.clone(), src.clone());
        let mut opts = options(10);
        opts.owner = Owner {
            host: "sim".into(),
            pid: i as u32,
            run_id: format!("run{i}"),
        };
        runs.push(tokio::spawn(async move {
            // Runs start a little apart, by the seed.
            tokio::time::sleep(Duration::from_millis((seed >> (i * 8)) % 50)).await;
            let _ = archive(
                &p,
                src,
                Arc::new(chaos),
                Arc::new(Lines),
                opts,
                Progress::new(&p.types),
            )
            .await;
        }));
    }
    for r in runs {
        r.await.expect("a run panicked");
    }
    let found = violations.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(found.is_empty(), "invariants broken: {found:?}");

    // An hour later, when every lease has long expired: one plain run.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let s = archive(
        &p,
        src.clone(),
        store.clone(),
        Arc::new(Lines),
        options(10),
        Progress::new(&p.types),
    )
    .await
    .expect("the plain run starts");
    assert!(s.is_ok(), "{s}");
    assert_eq!(visible_lines(&store).await, truth_lines(&p, &src));
    let problems = invariants(&store).await;
    assert!(problems.is_empty(), "{problems:?}");
    let state: BTreeMap<String, usize> =
        store
            .keys()
            .iter()
            .filter(|k| k.is_hidden())
            .fold(BTreeMap::new(), |mut m, k| {
                let area = k.as_str().split('/').take(2).collect::<Vec<_>>().join("/");
                *m.entry(area).or_default() += 1;
                m
            });
    assert_eq!(
        state.keys().map(String::as_str).collect::<Vec<_>>(),
        ["_cdr_sink/ledger"],
        "bookkeeping left behind: {state:?}"
    );
    assert_eq!(state["_cdr_sink/ledger"], p.units.len());
    assert!(
        store.pending_uploads().is_empty(),
        "unfinished uploads left: {:?}",
        store.pending_uploads()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn interleaved_runs_that_crash_or_stall_never_lose_or_double_a_record(
        seed in any::<u64>(),
        specs in prop::collection::vec(run_spec(), 2..=3),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(scenario(seed, specs));
    }
}

#[test]
fn two_healthy_runs_share_the_work_and_fetch_each_unit_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Arc::new(MemoryDir::new("share"));
        let mut p = plan("1h", 8);
        p.lease = LEASE;
        p.concurrency = Concurrency::Fixed(2);
        let src = Arc::new(Memory::new(25, 10));
        let mut runs = Vec::new();
        for i in 0..2 {
            let (p, src, store) = (p.clone(), src.clone(), store.clone());
            let mut opts = options(10);
            opts.owner.run_id = format!("run{i}");
            runs.push(tokio::spawn(async move {
                archive(
                    &p,
                    src,
                    store,
                    Arc::new(Lines),
                    opts,
                    Progress::new(&p.types),
                )
                .await
                .expect("run")
            }));
        }
        let mut done = 0;
        let mut seen = 0;
        for r in runs {
            let s = r.await.expect("run");
            assert!(s.is_ok(), "{s}");
            let t = &s.types["SMS"];
            done += t.units_done;
            seen += t.units_done + t.units_elsewhere + t.units_skipped;
        }
        assert_eq!(done, 8, "each unit archived by exactly one run");
        assert_eq!(seen, 16, "and seen finished by the other");
        assert_eq!(src.fetches.load(SeqCst), 8, "each unit fetched once");
        assert_eq!(visible_lines(&store).await, truth_lines(&p, &src));
    });
}
