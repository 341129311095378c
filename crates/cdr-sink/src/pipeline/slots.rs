//! Unit slots: a unit gives up its fetching slot when its last page has
//! arrived, so the next unit fetches while it commits; a second limit bounds
//! the units finishing beyond `--concurrency`; claims are held until each
//! unit's ledger entry is written. Ledger writes wait at a gate, so every step
//! is observed in a state that cannot move on by itself.
//!
//! The clock is the real one: records are encoded on the CPU threads, which
//! a paused clock does not wait for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Semaphore;

use cdr_sink_api::memory::MemoryDir;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

use super::schedule::finishing_limit;
use super::tests::{Lines, Memory, options, plan};
use super::*;
use crate::plan::Concurrency;

/// A store whose ledger writes wait for a permit of `gate`.
#[derive(Debug)]
struct Gated {
    inner: Arc<MemoryDir>,
    gate: Arc<Semaphore>,
    /// Ledger writes waiting at the gate.
    waiting: AtomicU64,
}

impl Gated {
    fn keys_under(&self, prefix: &str) -> usize {
        self.inner
            .keys()
            .iter()
            .filter(|k| k.as_str().starts_with(prefix))
            .count()
    }
}

#[async_trait]
impl Destination for Gated {
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
        if key.as_str().starts_with("_cdr_sink/ledger/") {
            self.waiting.fetch_add(1, SeqCst);
            let permit = self.gate.acquire().await;
            self.waiting.fetch_sub(1, SeqCst);
            permit.expect("the gate stays open").forget();
        }
        self.inner.put_if(key, body, ct, precondition).await
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.inner.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.inner.delete_if(key, version).await
    }
    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        self.inner.now().await
    }
}

/// Waits until `done` holds, looking every millisecond; panics after a
/// minute (a generous bound: each step takes milliseconds).
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}

/// Lets every task that can run, run: on this one-thread runtime, a unit the
/// scheduler were free to start would have started after this.
async fn settle() {
    for _ in 0..1000 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn the_next_unit_fetches_while_one_commits_and_few_finish_beyond_the_slots() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Arc::new(MemoryDir::new("slots"));
        let gate = Arc::new(Semaphore::new(0));
        let dest = Arc::new(Gated {
            inner: store.clone(),
            gate: gate.clone(),
            waiting: AtomicU64::new(0),
        });
        let mut p = plan("1h", 3);
        p.concurrency = Concurrency::Fixed(1);
        assert_eq!(finishing_limit(1), 1);
        let src = Arc::new(Memory::new(25, 10));
        let run = {
            let (p, src, dest) = (p.clone(), src.clone(), dest.clone());
            tokio::spawn(async move {
                archive(
                    &p,
                    src,
                    dest,
                    Arc::new(Lines),
                    options(10),
                    Progress::new(&p.types),
                )
                .await
                .expect("run")
            })
        };

        // The first unit has all its pages and waits to write its ledger
        // entry, under its claim; the second fetches meanwhile, in the one
        // slot of --concurrency 1. (The second may reach the gate as soon as
        // the first: both have few records.)
        until("the first unit commits", || dest.waiting.load(SeqCst) >= 1).await;
        until("the second unit fetches", || src.fetches.load(SeqCst) == 2).await;
        // The second finishes fetching too; a third may not start, since one
        // unit beyond the slots may be finishing and one already is.
        until("the second unit commits", || dest.waiting.load(SeqCst) == 2).await;
        settle().await;
        assert_eq!(src.fetches.load(SeqCst), 2, "a third unit started");
        assert_eq!(dest.keys_under("_cdr_sink/claims/"), 2, "claims held");
        assert_eq!(dest.keys_under("_cdr_sink/ledger/"), 0);

        // One ledger write: the first unit is finished and releases its
        // claim, and the third unit starts.
        gate.add_permits(1);
        until("the third unit fetches", || src.fetches.load(SeqCst) == 3).await;
        assert_eq!(dest.keys_under("_cdr_sink/ledger/"), 1);

        gate.add_permits(2);
        let s = run.await.expect("the run");
        assert!(s.is_ok(), "{s}");
        assert_eq!(s.types["SMS"].units_done, 3);
        assert_eq!(s.types["SMS"].records, 75);
        assert_eq!(dest.keys_under("_cdr_sink/claims/"), 0, "claims released");
        assert_eq!(dest.keys_under("_cdr_sink/ledger/"), 3);
        assert!(store.pending_uploads().is_empty());
    });
}

#[test]
fn the_finishing_limit_is_small() {
    let limits: Vec<usize> = [1, 4, 8, 16, 64, 256]
        .into_iter()
        .map(finishing_limit)
        .collect();
    assert_eq!(limits, [1, 1, 1, 2, 8, 8]);
}
