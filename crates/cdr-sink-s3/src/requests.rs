//! Every request this crate sends to S3, one method each, on a [`Bucket`].
//!
//! The methods build and send the request and hand back the SDK's answer or
//! error as it is: what an answer means (a missing object that is fine, a
//! refused condition, a message that says what to change) is for the
//! destination and the upload to decide. Encryption headers are set here, on
//! every request that writes an object.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError;
use aws_sdk_s3::operation::copy_object::CopyObjectError;
use aws_sdk_s3::operation::create_multipart_upload::{
    CreateMultipartUploadError, CreateMultipartUploadOutput,
};
use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::list_multipart_uploads::{
    ListMultipartUploadsError, ListMultipartUploadsOutput,
};
use aws_sdk_s3::operation::list_objects_v2::paginator::ListObjectsV2Paginator;
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::operation::upload_part::{UploadPartError, UploadPartOutput};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use bytes::Bytes;
use cdr_sink_api::Precondition;

use crate::options::Sse;

/// What a request answers: the SDK's output, or its error with the raw response.
pub(crate) type Answer<T, E> = Result<T, SdkError<E, HttpResponse>>;

/// A bucket as requests address it: the client, the bucket's name, and the
/// server-side encryption every object is written with. Keys are S3 keys,
/// the destination's prefix included.
#[derive(Clone)]
pub(crate) struct Bucket {
    pub client: Client,
    pub name: String,
    pub sse: Option<Sse>,
}

impl Bucket {
    /// The encryption headers of a write.
    fn sse_headers(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        match &self.sse {
            None => (None, None),
            Some(Sse::S3) => (Some(ServerSideEncryption::Aes256), None),
            Some(Sse::Kms { key_id }) => (Some(ServerSideEncryption::AwsKms), key_id.clone()),
        }
    }

    /// One PutObject; with a precondition, `If-None-Match: *` (create-only)
    /// or `If-Match` on a version (compare-and-swap).
    pub(crate) async fn put_object(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        precondition: Option<&Precondition>,
    ) -> Answer<PutObjectOutput, PutObjectError> {
        let (encryption, kms_key) = self.sse_headers();
        let request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .content_length(body.len() as i64)
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key)
            .body(SdkByteStream::from(body));
        let request = match precondition {
            None => request,
            Some(Precondition::Absent) => request.if_none_match("*"),
            Some(Precondition::Matches(v)) => request.if_match(v.as_str()),
        };
        request.send().await
    }

    pub(crate) async fn get_object(&self, key: &str) -> Answer<GetObjectOutput, GetObjectError> {
        self.client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
    }

    pub(crate) async fn head_object(&self, key: &str) -> Answer<HeadObjectOutput, HeadObjectError> {
        self.client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
    }

    /// One DeleteObject; with `if_match`, only while the object has that ETag.
    pub(crate) async fn delete_object(
        &self,
        key: &str,
        if_match: Option<&str>,
    ) -> Answer<(), DeleteObjectError> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .set_if_match(if_match.map(str::to_string))
            .send()
            .await
            .map(|_| ())
    }

    /// A server-side copy within the bucket (S3 copies up to 5 GiB in one request).
    pub(crate) async fn copy_object(&self, from: &str, to: &str) -> Answer<(), CopyObjectError> {
        let source = format!(
            "{}/{}",
            self.name,
            percent_encoding::utf8_percent_encode(from, COPY_SOURCE)
        );
        let (encryption, kms_key) = self.sse_headers();
        self.client
            .copy_object()
            .bucket(&self.name)
            .key(to)
            .copy_source(source)
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key)
            .send()
            .await
            .map(|_| ())
    }

    /// The objects under `prefix`, a page at a time (`.send()` to start).
    pub(crate) fn list_objects(&self, prefix: &str) -> ListObjectsV2Paginator {
        self.client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
    }

    /// One page of the multipart uploads under `prefix`, after the
    /// `(key, upload id)` markers of the page before.
    pub(crate) async fn list_multipart_uploads(
        &self,
        prefix: &str,
        after: Option<&(String, String)>,
    ) -> Answer<ListMultipartUploadsOutput, ListMultipartUploadsError> {
        let mut request = self
            .client
            .list_multipart_uploads()
            .bucket(&self.name)
            .prefix(prefix);
        if let Some((key, id)) = after {
            request = request.key_marker(key).upload_id_marker(id);
        }
        request.send().await
    }

    /// Starts a multipart upload; with `part_checksums`, its parts carry CRC32s.
    pub(crate) async fn create_multipart_upload(
        &self,
        key: &str,
        content_type: &str,
        part_checksums: bool,
    ) -> Answer<CreateMultipartUploadOutput, CreateMultipartUploadError> {
        let (encryption, kms_key) = self.sse_headers();
        self.client
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key)
            .set_checksum_algorithm(part_checksums.then_some(ChecksumAlgorithm::Crc32))
            .send()
            .await
    }

    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Bytes,
        part_checksums: bool,
    ) -> Answer<UploadPartOutput, UploadPartError> {
        self.client
            .upload_part()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(body.len() as i64)
            .set_checksum_algorithm(part_checksums.then_some(ChecksumAlgorithm::Crc32))
            .body(SdkByteStream::from(body))
            .send()
            .await
    }

    /// Completes a multipart upload from its parts, in order: the object appears.
    pub(crate) async fn complete_multipart_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Answer<(), CompleteMultipartUploadError> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Answer<(), AbortMultipartUploadError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
    }
}

/// What a key must escape in `x-amz-copy-source`: all but unreserved
/// characters and the `/` between segments.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
