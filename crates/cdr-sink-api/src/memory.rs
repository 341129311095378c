//! An in-memory [`Destination`]: for tests and simulations that need a store
//! without I/O. It passes the same [`conformance`](crate::conformance) suite
//! as the local-directory and S3 destinations, conditional writes included,
//! and its clock can be supplied by the caller so that time can be driven by a
//! test.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::destination::{
    ByteStream, Destination, Leftovers, ObjectMeta, Precondition, StoreError, Upload, Version,
    Versioned,
};
use crate::key::ObjectKey;

/// Where [`MemoryDir`] reads the time.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

struct Object {
    body: Bytes,
    version: Version,
    modified: SystemTime,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<ObjectKey, Object>,
    /// Uploads begun and neither committed nor aborted: their key and start.
    pending: BTreeMap<u64, (ObjectKey, SystemTime)>,
}

/// A store held in memory. Clones share the same objects.
#[derive(Clone)]
pub struct MemoryDir {
    name: String,
    state: Arc<Mutex<State>>,
    clock: Clock,
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for MemoryDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDir")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MemoryDir {
    /// An empty store on the system clock; `name` appears in messages.
    pub fn new(name: impl Into<String>) -> MemoryDir {
        MemoryDir::with_clock(name, Arc::new(SystemTime::now))
    }

    /// An empty store whose clock is `clock`.
    pub fn with_clock(name: impl Into<String>, clock: Clock) -> MemoryDir {
        MemoryDir {
            name: name.into(),
            state: Arc::default(),
            clock,
            writes: Arc::default(),
        }
    }

    /// The keys of every stored object, sorted.
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.lock().objects.keys().cloned().collect()
    }

    /// Keys of uploads begun and neither committed nor aborted.
    pub fn pending_uploads(&self) -> Vec<ObjectKey> {
        self.lock()
            .pending
            .values()
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-changed:
        // every change is one insert or remove.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_version(&self) -> Version {
        Version::new(format!("m{}", self.writes.fetch_add(1, Ordering::Relaxed)))
    }

    fn store(&self, key: &ObjectKey, body: Bytes) -> Version {
        let version = self.next_version();
        let object = Object {
            body,
            version: version.clone(),
            modified: (self.clock)(),
        };
        self.lock().objects.insert(key.clone(), object);
        version
    }
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);

#[async_trait]
impl Destination for MemoryDir {
    fn describe(&self) -> String {
        format!("memory:{}", self.name)
    }

