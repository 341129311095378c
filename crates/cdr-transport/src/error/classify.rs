//! What an error means for the retry driver: whether it is worth trying
//! again and for which [`RetryReason`], whether it is fatal to every request
//! of the client, whether it means the API cannot be reached at all; and
//! what one attempt ended with ([`Failure`]) as the driver sees it.

use std::time::Duration;

use cdr_core::ErrorClass;

use super::{NetworkKind, TransportError};
use crate::reason::RetryReason;

/// What a failed connection attempt says about the API being reachable, in
/// a few words before the full message.
pub(super) fn connect_cause(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    let label = if m.contains("dns error")
        || m.contains("failed to lookup address")
        || m.contains("name or service not known")
        || m.contains("no such host")
        || m.contains("nodename nor servname")
    {
        "the host name does not resolve"
    } else if m.contains("connection refused") {
        "connection refused"
    } else if m.contains("certificate") || m.contains("tls") || m.contains("handshake") {
        "TLS failed"
    } else {
        return message.to_string();
    };
    format!("{label} ({message})")
}

impl TransportError {
    /// Whether trying the same thing again later may succeed: true for rate
    /// limiting, server failures (5xx, GraphQL errors not attributed to the
    /// request), network failures, undecodable bodies and cut exports (after
    /// splitting the window); false for errors that need a change first
    /// (credentials, configuration, invalid requests, the pagination contract).
    pub fn is_retryable(&self) -> bool {
        self.retry_reason().is_some()
            || matches!(
                self,
                TransportError::ExportCut { .. }
                    | TransportError::ExportStalled { .. }
                    | TransportError::TooLarge { .. }
            )
    }

    /// Why a request that failed with this error is tried again, or `None`
    /// when it is not. This is the one place that decides it; the
    /// [`RetryPolicy`](crate::RetryPolicy) only decides when.
    pub fn retry_reason(&self) -> Option<RetryReason> {
        match self {
            TransportError::RateLimited { .. } => Some(RetryReason::RateLimited),
            TransportError::Server { status, .. } => {
                matches!(status, 500 | 502 | 503 | 504).then_some(RetryReason::ServerError)
            }
            TransportError::Network { kind, .. } => Some(match kind {
                NetworkKind::Connect => RetryReason::Connect,
                NetworkKind::Timeout => RetryReason::Timeout,
                NetworkKind::Reset => RetryReason::Reset,
                NetworkKind::Other => RetryReason::Network,
            }),
            TransportError::Decode { .. } => Some(RetryReason::Decode),
            // A GraphQL error that blames neither the request nor the token is
            // the server failing (a resolver timing out, say), as a 5xx would be.
            TransportError::GraphQl { class, .. } => {
                (*class == ErrorClass::Other).then_some(RetryReason::ServerError)
            }
            TransportError::Config { .. }
            | TransportError::Auth { .. }
            | TransportError::Unreachable { .. }
            | TransportError::Redirected { .. }
            | TransportError::TooLarge { .. }
            | TransportError::Unexpected { .. }
            | TransportError::Pagination { .. }
            | TransportError::ExportCut { .. }
            | TransportError::ExportStalled { .. }
            | TransportError::ExportRefused { .. } => None,
        }
    }

    /// Whether the API could not be reached at all ([`TransportError::Unreachable`]):
    /// no request to it can succeed until the URL or the network is fixed.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }

    /// Whether no other request of this client can succeed either until
    /// something changes: the API cannot be reached or redirects elsewhere,
    /// the credentials or the token were refused, or the configuration cannot
    /// work. A caller that works through many windows stops on these instead
    /// of failing each.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TransportError::Unreachable { .. }
                | TransportError::Redirected { .. }
                | TransportError::Auth { .. }
                | TransportError::Config { .. }
        )
    }

    /// The same fault as an [`TransportError::Unreachable`] after `attempts`
    /// attempts: a failed connection, or an HTTP 404.
    pub(crate) fn into_unreachable(self, attempts: u32) -> TransportError {
        match self {
            TransportError::Network {
                endpoint, message, ..
            } => TransportError::Unreachable {
                endpoint,
                attempts,
                cause: connect_cause(&message),
            },
            TransportError::Server {
                endpoint, status, ..
            } => TransportError::Unreachable {
                endpoint,
                attempts,
                cause: format!("HTTP {status}: nothing answers at this URL"),
            },
            other => other.with_attempts(attempts),
        }
    }

    /// Whether this fault may mean that the API cannot be reached: a
    /// connection that could not be made (refused, DNS, TLS), when the API
    /// never answered, or an HTTP 404, when this endpoint never answered.
    pub(crate) fn may_be_unreachable(&self, answered: Answered) -> bool {
        match self {
            TransportError::Network {
                kind: NetworkKind::Connect,
                ..
            } => !answered.api,
            TransportError::Server { status: 404, .. } => !answered.endpoint,
            _ => false,
        }
    }

    /// Whether the server refused the request for load (HTTP 429 or 503, or
    /// another status with `Retry-After`): what an adaptive limit backs off
    /// from.
    pub fn is_refusal(&self) -> bool {
        match self {
            TransportError::RateLimited { .. } => true,
            TransportError::Server {
                status,
                retry_after,
                ..
            } => *status == 503 || retry_after.is_some(),
            _ => false,
        }
    }

    /// The `Retry-After` the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransportError::RateLimited { retry_after, .. }
            | TransportError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Records how many attempts were made before giving up.
    pub(crate) fn with_attempts(mut self, n: u32) -> TransportError {
        match &mut self {
            TransportError::RateLimited { attempts, .. }
            | TransportError::Server { attempts, .. }
            | TransportError::Network { attempts, .. }
            | TransportError::Decode { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }
}

/// Whether the API has answered (any 2xx) a request of this client before:
/// at all, and at the endpoint of the request at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Answered {
    pub(crate) api: bool,
    pub(crate) endpoint: bool,
}

/// What one attempt ended with, before the retry driver decides what to do.
#[derive(Debug)]
pub(crate) enum Failure {
    /// HTTP 401 or 403, or a GraphQL error that blames the token: the token
    /// was refused.
    Unauthorized { endpoint: String, detail: String },
    /// Anything else.
    Error(TransportError),
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Failure {
        Failure::Error(e)
    }
}
