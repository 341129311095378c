//! [`S3Upload`]: one object written as a stream. Bytes are cut into parts
//! sent as a multipart upload with a bounded number in flight (an object
//! smaller than one part is one PutObject at commit); commit completes the
//! upload, any failure, `abort` or drop aborts it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::types::CompletedPart;
use bytes::{Bytes, BytesMut};
use cdr_sink_api::{ObjectKey, ObjectMeta, StoreError, Upload};
use tokio::task::JoinSet;

use crate::error::{Failure, remote};
use crate::requests::Bucket;

/// S3 allows at most this many parts per object.
const MAX_PARTS: i32 = 10_000;

/// Everything an upload and its part tasks need to address the object.
pub(crate) struct Target {
    pub bucket: Bucket,
    pub s3_key: String,
    pub key: ObjectKey,
    pub location: String,
    pub content_type: String,
    /// Whether parts carry CRC32 checksums (the SDK's default checksum mode).
    pub part_checksums: bool,
}

/// A started multipart upload: its id, the parts being sent and those done.
struct Multipart {
    upload_id: String,
    next_part: i32,
    in_flight: JoinSet<Result<CompletedPart, StoreError>>,
    done: Vec<CompletedPart>,
}

/// An object being written to S3.
///
/// Bytes collect in a buffer of one part. The first full part starts a
/// multipart upload; each full part is sent by its own task, at most
/// `max_in_flight` at once, so memory stays below `part_size * (1 +
/// max_in_flight)`. Commit sends the rest and completes the upload, or stores
/// an object smaller than one part with a single PutObject. Any failure aborts
/// the multipart upload, so nothing becomes visible and no parts linger.
pub(crate) struct S3Upload {
    target: Arc<Target>,
    part_size: usize,
    max_in_flight: usize,
    buffer: BytesMut,
    size: u64,
    multipart: Option<Multipart>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Accepting writes.
    Open,
    /// A write is running. Still set afterwards only if that write was
    /// cancelled mid-way, when the bytes it took are unaccounted for: the
    /// upload can then only be dropped, never committed.
    Writing,
    /// Every byte is stored as a part (see `finish_writes`); only commit or
    /// abort may follow.
    Sealed,
    /// Committed, aborted or failed.
    Closed,
}

impl S3Upload {
    pub fn new(target: Arc<Target>, part_size: usize, max_in_flight: usize) -> S3Upload {
        S3Upload {
            target,
            part_size,
            max_in_flight,
            buffer: BytesMut::new(),
            size: 0,
            multipart: None,
            state: State::Open,
        }
    }

    fn closed_error(&self) -> StoreError {
        StoreError::Closed(self.target.location.clone())
    }

