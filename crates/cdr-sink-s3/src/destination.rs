use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use bytes::Bytes;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};
use futures_util::StreamExt;

use crate::clock::StoreClock;
use crate::error::{Failure, remote};
use crate::upload::{S3Upload, Target};
use crate::{ChecksumMode, ConfigError, S3Options, S3Url, Sse};

/// An S3 bucket and key prefix as a [`Destination`].
///
/// Objects are stored under `prefix + key`. Uploads stream through S3
/// multipart uploads and become visible only when completed; see the crate
/// documentation.
#[derive(Clone)]
pub struct S3Destination {
    client: Client,
    url: S3Url,
    endpoint: Option<String>,
    part_size: usize,
    max_parts_in_flight: usize,
    sse: Option<Sse>,
    part_checksums: bool,
    clock: StoreClock,
}

impl fmt::Debug for S3Destination {
    // The client's configuration is left out: it holds the credentials provider.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Destination")
            .field("url", &self.url.to_string())
            .field("endpoint", &self.endpoint)
            .field("part_size", &self.part_size)
            .field("max_parts_in_flight", &self.max_parts_in_flight)
            .field("sse", &self.sse)
            .finish_non_exhaustive()
    }
}

static PROBE: AtomicU64 = AtomicU64::new(0);

type PutObjectResult = Result<(), SdkError<PutObjectError, HttpResponse>>;

impl S3Destination {
    /// Parses `url` (`s3://bucket/prefix/`), checks `options` and builds a
    /// client from the standard AWS configuration chain, overridden by
    /// `options`. Makes no request.
    pub async fn from_url(url: &str, options: S3Options) -> Result<S3Destination, ConfigError> {
        let url = S3Url::parse(url)?;
        options.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(credentials) = &options.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        if let Some(endpoint) = &options.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;

        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL_S3"))
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        let mut config = aws_sdk_s3::config::Builder::from(&sdk);
        if sdk.region().is_none() {
            if endpoint.is_none() {
                return Err(ConfigError::NoRegion {
                    bucket: url.bucket().to_string(),
                });
            }
            // S3-compatible stores mostly ignore the region, but SigV4 needs one.
            config = config.region(Region::from_static("us-east-1"));
        }
        if endpoint.is_some() {
            config = config.force_path_style(true);
        }
        // Without these a server that accepts a connection and never answers
        // would hold an upload (and the run) forever. Generous: one attempt
        // moves at most one part.
        config = config.timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .operation_attempt_timeout(std::time::Duration::from_secs(300))
                .build(),
        );
        let when_required = match options.checksums {
            ChecksumMode::Default => false,
            ChecksumMode::WhenRequired => true,
            ChecksumMode::Auto => endpoint.is_some(),
        };
        if when_required {
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(S3Destination::with_client(
            Client::from_conf(config.build()),
            url,
            &options,
            endpoint,
        ))
    }

