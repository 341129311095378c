//! [`S3Destination`]: the [`Destination`] over a bucket and key prefix. It
//! builds the SDK client from the options and the AWS chain, and decides
//! what each answer of [`crate::requests`] means to the archiver: a missing
//! object that is fine, a refused condition, a one-line error that says
//! what to change.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use bytes::Bytes;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};
use futures_util::StreamExt;

use crate::clock::StoreClock;
use crate::error::{ConfigError, Failure, chain, conditional_error, remote};
use crate::options::{ChecksumMode, S3Options};
use crate::requests::Bucket;
use crate::upload::{S3Upload, Target};
use crate::url::S3Url;

/// An S3 bucket and key prefix as a [`Destination`].
///
/// Objects are stored under `prefix + key`. Uploads stream through S3
/// multipart uploads and become visible only when completed; see the crate
/// documentation.
#[derive(Clone)]
pub struct S3Destination {
    /// The client, the URL's bucket and the encryption objects are written with.
    bucket: Bucket,
    url: S3Url,
    endpoint: Option<String>,
    part_size: usize,
    max_parts_in_flight: usize,
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
            .field("sse", &self.bucket.sse)
            .finish_non_exhaustive()
    }
}

static PROBE: AtomicU64 = AtomicU64::new(0);

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
            bucket: Bucket {
                client,
                name: url.bucket().to_string(),
                sse: options.sse.clone(),
            },
            clock,
            url,
            part_checksums: options.checksums == ChecksumMode::Default
                || (options.checksums == ChecksumMode::Auto && endpoint.is_none()),
            endpoint,
            part_size: options.part_size,
            max_parts_in_flight: options.max_parts_in_flight.max(1),
        }
    }

    /// The bucket and prefix.
    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// The SDK client, for operations this type does not offer.
    pub fn client(&self) -> &Client {
        &self.bucket.client
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
            bucket: self.bucket.clone(),
            s3_key: self.url.key(key),
            key: key.clone(),
            location: self.location(key),
            content_type: content_type.to_string(),
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
        self.bucket
            .put_object(&probe, Bytes::new(), "application/octet-stream", None)
            .await
            .map_err(|e| self.writable_error(Failure::from_sdk(&e)))?;
        self.bucket
            .delete_object(&probe, None)
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
        self.bucket
            .put_object(&self.url.key(key), body, content_type, None)
            .await
            .map_err(remote("put", self.location(key)))?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            modified: None,
        })
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let location = self.location(key);
        let output = match self.bucket.get_object(&self.url.key(key)).await {
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
                message: chain(&e),
                retryable: true,
            })?;
        Ok(Some(body.into_bytes()))
    }

    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let location = self.location(key);
        let output = self
            .bucket
            .get_object(&self.url.key(key))
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
                            message: chain(&e),
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
        let mut pages = self.bucket.list_objects(&s3_prefix).send();
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
                    modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.bucket.delete_object(&self.url.key(key), None).await {
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
            let page = self
                .bucket
                .list_multipart_uploads(&s3_prefix, markers.as_ref())
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
            match self.bucket.abort_multipart_upload(&key, &upload_id).await {
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
            .bucket
            .head_object(&self.url.key(from))
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
        self.bucket
            .copy_object(&self.url.key(from), &self.url.key(to))
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
        let s3_key = self.url.key(key);
        let put = self
            .bucket
            .put_object(&s3_key, body, content_type, Some(precondition));
        match put.await {
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
        let output = match self.bucket.get_object(&self.url.key(key)).await {
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
                message: chain(&e),
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
            .bucket
            .delete_object(&self.url.key(key), Some(version.as_str()))
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
            .bucket
            .head_object(&format!("{}_cdr_sink/clock", self.url.prefix()))
            .await;
        self.clock.now().ok_or_else(|| StoreError::Remote {
            operation: "read the clock of",
            location: self.describe(),
            message: "the store's answers carry no Date header".into(),
            retryable: false,
        })
    }
}
