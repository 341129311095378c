//! A destination that is "killed" at its n-th mutation, as SIGKILL would kill
//! the process that uses it: that operation and every later one fail, and
//! uploads dropped afterwards are forgotten (no temporary file deleted, no
//! multipart upload aborted), so the next run's clean-up is what removes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;

use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

/// Counts the mutations (begin, write, finish, commit, abort, put, put_if,
/// delete, delete_if, rename, clean) made through it and dies at the
/// `die_at`-th; `u64::MAX` never dies. Reads are not counted but fail once
/// dead.
#[derive(Debug)]
pub struct Crashing {
    inner: Arc<dyn Destination>,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    die_at: u64,
    mutations: AtomicU64,
    /// Calls of [`Upload::finish_writes`] that reached the store.
    finished_writes: AtomicU64,
    dead: AtomicBool,
}

impl State {
    /// Counts one mutation; `Err` when it is the fatal one or the store is dead.
    fn mutate(&self) -> Result<(), StoreError> {
        self.alive()?;
        if self.mutations.fetch_add(1, Ordering::SeqCst) + 1 >= self.die_at {
            self.dead.store(true, Ordering::SeqCst);
            return Err(killed());
        }
        Ok(())
    }

    fn alive(&self) -> Result<(), StoreError> {
        if self.dead.load(Ordering::SeqCst) {
            Err(killed())
        } else {
            Ok(())
        }
    }
}

fn killed() -> StoreError {
    StoreError::Remote {
        operation: "anything",
        location: "test".into(),
        message: "the process was killed".into(),
        retryable: false,
    }
}

impl Crashing {
    pub fn new(inner: Arc<dyn Destination>, die_at: u64) -> Crashing {
        Crashing {
            inner,
            state: Arc::new(State {
                die_at,
                ..State::default()
            }),
        }
    }

    /// A store that counts and never dies.
    pub fn counting(inner: Arc<dyn Destination>) -> Crashing {
        Crashing::new(inner, u64::MAX)
    }

    pub fn is_dead(&self) -> bool {
        self.state.dead.load(Ordering::SeqCst)
    }

    pub fn mutations(&self) -> u64 {
        self.state.mutations.load(Ordering::SeqCst)
    }

    /// How many uploads were sealed ([`Upload::finish_writes`]) before their
    /// commit: on S3, each stored its bytes as a multipart upload.
    pub fn finished_writes(&self) -> u64 {
        self.state.finished_writes.load(Ordering::SeqCst)
    }
}

/// An upload through [`Crashing`]; once the store is dead, the inner upload
/// is forgotten instead of dropped, whatever happens to this one.
struct CrashingUpload {
    inner: Option<Box<dyn Upload>>,
    state: Arc<State>,
}

impl CrashingUpload {
    fn inner(&mut self) -> Result<&mut Box<dyn Upload>, StoreError> {
        self.inner
            .as_mut()
            .ok_or_else(|| StoreError::Closed("a crashing upload".into()))
    }

    fn take(&mut self) -> Result<Box<dyn Upload>, StoreError> {
        self.inner
            .take()
            .ok_or_else(|| StoreError::Closed("a crashing upload".into()))
    }
}

impl Drop for CrashingUpload {
    fn drop(&mut self) {
        if self.state.dead.load(Ordering::SeqCst)
            && let Some(inner) = self.inner.take()
        {
            // A killed process runs no destructor.
            std::mem::forget(inner);
        }
    }
}

#[async_trait::async_trait]
impl Upload for CrashingUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner()?.write(chunk).await
    }
    async fn finish_writes(&mut self) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner()?.finish_writes().await?;
        self.state.finished_writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        // On death, `self` is dropped with its inner upload, which is forgotten.
        self.state.mutate()?;
        self.take()?.commit().await
    }
    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.take()?.abort().await
    }
}

#[async_trait::async_trait]
impl Destination for Crashing {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.inner.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner.check_writable().await
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        self.state.mutate()?;
        let inner = self.inner.begin(key, ct).await?;
        Ok(Box::new(CrashingUpload {
            inner: Some(inner),
            state: self.state.clone(),
        }))
    }
    async fn put(&self, key: &ObjectKey, body: Bytes, ct: &str) -> Result<ObjectMeta, StoreError> {
        self.state.mutate()?;
        self.inner.put(key, body, ct).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.state.alive()?;
        self.inner.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.state.alive()?;
        self.inner.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.state.alive()?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner.delete(key).await
    }
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner.rename(from, to).await
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.state.mutate()?;
        self.inner.clean_incomplete(which).await
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        ct: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        self.state.mutate()?;
        self.inner.put_if(key, body, ct, precondition).await
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.state.alive()?;
        self.inner.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.state.mutate()?;
        self.inner.delete_if(key, version).await
    }
    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        self.state.alive()?;
        self.inner.now().await
    }
}