    fn location(&self, key: &ObjectKey) -> String {
        format!("memory:{}/{key}", self.name)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn begin(
        &self,
        key: &ObjectKey,
        _content_type: &str,
    ) -> Result<Box<dyn Upload>, StoreError> {
        let id = UPLOADS.fetch_add(1, Ordering::Relaxed);
        self.lock()
            .pending
            .insert(id, (key.clone(), (self.clock)()));
        Ok(Box::new(MemoryUpload {
            dir: self.clone(),
            key: key.clone(),
            id,
            buffer: Some(BytesMut::new()),
        }))
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        _content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let size = body.len() as u64;
        self.store(key, body);
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            modified: None,
        })
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        Ok(self.lock().objects.get(key).map(|o| o.body.clone()))
    }

    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let body = self.get(key).await?.ok_or_else(|| StoreError::Remote {
            operation: "read",
            location: self.location(key),
            message: "no such object".into(),
            retryable: false,
        })?;
        Ok(Box::pin(futures_util::stream::iter([Ok(body)])))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let prefix = prefix.trim_end_matches('/');
        Ok(self
            .lock()
            .objects
            .iter()
            .filter(|(k, _)| prefix.is_empty() || k.is_under(prefix))
            .map(|(k, o)| ObjectMeta {
                key: k.clone(),
                size: o.body.len() as u64,
                modified: Some(o.modified),
            })
            .collect())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.lock().objects.remove(key);
        Ok(())
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        let mut state = self.lock();
        let object = state
            .objects
            .remove(from)
            .ok_or_else(|| StoreError::Remote {
                operation: "rename",
                location: self.location(from),
                message: "no such object".into(),
                retryable: false,
            })?;
        state.objects.insert(to.clone(), object);
        Ok(())
    }

    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        let now = (self.clock)();
        let mut state = self.lock();
        let before = state.pending.len();
        state.pending.retain(|_, (key, started)| {
            let old = now.duration_since(*started).unwrap_or_default() >= which.min_age;
            !(which.covers(key.as_str()) && old)
        });
        Ok((before - state.pending.len()) as u64)
    }

    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        _content_type: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        let version = self.next_version();
        let mut state = self.lock();
        let holds = match (precondition, state.objects.get(key)) {
            (Precondition::Absent, None) => true,
            (Precondition::Matches(v), Some(o)) => o.version == *v,
            _ => false,
        };
        if !holds {
            return Err(StoreError::PreconditionFailed {
                operation: "put",
                location: self.location(key),
            });
        }
        state.objects.insert(
            key.clone(),
            Object {
                body,
                version: version.clone(),
                modified: (self.clock)(),
            },
        );
        Ok(version)
    }

    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        Ok(self.lock().objects.get(key).map(|o| Versioned {
            body: o.body.clone(),
            version: o.version.clone(),
            modified: o.modified,
        }))
    }

    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        let mut state = self.lock();
        match state.objects.get(key) {
            None => Ok(()),
            Some(o) if o.version == *version => {
                state.objects.remove(key);
                Ok(())
            }
            Some(_) => Err(StoreError::PreconditionFailed {
                operation: "delete",
                location: self.location(key),
            }),
        }
    }

    async fn now(&self) -> Result<SystemTime, StoreError> {
        Ok((self.clock)())
    }
}

/// An upload into a [`MemoryDir`]. Dropped without commit or abort, it leaves
/// its pending state behind for [`Destination::clean_incomplete`], as a
/// killed process leaves an S3 multipart upload.
struct MemoryUpload {
    dir: MemoryDir,
    key: ObjectKey,
    id: u64,
    buffer: Option<BytesMut>,
}

impl MemoryUpload {
    fn buffer(&mut self) -> Result<&mut BytesMut, StoreError> {
        let key = self.key.to_string();
        self.buffer.as_mut().ok_or(StoreError::Closed(key))
    }
}

#[async_trait]
impl Upload for MemoryUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.buffer()?.extend_from_slice(&chunk);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        let body = self.buffer()?.split().freeze();
        self.buffer = None;
        let size = body.len() as u64;
        let pending = self.dir.lock().pending.remove(&self.id);
        if pending.is_none() {
            // Removed by clean_incomplete: the upload is gone, as on S3.
            return Err(StoreError::Remote {
                operation: "commit",
                location: self.dir.location(&self.key),
                message: "the upload was removed before its commit".into(),
                retryable: false,
            });
        }
        self.dir.store(&self.key, body);
        Ok(ObjectMeta {
            key: self.key.clone(),
            size,
            modified: None,
        })
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        self.buffer = None;
        self.dir.lock().pending.remove(&self.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("memory operations never wait")
    }

    #[test]
    fn memory_dir_passes_the_conformance_suite() {
        block_on(crate::conformance::run_all(&MemoryDir::new("test")));
    }

    #[test]
    fn a_dropped_upload_stays_pending_until_cleaned() {
        let dir = MemoryDir::new("t");
        let k = ObjectKey::new("a/part-1.csv").unwrap();
        let up = block_on(dir.begin(&k, "text/csv")).unwrap();
        drop(up);
        assert_eq!(dir.pending_uploads(), vec![k.clone()]);
        let none = Leftovers::all("a/part-2");
        assert_eq!(block_on(dir.clean_incomplete(&none)).unwrap(), 0);
        assert_eq!(
            block_on(dir.clean_incomplete(&Leftovers::all("a/part-1"))).unwrap(),
            1
        );
        assert!(dir.pending_uploads().is_empty());
    }
}
