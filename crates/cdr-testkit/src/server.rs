//! The S3 server tests talk to: moto started on demand (or an external one),
//! shared per test binary, with a fresh bucket per test and a client set up
//! for it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

use crate::error::{TestkitError, s3_error};
use crate::moto::{Conditions, Moto, start_moto_retrying};

/// The dummy access key id the test server accepts.
pub const ACCESS_KEY_ID: &str = "test";
/// The dummy secret access key the test server accepts.
pub const SECRET_ACCESS_KEY: &str = "test";
/// The region tests use.
pub const REGION: &str = "us-east-1";

/// A running S3-compatible server for tests.
#[derive(Debug)]
pub struct S3Server {
    endpoint: String,
    /// `None` when the server came from `CDR_TEST_S3_ENDPOINT`.
    moto: Option<Moto>,
}

static SHARED: OnceLock<Result<S3Server, String>> = OnceLock::new();
static BUCKETS: AtomicU64 = AtomicU64::new(0);

impl S3Server {
    /// Uses the server at `CDR_TEST_S3_ENDPOINT` if set; otherwise starts moto's
    /// server from the test environment ([`test_python`](crate::test_python)) on a free loopback
    /// port and waits until it answers HTTP. Blocks for up to 30 s.
    ///
    /// The server runs one request at a time, so its conditional writes
    /// (`If-None-Match: *`, `If-Match`) are atomic as on S3.
    pub fn start() -> Result<S3Server, TestkitError> {
        if let Some(endpoint) = std::env::var("CDR_TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
        {
            return Ok(S3Server {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                moto: None,
            });
        }
        start_moto_retrying(Conditions::Checked).map(S3Server::of)
    }

    /// Starts a server of its own (never the shared one, nor
    /// `CDR_TEST_S3_ENDPOINT`) that ignores conditional writes: it strips
    /// `If-None-Match` and `If-Match` from every request, so a create-only
    /// write of an existing key overwrites it. For tests of what happens on
    /// a store that does not honour conditions.
    pub fn start_ignoring_conditions() -> Result<S3Server, TestkitError> {
        start_moto_retrying(Conditions::Ignored).map(S3Server::of)
    }

    fn of(moto: Moto) -> S3Server {
        S3Server {
            endpoint: moto.endpoint.clone(),
            moto: Some(moto),
        }
    }

    /// One server for the whole test binary, started on first use. It is
    /// killed when the test process exits.
    pub fn shared() -> Result<&'static S3Server, TestkitError> {
        SHARED
            .get_or_init(|| S3Server::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| TestkitError::Shared(e.clone()))
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub(crate) fn endpoint_str(&self) -> &str {
        &self.endpoint
    }

    /// Credentials the server accepts: `CDR_TEST_S3_ACCESS_KEY_ID` and
    /// `CDR_TEST_S3_SECRET_ACCESS_KEY` for an external server if set, else the
    /// dummy [`ACCESS_KEY_ID`] / [`SECRET_ACCESS_KEY`].
    pub fn credentials(&self) -> Credentials {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|_| self.moto.is_none())
                .unwrap_or_else(|| default.to_string())
        };
        Credentials::new(
            var("CDR_TEST_S3_ACCESS_KEY_ID", ACCESS_KEY_ID),
            var("CDR_TEST_S3_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            None,
            None,
            "cdr-testkit",
        )
    }

    /// A raw SDK client for this server: path-style, checksums only where
    /// required. Build one per Tokio runtime (each test has its own): pooled
    /// connections belong to the runtime that opened them.
    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(self.credentials())
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Client::from_conf(config)
    }

    /// Creates `name`; an existing bucket of ours is fine.
    pub async fn create_bucket(&self, name: &str) -> Result<(), TestkitError> {
        match self.client().create_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(s3_error("create bucket", e)),
        }
    }

    /// Creates a bucket with a fresh name starting with `hint`, so that tests
    /// sharing a server never see each other's objects.
    pub async fn new_bucket(&self, hint: &str) -> Result<String, TestkitError> {
        let name = unique_bucket_name(hint);
        self.create_bucket(&name).await?;
        Ok(name)
    }
}

fn unique_bucket_name(hint: &str) -> String {
    let clean: String = hint
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "test" } else { clean };
    // The time part keeps runs apart on a long-lived external server.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{clean}-{}-{}-{nanos:x}",
        std::process::id(),
        BUCKETS.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_valid_and_unique() {
        let a = unique_bucket_name("Conformance Suite!");
        let b = unique_bucket_name("Conformance Suite!");
        assert_ne!(a, b);
        for name in [
            a,
            b,
            unique_bucket_name(""),
            unique_bucket_name(&"x".repeat(80)),
        ] {
            assert!((3..=63).contains(&name.len()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }
}
