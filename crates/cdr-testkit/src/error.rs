//! The testkit's errors: each says what to run or change.

use std::path::PathBuf;

const INSTALL_HINT: &str =
    "run `cargo xtask test` once: it makes the test environment target/test-env";

/// Why the test server could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    #[error("no test environment: {} does not exist; {INSTALL_HINT}", python.display())]
    TestEnvMissing { python: PathBuf },
    #[error("moto server not found in the test environment: {INSTALL_HINT}")]
    MotoNotFound,
    #[error("moto {found} is too old (the SDK rejects its multipart answers): {INSTALL_HINT}")]
    MotoTooOld { found: String },
    #[error("could not start moto server: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("moto server exited before answering ({status}): {stderr}")]
    Exited { status: String, stderr: String },
    #[error("S3 server at {endpoint} did not answer within {seconds} s")]
    NotReady { endpoint: String, seconds: u64 },
    #[error("test S3 server: {0}")]
    Shared(String),
    #[error("{operation} on the test S3 server: {message}")]
    S3 {
        operation: &'static str,
        message: String,
    },
}

/// An SDK error of `operation` as a [`TestkitError::S3`], on one line.
pub(crate) fn s3_error<E, R>(
    operation: &'static str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> TestkitError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    TestkitError::S3 {
        operation,
        message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}