    async fn write_inner(&mut self, mut chunk: Bytes) -> Result<(), StoreError> {
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            if self.buffer.is_empty() && chunk.len() >= self.part_size {
                // A whole part in the caller's buffer: send it without copying.
                let part = chunk.split_to(self.part_size);
                self.send_part(part).await?;
                continue;
            }
            if self.buffer.capacity() == 0 {
                // Large allocations are mapped lazily, so a small object does not
                // cost a whole part of resident memory.
                self.buffer = BytesMut::with_capacity(self.part_size);
            }
            let take = chunk.len().min(self.part_size - self.buffer.len());
            self.buffer.extend_from_slice(&chunk.split_to(take));
            if self.buffer.len() == self.part_size {
                let part = self.buffer.split().freeze();
                self.send_part(part).await?;
            }
        }
        Ok(())
    }

    async fn send_part(&mut self, body: Bytes) -> Result<(), StoreError> {
        if self.multipart.is_none() {
            self.multipart = Some(create_multipart(&self.target).await?);
        }
        let Some(multipart) = self.multipart.as_mut() else {
            return Err(self.closed_error());
        };
        multipart
            .send(&self.target, body, self.max_in_flight, self.part_size)
            .await
    }

    /// Stops the upload after a failure: nothing was made visible, and the
    /// multipart upload (if any) is aborted so its parts do not linger.
    async fn fail(&mut self) {
        self.state = State::Closed;
        self.buffer = BytesMut::new();
        if let Some(multipart) = self.multipart.take()
            && let Err(e) = abort_multipart(&self.target, multipart).await
        {
            tracing::warn!(
                location = %self.target.location,
                error = %e,
                "could not abort a failed upload; clean_incomplete will remove it"
            );
        }
    }

    /// Sends what the buffer holds as the last part (a last part may be smaller
    /// than the minimum) and waits for every part, so that no byte stays in
    /// memory until the commit.
    async fn finish_writes_inner(&mut self) -> Result<(), StoreError> {
        let rest = self.buffer.split().freeze();
        self.buffer = BytesMut::new();
        if !rest.is_empty() {
            self.send_part(rest).await?;
        }
        if let Some(multipart) = self.multipart.as_mut() {
            let parts = multipart.finish(&self.target).await?;
            multipart.done = parts;
        }
        Ok(())
    }

    async fn commit_inner(&mut self) -> Result<(), StoreError> {
        let rest = self.buffer.split().freeze();
        self.buffer = BytesMut::new();
        let Some(multipart) = self.multipart.as_mut() else {
            let target = &self.target;
            return target
                .bucket
                .put_object(&target.s3_key, rest, &target.content_type, None)
                .await
                .map(|_| ())
                .map_err(remote("commit", target.location.clone()));
        };
        if !rest.is_empty() {
            multipart
                .send(&self.target, rest, self.max_in_flight, self.part_size)
                .await?;
        }
        let parts = multipart.finish(&self.target).await?;
        let target = &self.target;
        target
            .bucket
            .complete_multipart_upload(&target.s3_key, &multipart.upload_id, parts)
            .await
            .map_err(remote("complete upload of", target.location.clone()))?;
        tracing::debug!(
            location = %target.location,
            parts = multipart.next_part - 1,
            size = self.size,
            "multipart upload completed"
        );
        Ok(())
    }
}

impl Multipart {
    /// Queues one part, first waiting for a free slot.
    async fn send(
        &mut self,
        target: &Arc<Target>,
        body: Bytes,
        max_in_flight: usize,
        part_size: usize,
    ) -> Result<(), StoreError> {
        // Surface failures of earlier parts as early as possible.
        while let Some(result) = self.in_flight.try_join_next() {
            self.done.push(part_result(target, result)?);
        }
        while self.in_flight.len() >= max_in_flight {
            if let Some(result) = self.in_flight.join_next().await {
                self.done.push(part_result(target, result)?);
            }
        }
        if self.next_part > MAX_PARTS {
            return Err(StoreError::Remote {
                operation: "upload",
                location: target.location.clone(),
                message: format!(
                    "the object is larger than S3's {MAX_PARTS} parts of {part_size} bytes: raise the part size"
                ),
                retryable: false,
            });
        }
        let part_number = self.next_part;
        self.next_part += 1;
        self.in_flight.spawn(upload_part(
            Arc::clone(target),
            self.upload_id.clone(),
            part_number,
            body,
        ));
        Ok(())
    }

    /// Waits for every part and returns them in order.
    async fn finish(&mut self, target: &Target) -> Result<Vec<CompletedPart>, StoreError> {
        while let Some(result) = self.in_flight.join_next().await {
            self.done.push(part_result(target, result)?);
        }
        let mut parts = std::mem::take(&mut self.done);
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }
}

fn part_result(
    target: &Target,
    result: Result<Result<CompletedPart, StoreError>, tokio::task::JoinError>,
) -> Result<CompletedPart, StoreError> {
    result.map_err(|e| task_failed(&target.location, e))?
}

fn task_failed(location: &str, e: tokio::task::JoinError) -> StoreError {
    StoreError::Remote {
        operation: "upload part of",
        location: location.to_string(),
        message: format!("the part upload task stopped: {e}"),
        retryable: false,
    }
}

async fn create_multipart(target: &Target) -> Result<Multipart, StoreError> {
    let output = target
        .bucket
        .create_multipart_upload(&target.s3_key, &target.content_type, target.part_checksums)
        .await
        .map_err(remote("start upload of", target.location.clone()))?;
    let upload_id = output
        .upload_id()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| StoreError::Remote {
            operation: "start upload of",
            location: target.location.clone(),
            message: "the server returned no upload id".to_string(),
            retryable: false,
        })?
        .to_string();
    tracing::debug!(location = %target.location, "multipart upload started");
    Ok(Multipart {
        upload_id,
        next_part: 1,
        in_flight: JoinSet::new(),
        done: Vec::new(),
    })
}

