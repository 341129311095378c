//! Errors: [`ConfigError`] (what to change in the URL or the options), and
//! [`Failure`], an SDK error reduced to its status, code and one line, as
//! it becomes a [`StoreError`] (retryable or not, a refused condition).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use cdr_sink_api::StoreError;

/// Why an [`crate::S3Destination`] could not be built. Messages are one line,
/// say what to change, and never carry credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `s3://` URL cannot be used.
    #[error("invalid S3 URL `{url}`: {problem}")]
    BadUrl { url: String, problem: String },
    /// An [`crate::S3Options`] value is out of range.
    #[error("invalid S3 option: {0}")]
    BadOption(String),
    /// Neither the options nor the AWS configuration give a region.
    #[error(
        "no AWS region for bucket `{bucket}`: set AWS_REGION (or `region` in the AWS profile or the S3 options)"
    )]
    NoRegion { bucket: String },
}

/// What went wrong with one S3 request, reduced to what callers and messages need.
pub(crate) struct Failure {
    /// HTTP status of an error response, if one came back.
    pub status: Option<u16>,
    /// S3 error code such as `NoSuchBucket`, if the response had one.
    pub code: Option<String>,
    /// One line describing the failure.
    pub message: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// No response came back (connection refused, reset, timed out).
    pub unreachable: bool,
}

impl Failure {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = err.code().map(str::to_string);
                let text = err.message().unwrap_or("");
                let message = match (&code, text.is_empty()) {
                    (Some(code), false) => format!("{code}: {text} (HTTP {status})"),
                    (Some(code), true) => format!("{code} (HTTP {status})"),
                    (None, _) => format!("HTTP {status}"),
                };
                let retryable = matches!(status, 408 | 429 | 500..=599)
                    || matches!(
                        code.as_deref(),
                        Some(
                            "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable"
                        )
                    );
                Failure {
                    status: Some(status),
                    code,
                    message: one_line(&message),
                    retryable,
                    unreachable: false,
                }
            }
            SdkError::ConstructionFailure(_) => Failure {
                status: None,
                code: None,
                message: chain(err),
                retryable: false,
                unreachable: false,
            },
            // Dispatch failures, timeouts and unreadable responses: the network
            // or the server misbehaved, and a later attempt may work.
            _ => Failure {
                status: err.raw_response().map(|r| r.status().as_u16()),
                code: None,
                message: chain(err),
                retryable: true,
                unreachable: matches!(
                    err,
                    SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
                ),
            },
        }
    }

    /// Whether the error says the object or upload does not exist.
    /// A missing bucket is not a missing object: it is an error everywhere.
    pub fn is_not_found(&self) -> bool {
        if self.code.as_deref() == Some("NoSuchBucket") {
            return false;
        }
        self.status == Some(404)
            || matches!(
                self.code.as_deref(),
                Some("NoSuchKey" | "NoSuchUpload" | "NotFound")
            )
    }

    pub fn into_store_error(self, operation: &'static str, location: String) -> StoreError {
        StoreError::Remote {
            operation,
            location,
            message: self.message,
            retryable: self.retryable,
        }
    }
}

/// Maps an SDK error to a [`StoreError::Remote`] naming `location`.
pub(crate) fn remote<E>(
    operation: &'static str,
    location: String,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |err| Failure::from_sdk(&err).into_store_error(operation, location)
}

/// A refused condition (HTTP 412, or 409 when S3 saw a conflicting
/// conditional write at the same time) as [`StoreError::PreconditionFailed`].
pub(crate) fn conditional_error<E>(
    err: &SdkError<E, HttpResponse>,
    operation: &'static str,
    location: String,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
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

/// An error and its sources, `a: b: c`, on one line.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = one_line(&e.to_string());
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Error chains can hold line breaks (e.g. from a server's text body).
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
