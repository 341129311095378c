use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::key::{InvalidKey, ObjectKey};

/// A stored object's name and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    pub size: u64,
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

    /// Removes the temporary state of uploads under `prefix` that were never
    /// committed (after a crash); returns how many were removed. Must not be
    /// called while another writer uploads under the same prefix.
    async fn clean_incomplete(&self, prefix: &str) -> Result<u64, StoreError>;
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