async fn upload_part(
    target: Arc<Target>,
    upload_id: String,
    part_number: i32,
    body: Bytes,
) -> Result<CompletedPart, StoreError> {
    let len = body.len();
    let output = target
        .bucket
        .upload_part(
            &target.s3_key,
            &upload_id,
            part_number,
            body,
            target.part_checksums,
        )
        .await
        .map_err(remote("upload part of", target.location.clone()))?;
    let Some(e_tag) = output.e_tag() else {
        return Err(StoreError::Remote {
            operation: "upload part of",
            location: target.location.clone(),
            message: format!("the server returned no ETag for part {part_number}"),
            retryable: false,
        });
    };
    tracing::trace!(location = %target.location, part_number, len, "part uploaded");
    Ok(CompletedPart::builder()
        .part_number(part_number)
        .e_tag(e_tag)
        .set_checksum_crc32(output.checksum_crc32().map(str::to_string))
        .build())
}

/// Cancels the parts still being sent, then aborts the upload so S3 frees the
/// parts already stored. An upload that is already gone counts as aborted.
async fn abort_multipart(target: &Target, mut multipart: Multipart) -> Result<(), StoreError> {
    multipart.in_flight.shutdown().await;
    match target
        .bucket
        .abort_multipart_upload(&target.s3_key, &multipart.upload_id)
        .await
    {
        Ok(_) => {
            tracing::debug!(location = %target.location, "multipart upload aborted");
            Ok(())
        }
        Err(e) => {
            let failure = Failure::from_sdk(&e);
            if failure.is_not_found() {
                Ok(())
            } else {
                Err(failure.into_store_error("abort upload of", target.location.clone()))
            }
        }
    }
}

#[async_trait]
impl Upload for S3Upload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        if self.state != State::Open {
            return Err(self.closed_error());
        }
        self.state = State::Writing;
        let result = self.write_inner(chunk).await;
        match result {
            Ok(()) => self.state = State::Open,
            Err(_) => self.fail().await,
        }
        result
    }

    async fn finish_writes(&mut self) -> Result<(), StoreError> {
        if self.state != State::Open {
            return Err(self.closed_error());
        }
        self.state = State::Writing;
        let result = self.finish_writes_inner().await;
        match result {
            // Only a commit (or abort) may follow.
            Ok(()) => self.state = State::Sealed,
            Err(_) => self.fail().await,
        }
        result
    }

    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        if !matches!(self.state, State::Open | State::Sealed) {
            return Err(self.closed_error());
        }
        // If this future is dropped mid-way, `Drop` aborts the upload.
        self.state = State::Writing;
        let result = self.commit_inner().await;
        match result {
            Ok(()) => {
                self.state = State::Closed;
                self.multipart = None;
                Ok(ObjectMeta {
                    key: self.target.key.clone(),
                    size: self.size,
                    modified: None,
                })
            }
            Err(e) => {
                self.fail().await;
                Err(e)
            }
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.state == State::Closed {
            return Err(self.closed_error());
        }
        self.state = State::Closed;
        self.buffer = BytesMut::new();
        match self.multipart.take() {
            Some(multipart) => abort_multipart(&self.target, multipart).await,
            None => Ok(()),
        }
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        // Dropped without commit or abort (an error elsewhere or a cancelled
        // task): nothing is visible, but the stored parts cost money until the
        // upload is aborted.
        let Some(multipart) = self.multipart.take() else {
            return;
        };
        if self.state == State::Closed {
            return;
        }
        let target = Arc::clone(&self.target);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = abort_multipart(&target, multipart).await {
                        tracing::warn!(
                            location = %target.location,
                            error = %e,
                            "could not abort a dropped upload; clean_incomplete will remove it"
                        );
                    }
                });
            }
            Err(_) => tracing::warn!(
                location = %target.location,
                "upload dropped outside a Tokio runtime; clean_incomplete will remove its parts"
            ),
        }
    }
}
