use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::key::{InvalidKey, ObjectKey};

/// A stored object's name and size, and, in listings, the store's time of
/// its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    pub size: u64,
    /// S3's `LastModified`, a file's modification time; `None` where the
    /// store did not say (the result of a write).
    pub modified: Option<SystemTime>,
}

/// The version of a stored object, as its store names it: S3's ETag, a digest
/// of a local file's bytes. Writes of different bytes give different
/// versions; a compare-and-swap write names the version it replaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(String);

impl Version {
    pub fn new(v: impl Into<String>) -> Version {
        Version(v.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A small object read whole, with its version and the store's time of its
/// last write (S3's `Last-Modified`, a file's modification time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub body: Bytes,
    pub version: Version,
    pub modified: SystemTime,
}

/// What a conditional write ([`Destination::put_if`]) requires of the object
/// it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Create only: the key must not exist (S3 `If-None-Match: *`).
    Absent,
    /// Compare and swap: the key must hold exactly this version (S3 `If-Match`).
    Matches(Version),
}

/// Which unfinished uploads [`Destination::clean_incomplete`] removes: those
/// whose final key starts with `prefix` (a directory such as
/// `cdr_type=sms/date=2026-11-01/`, or a name start such as
/// `cdr_type=sms/date=2026-11-01/part-20261101T000000Z-20261101T010000Z-`;
/// empty for all) and that were started at least `min_age` ago.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftovers {
    pub prefix: String,
    pub min_age: Duration,
}

impl Leftovers {
    /// Every unfinished upload whose key starts with `prefix`, however young.
    pub fn all(prefix: impl Into<String>) -> Leftovers {
        Leftovers {
            prefix: prefix.into(),
            min_age: Duration::ZERO,
        }
    }

    /// Those started at least `min_age` ago.
    pub fn older_than(prefix: impl Into<String>, min_age: Duration) -> Leftovers {
        Leftovers {
            prefix: prefix.into(),
            min_age,
        }
    }

    /// Whether `key` is in scope.
    pub fn covers(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }
}

/// An object's bytes, read as a stream of chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>;

/// Why a store operation failed. Messages carry locations, never credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    /// A local file system operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        operation: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A remote store refused or failed an operation.
    #[error("{operation} {location}: {message}")]
    Remote {
        operation: &'static str,
        location: String,
        message: String,
        retryable: bool,
    },
    /// The upload was already committed or aborted.
    #[error("upload of {0} is already closed")]
    Closed(String),
    /// A conditional write or delete found the object absent when it had to
    /// exist, present when it had to be absent, or of another version.
    #[error("{operation} {location}: the object changed (precondition failed)")]
    PreconditionFailed {
        operation: &'static str,
        location: String,
    },
}

impl StoreError {
    /// Whether trying the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Remote { retryable, .. } => *retryable,
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// Whether a conditional operation was refused because the object was not
    /// as required: someone else wrote it first.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, StoreError::PreconditionFailed { .. })
    }
}

/// Where objects are stored: a local directory, an S3 prefix. Knows nothing of
/// CDRs or formats.
///
/// Invariant: an object becomes visible under its key only by a successful
/// [`Upload::commit`] or [`Destination::put`], whole and at once. Temporary
/// state uses names starting with `.` or `_`, or is never completed (S3
/// multipart), and [`Destination::clean_incomplete`] removes what a crash left.
#[async_trait]
pub trait Destination: Send + Sync + std::fmt::Debug {
    /// Where this is, for messages (e.g. `/data/archive` or `s3://bucket/prefix/`).
    fn describe(&self) -> String;

    /// The full location of `key`, for messages.
    fn location(&self, key: &ObjectKey) -> String;

    /// Checks that the destination exists or can be created, and can be written,
    /// without leaving anything visible behind.
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// Starts writing `key`; nothing is visible until [`Upload::commit`].
    async fn begin(
        &self,
        key: &ObjectKey,
        content_type: &str,
    ) -> Result<Box<dyn Upload>, StoreError>;

    /// Stores a small object whole, atomically, replacing any previous one.
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError>;

    /// Reads a small object whole; `None` when it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError>;

    /// Streams an object's bytes.
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError>;

    /// Every finished object whose key lies under `prefix` (empty for all),
    /// sorted by key. Temporary state of unfinished uploads is not listed.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;

    /// Moves an object to another key: afterwards `to` holds the bytes `from`
    /// held, whole, and `from` is gone. If interrupted, `from` is still there
    /// (and `to` may be too). This default copies the bytes through this
    /// process; stores override it with their own move or copy (a rename, a
    /// server-side copy), which leave no temporary state behind.
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let mut upload = self.begin(to, "application/octet-stream").await?;
        let mut stream = self.read(from).await?;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => upload.write(c).await?,
                Err(e) => {
                    let _ = upload.abort().await;
                    return Err(e);
                }
            }
        }
        upload.commit().await?;
        self.delete(from).await
    }

    /// Removes the temporary state of uploads that were never committed
    /// (after a crash) and that `which` covers; returns how many were removed.
    /// An upload younger than `which.min_age` is left alone: it may belong to
    /// a writer that is still running.
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError>;

    /// Stores a small object whole and atomically, only if `precondition`
    /// holds at that instant, and returns its new version. Fails with
    /// [`StoreError::PreconditionFailed`] otherwise, having written nothing.
    /// Two writers racing on one key never both succeed.
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError>;

    /// Reads a small object whole with its version and last-write time;
    /// `None` when it does not exist.
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError>;

    /// Deletes `key` only while it holds `version`: fails with
    /// [`StoreError::PreconditionFailed`] when it holds another; deleting a
    /// missing object is not an error.
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError>;

    /// The store's own clock, on the scale of [`Versioned::modified`]: the
    /// one clock that every process using this store can agree on.
    async fn now(&self) -> Result<SystemTime, StoreError>;
}

/// One object being written. Dropping it without `commit` or `abort` must not make
/// anything visible; `abort` also frees the temporary state right away.
#[async_trait]
pub trait Upload: Send {
    /// Appends bytes.
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError>;
    /// Declares that no more bytes follow, so the destination can store what it
    /// still buffers now (e.g. S3's last part) and free that memory; the object
    /// stays invisible until [`Upload::commit`]. Writing afterwards is an
    /// error. Callers that keep several finished uploads open before committing
    /// them call this, so memory does not grow with their number.
    async fn finish_writes(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Makes the object visible, whole, under its key.
    async fn commit(self: Box<Self>) -> Result<ObjectMeta, StoreError>;
    /// Discards everything written.
    async fn abort(self: Box<Self>) -> Result<(), StoreError>;
}
