//! Why a request was tried again: the reasons that the retry driver logs
//! and the counters count, one each.

use std::fmt;

/// Why a request was tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// HTTP 429.
    RateLimited,
    /// HTTP 500, 502, 503 or 504, or a GraphQL error of the server's own.
    ServerError,
    /// No connection could be established.
    Connect,
    /// The request or a read timed out.
    Timeout,
    /// The connection was reset or a body was cut short.
    Reset,
    /// Another transport failure.
    Network,
    /// The body was truncated or undecodable.
    Decode,
    /// The token was rejected and a fresh login was made.
    Unauthorized,
}

impl RetryReason {
    /// Every reason, in a stable order.
    pub const ALL: [RetryReason; 8] = [
        RetryReason::RateLimited,
        RetryReason::ServerError,
        RetryReason::Connect,
        RetryReason::Timeout,
        RetryReason::Reset,
        RetryReason::Network,
        RetryReason::Decode,
        RetryReason::Unauthorized,
    ];

    /// A short snake_case name, as logged.
    pub const fn as_str(self) -> &'static str {
        match self {
            RetryReason::RateLimited => "rate_limited",
            RetryReason::ServerError => "server_error",
            RetryReason::Connect => "connect",
            RetryReason::Timeout => "timeout",
            RetryReason::Reset => "reset",
            RetryReason::Network => "network",
            RetryReason::Decode => "decode",
            RetryReason::Unauthorized => "unauthorized",
        }
    }
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