    /// Wraps a client built elsewhere; `options` supply the part size,
    /// parallelism, encryption and whether parts carry CRC32 checksums
    /// (`ChecksumMode::Default`), and `endpoint` is shown in messages.
    pub fn with_client(
        client: Client,
        url: S3Url,
        options: &S3Options,
        endpoint: Option<String>,
    ) -> S3Destination {
        // Every answer's `Date` sets the store's clock (see `Destination::now`).
        let clock = StoreClock::default();
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(clock.clone())
                .build(),
        );
        S3Destination {
            client,
            clock,
            url,
            part_checksums: options.checksums == ChecksumMode::Default
                || (options.checksums == ChecksumMode::Auto && endpoint.is_none()),
            endpoint,
            part_size: options.part_size,
            max_parts_in_flight: options.max_parts_in_flight.max(1),
            sse: options.sse.clone(),
        }
    }

    /// The bucket and prefix.
    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// The SDK client, for operations this type does not offer.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The S3 key prefix for a relative `prefix` that ends at a segment boundary.
    fn list_prefix(&self, prefix: &str) -> String {
        let p = prefix.trim_end_matches('/');
        if p.is_empty() {
            self.url.prefix().to_string()
        } else {
            format!("{}{p}/", self.url.prefix())
        }
    }

    fn target(&self, key: &ObjectKey, content_type: &str) -> Target {
        Target {
            client: self.client.clone(),
            bucket: self.url.bucket().to_string(),
            s3_key: self.url.key(key),
            key: key.clone(),
            location: self.location(key),
            content_type: content_type.to_string(),
            sse: self.sse.clone(),
            part_checksums: self.part_checksums,
        }
    }

    /// Explains a failed write probe in terms of what to change.
    fn writable_error(&self, failure: Failure) -> StoreError {
        let bucket = self.url.bucket();
        let code = failure.code.as_deref();
        let message = if failure.unreachable {
            let endpoint = self.endpoint.as_deref().unwrap_or("the AWS S3 endpoint");
            format!(
                "cannot reach {endpoint} for bucket `{bucket}` (check AWS_ENDPOINT_URL and the network): {}",
                failure.message
            )
        } else if code == Some("NoSuchBucket")
            || (failure.status == Some(404) && code.is_none_or(|c| c == "NotFound"))
        {
            format!("bucket `{bucket}` does not exist: create it or correct the bucket in the URL")
        } else if matches!(code, Some("InvalidAccessKeyId" | "SignatureDoesNotMatch")) {
            format!(
                "the credentials were rejected for bucket `{bucket}` (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE): {}",
                failure.message
            )
        } else if code == Some("AccessDenied") || failure.status == Some(403) {
            format!(
                "access denied to bucket `{bucket}`: allow s3:PutObject and s3:DeleteObject under the prefix ({})",
                failure.message
            )
        } else if matches!(
            code,
            Some(
                "PermanentRedirect"
                    | "AuthorizationHeaderMalformed"
                    | "IllegalLocationConstraintException"
            )
        ) || failure.status == Some(301)
        {
            format!(
                "bucket `{bucket}` is in another region: set AWS_REGION to the bucket's region ({})",
                failure.message
            )
        } else {
            format!("bucket `{bucket}`: {}", failure.message)
        };
        StoreError::Remote {
            operation: "check writable",
            location: self.describe(),
            message,
            retryable: failure.retryable,
        }
    }

    async fn put_object(&self, s3_key: &str, body: Bytes, content_type: &str) -> PutObjectResult {
        put_object(
            &self.client,
            self.url.bucket(),
            s3_key,
            body,
            content_type,
            self.sse.as_ref(),
        )
        .await
    }
}

