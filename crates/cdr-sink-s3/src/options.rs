//! [`S3Options`]: endpoint, region, credentials, part size, parts in
//! flight, checksums and server-side encryption, checked before any request.

use aws_sdk_s3::config::Credentials;

use crate::error::ConfigError;

/// The smallest part S3 accepts (except for the last part of an object).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// The part size used unless told otherwise.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// How an [`crate::S3Destination`] talks to S3.
///
/// Memory per open upload is at most `part_size * (1 + max_parts_in_flight)`.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// A custom endpoint such as `http://127.0.0.1:9000` (MinIO, Ceph, R2, ...).
    /// `None` uses `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` or the AWS
    /// configuration, and AWS itself if none is set. Custom endpoints use
    /// path-style addressing.
    pub endpoint: Option<String>,
    /// The region; `None` uses the AWS chain (`AWS_REGION`, profile, ...), and
    /// `us-east-1` for a custom endpoint with no region configured.
    pub region: Option<String>,
    /// Static credentials; `None` uses the standard AWS chain (environment,
    /// profile, SSO, container and instance roles).
    pub credentials: Option<Credentials>,
    /// Bytes per multipart part, at least [`MIN_PART_SIZE`]. Objects smaller
    /// than one part are stored with a single PutObject at commit.
    pub part_size: usize,
    /// Parts uploaded concurrently per upload while more bytes are written (at least 1).
    pub max_parts_in_flight: usize,
    /// Whether the SDK adds request checksums and validates response checksums.
    pub checksums: ChecksumMode,
    /// Server-side encryption for every object written.
    pub sse: Option<Sse>,
}

impl Default for S3Options {
    fn default() -> S3Options {
        S3Options {
            endpoint: None,
            region: None,
            credentials: None,
            part_size: DEFAULT_PART_SIZE,
            max_parts_in_flight: 2,
            checksums: ChecksumMode::Auto,
            sse: None,
        }
    }
}

impl S3Options {
    /// Checks the values without any I/O; errors say what to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(ConfigError::BadOption(format!(
                "part size {} is outside S3's limits: use {MIN_PART_SIZE} (5 MiB) to {MAX_PART_SIZE} (5 GiB) bytes",
                self.part_size
            )));
        }
        if self.max_parts_in_flight == 0 {
            return Err(ConfigError::BadOption(
                "max_parts_in_flight must be at least 1".to_string(),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let scheme_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
            let authority = endpoint.split("://").nth(1).unwrap_or("");
            let authority = authority.split('/').next().unwrap_or("");
            if authority.contains('@') {
                // Never echo what may be a secret.
                return Err(ConfigError::BadOption(
                    "remove the credentials from the endpoint URL: they come from the AWS environment"
                        .to_string(),
                ));
            }
            if !scheme_ok || authority.is_empty() {
                return Err(ConfigError::BadOption(format!(
                    "endpoint `{endpoint}` is not a URL: write it as http://host:port or https://host"
                )));
            }
        }
        if let Some(Sse::Kms {
            key_id: Some(key_id),
        }) = &self.sse
            && key_id.trim().is_empty()
        {
            return Err(ConfigError::BadOption(
                "the SSE-KMS key id is empty: give a key id or ARN, or None for the bucket's default key"
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// Request checksums and response checksum validation.
///
/// The SDK's default checksums (CRC32 on every upload) are rejected or
/// mishandled by many S3-compatible stores (MinIO, Ceph, R2 and others);
/// `WhenRequired` sends them only where an operation demands them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// The SDK's behaviour (and `AWS_REQUEST_CHECKSUM_CALCULATION` /
    /// `AWS_RESPONSE_CHECKSUM_VALIDATION`); multipart parts carry CRC32.
    Default,
    /// Only where the operation requires one.
    WhenRequired,
    /// `WhenRequired` with a custom endpoint, `Default` on AWS.
    #[default]
    Auto,
}

/// Server-side encryption of stored objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    /// SSE-S3: keys managed by S3 (`AES256`).
    S3,
    /// SSE-KMS with the given key id or ARN, or the bucket's default KMS key.
    Kms { key_id: Option<String> },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(options: S3Options, expected: Option<&str>) {
        match (options.validate(), expected) {
            (Ok(()), None) => {}
            (Err(e), Some(fragment)) => {
                let msg = e.to_string();
                assert!(msg.contains(fragment), "{msg}");
                assert!(!msg.contains('\n'), "{msg}");
            }
            (got, want) => panic!("{options:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn options_are_validated() {
        let d = S3Options::default;
        check(d(), None);
        check(
            S3Options {
                part_size: MIN_PART_SIZE,
                endpoint: Some("http://127.0.0.1:9000".into()),
                sse: Some(Sse::Kms { key_id: None }),
                ..d()
            },
            None,
        );
        check(
            S3Options {
                part_size: MIN_PART_SIZE - 1,
                ..d()
            },
            Some("use 5242880 (5 MiB)"),
        );
        check(
            S3Options {
                part_size: MAX_PART_SIZE + 1,
                ..d()
            },
            Some("outside S3's limits"),
        );
        check(
            S3Options {
                max_parts_in_flight: 0,
                ..d()
            },
            Some("at least 1"),
        );
        check(
            S3Options {
                endpoint: Some("127.0.0.1:9000".into()),
                ..d()
            },
            Some("write it as http://host:port"),
        );
        check(
            S3Options {
                endpoint: Some("http://user:hunter2@127.0.0.1:9000".into()),
                ..d()
            },
            Some("remove the credentials"),
        );
        check(
            S3Options {
                sse: Some(Sse::Kms {
                    key_id: Some(" ".into()),
                }),
                ..d()
            },
            Some("key id is empty"),
        );
    }

    #[test]
    fn endpoint_credentials_are_not_echoed() {
        let err = S3Options {
            endpoint: Some("http://user:hunter2@127.0.0.1:9000".into()),
            ..S3Options::default()
        }
        .validate()
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn debug_output_hides_the_secret_key() {
        let options = S3Options {
            credentials: Some(Credentials::new(
                "AKIDEXAMPLE",
                "hunter2",
                None,
                None,
                "test",
            )),
            ..S3Options::default()
        };
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