/// One PutObject, shared by [`Destination::put`], the write probe and small uploads.
pub(crate) async fn put_object(
    client: &Client,
    bucket: &str,
    s3_key: &str,
    body: Bytes,
    content_type: &str,
    sse: Option<&Sse>,
) -> PutObjectResult {
    let (encryption, kms_key) = crate::upload::sse_headers(sse);
    client
        .put_object()
        .bucket(bucket)
        .key(s3_key)
        .content_type(content_type)
        .content_length(body.len() as i64)
        .set_server_side_encryption(encryption)
        .set_ssekms_key_id(kms_key)
        .body(SdkByteStream::from(body))
        .send()
        .await
        .map(|_| ())
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[async_trait]
impl Destination for S3Destination {
    fn describe(&self) -> String {
        self.url.to_string()
    }

    fn location(&self, key: &ObjectKey) -> String {
        format!("s3://{}/{}", self.url.bucket(), self.url.key(key))
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        // A put and a delete of a hidden probe need only the permissions the
        // archiver needs anyway, unlike HeadBucket (s3:ListBucket).
        let probe = format!(
            "{}_cdr-sink-write-probe-{}-{}",
            self.url.prefix(),
            std::process::id(),
            PROBE.fetch_add(1, Ordering::Relaxed)
        );
        self.put_object(&probe, Bytes::new(), "application/octet-stream")
            .await
            .map_err(|e| self.writable_error(Failure::from_sdk(&e)))?;
        self.client
            .delete_object()
            .bucket(self.url.bucket())
            .key(&probe)
            .send()
            .await
            .map_err(|e| self.writable_error(Failure::from_sdk(&e)))?;
        Ok(())
    }

    async fn begin(
        &self,
        key: &ObjectKey,
        content_type: &str,
    ) -> Result<Box<dyn Upload>, StoreError> {
        Ok(Box::new(S3Upload::new(
            Arc::new(self.target(key, content_type)),
            self.part_size,
            self.max_parts_in_flight,
        )))
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let size = body.len() as u64;
        self.put_object(&self.url.key(key), body, content_type)
            .await
            .map_err(remote("put", self.location(key)))?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
        })
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let location = self.location(key);
        let output = match self
            .client
            .get_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                if failure.is_not_found() {
                    return Ok(None);
                }
                return Err(failure.into_store_error("get", location));
            }
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Remote {
                operation: "get",
                location,
                message: crate::error::chain(&e),
                retryable: true,
            })?;
        Ok(Some(body.into_bytes()))
    }

    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let location = self.location(key);
        let output = self
            .client
            .get_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .send()
            .await
            .map_err(remote("read", location.clone()))?;
        let stream =
            futures_util::stream::unfold(Some((output.body, location)), |state| async move {
                let (mut body, location) = state?;
                match body.try_next().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some((body, location)))),
                    Ok(None) => None,
                    // Stop after the first error.
                    Err(e) => Some((
                        Err(StoreError::Remote {
                            operation: "read",
                            location,
                            message: crate::error::chain(&e),
                            retryable: true,
                        }),
                        None,
                    )),
                }
            });
        Ok(stream.boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let s3_prefix = self.list_prefix(prefix);
        let location = format!("s3://{}/{s3_prefix}", self.url.bucket());
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(self.url.bucket())
            .prefix(&s3_prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(remote("list", location.clone()))?;
            for object in page.contents() {
                let Some(rest) = object.key().and_then(|k| k.strip_prefix(self.url.prefix()))
                else {
                    continue;
                };
                // Keys this crate could not have written (`a//b`, `dir/`) are skipped.
                let Ok(key) = ObjectKey::new(rest) else {
                    tracing::debug!(key = rest, "skipping a key that is not an object key");
                    continue;
                };
                out.push(ObjectMeta {
                    key,
                    size: object.size().unwrap_or(0).max(0) as u64,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                if failure.is_not_found() {
                    Ok(())
                } else {
                    Err(failure.into_store_error("delete", self.location(key)))
                }
            }
        }
    }

    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        let s3_prefix = format!("{}{}", self.url.prefix(), which.prefix);
        let location = format!("s3://{}/{s3_prefix}", self.url.bucket());
        let now = if which.min_age.is_zero() {
            None
        } else {
            Some(self.now().await?)
        };
        // Collect first, then abort, so the listing is not disturbed mid-way.
        let mut uploads = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut request = self
                .client
                .list_multipart_uploads()
                .bucket(self.url.bucket())
                .prefix(&s3_prefix);
            if let Some((key, id)) = &markers {
                request = request.key_marker(key).upload_id_marker(id);
            }
            let page = request
                .send()
                .await
                .map_err(remote("list incomplete uploads", location.clone()))?;
            for upload in page.uploads() {
                // Young uploads may belong to a writer that is still running.
                let young = match (now, upload.initiated()) {
                    (Some(now), Some(initiated)) => SystemTime::try_from(*initiated)
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_none_or(|age| age < which.min_age),
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if young {
                    continue;
                }
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    uploads.push((key.to_string(), id.to_string()));
                }
            }
            if !page.is_truncated().unwrap_or(false) {
                break;
            }
            let next = (
                page.next_key_marker().unwrap_or_default().to_string(),
                page.next_upload_id_marker().unwrap_or_default().to_string(),
            );
            if next.0.is_empty() || markers.as_ref() == Some(&next) {
                return Err(StoreError::Remote {
                    operation: "list incomplete uploads",
                    location,
                    message: "the server reported more uploads but gave no new marker".to_string(),
                    retryable: false,
                });
            }
            markers = Some(next);
        }
        let mut removed = 0;
        for (key, upload_id) in uploads {
            let location = format!("s3://{}/{key}", self.url.bucket());
            match self
                .client
                .abort_multipart_upload()
                .bucket(self.url.bucket())
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                Ok(_) => {
                    tracing::info!(location, "aborted an incomplete multipart upload");
                    removed += 1;
                }
                // Someone else (e.g. a dropped upload's own abort) was quicker.
                Err(e) if Failure::from_sdk(&e).is_not_found() => {}
                Err(e) => return Err(remote("abort incomplete upload", location)(e)),
            }
        }
        Ok(removed)
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        // A server-side copy (up to 5 GiB in one request), then the delete.
        const MAX_COPY: i64 = 5 * 1024 * 1024 * 1024;
        let head = self
            .client
            .head_object()
            .bucket(self.url.bucket())
            .key(self.url.key(from))
            .send()
            .await
            .map_err(remote("rename", self.location(from)))?;
        if head.content_length().unwrap_or(0) > MAX_COPY {
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
            return self.delete(from).await;
        }
        let source = format!(
            "{}/{}",
            self.url.bucket(),
            percent_encoding::utf8_percent_encode(&self.url.key(from), COPY_SOURCE)
        );
        let (encryption, kms_key) = crate::upload::sse_headers(self.sse.as_ref());
        self.client
            .copy_object()
            .bucket(self.url.bucket())
            .key(self.url.key(to))
            .copy_source(source)
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key)
            .send()
            .await
            .map_err(remote("copy", self.location(to)))?;
        self.delete(from).await
    }

    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        let (encryption, kms_key) = crate::upload::sse_headers(self.sse.as_ref());
        let mut request = self
            .client
            .put_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .content_type(content_type)
            .content_length(body.len() as i64)
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key)
            .body(SdkByteStream::from(body));
        request = match precondition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Matches(v) => request.if_match(v.as_str()),
        };
        match request.send().await {
            Ok(output) => output
                .e_tag()
                .map(Version::new)
                .ok_or_else(|| StoreError::Remote {
                    operation: "put",
                    location: self.location(key),
                    message: "the store answered without an ETag".into(),
                    retryable: false,
                }),
            Err(e) => Err(conditional_error(&e, "put", self.location(key))),
        }
    }

    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        let location = self.location(key);
        let output = match self
            .client
            .get_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                if failure.is_not_found() {
                    return Ok(None);
                }
                return Err(failure.into_store_error("get", location));
            }
        };
        let missing = |what: &str| StoreError::Remote {
            operation: "get",
            location: location.clone(),
            message: format!("the store answered without {what}"),
            retryable: false,
        };
        let version = Version::new(output.e_tag().ok_or_else(|| missing("an ETag"))?);
        let modified = output
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .ok_or_else(|| missing("a Last-Modified time"))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Remote {
                operation: "get",
                location: location.clone(),
                message: crate::error::chain(&e),
                retryable: true,
            })?;
        Ok(Some(Versioned {
            body: body.into_bytes(),
            version,
            modified,
        }))
    }

    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(self.url.bucket())
            .key(self.url.key(key))
            .if_match(version.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                if failure.is_not_found() {
                    Ok(())
                } else {
                    Err(conditional_error(&e, "delete", self.location(key)))
                }
            }
        }
    }

    async fn now(&self) -> Result<SystemTime, StoreError> {
        if let Some(now) = self.clock.now() {
            return Ok(now);
        }
        // No answer yet: any answer carries the store's Date, a missing
        // object's too.
        let _ = self
            .client
            .head_object()
            .bucket(self.url.bucket())
            .key(format!("{}_cdr_sink/clock", self.url.prefix()))
            .send()
            .await;
        self.clock.now().ok_or_else(|| StoreError::Remote {
            operation: "read the clock of",
            location: self.describe(),
            message: "the store's answers carry no Date header".into(),
            retryable: false,
        })
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

/// A refused condition (HTTP 412, or 409 when S3 saw a conflicting
/// conditional write at the same time) as [`StoreError::PreconditionFailed`].
fn conditional_error<E>(
    err: &SdkError<E, HttpResponse>,
    operation: &'static str,
    location: String,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = Failure::from_sdk(err);
    // A compare-and-swap on a missing object is refused with 404.
    if matches!(failure.status, Some(412 | 409))
        || (operation == "put" && failure.is_not_found())
        || matches!(
            failure.code.as_deref(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
    {
        return StoreError::PreconditionFailed {
            operation,
            location,
        };
    }
    failure.into_store_error(operation, location)
}
