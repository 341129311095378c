//! What a [`Client`](crate::Client) is built from.

use std::net::IpAddr;
use std::time::Duration;

use cdr_core::{Password, Token};

use crate::throttle::Throttle;

/// The production API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.portal.tsgglobal.world";

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A bearer token obtained elsewhere. It is never renewed: when the server
    /// rejects it, requests fail with an authentication error.
    Token(Token),
    /// A portal user's credentials: the client logs in at
    /// `{base}/account/login`, caches the token and logs in again once when a
    /// request is rejected as unauthorized.
    Login { email: String, password: Password },
}

/// When and how often a failed request is tried again.
///
/// Delays grow exponentially from `initial_backoff` up to `max_backoff`, with
/// random jitter so that concurrent clients spread out; a server's
/// `Retry-After` is honoured as a lower bound. A request is given up after
/// `max_attempts` attempts (the first one included) or when the next attempt
/// would start later than `max_total` after the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included; at least 1.
    pub max_attempts: u32,
    /// Delay before the first retry (before jitter).
    pub initial_backoff: Duration,
    /// Upper bound of the exponential delay (a longer `Retry-After` still wins).
    pub max_backoff: Duration,
    /// Upper bound of the time from the first attempt to the start of the last one.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            max_total: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// How much a server may send, and for how long. Each limit is checked while
/// the answer is read, so memory stays bounded by it whatever the server does;
/// hitting one fails that request (and so its window) with an error that a
/// later run may not meet again, never the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body of a successful GraphQL or login answer, in bytes. A
    /// larger `Content-Length` is refused before the body is read; a body
    /// without one is read up to this size and then given up
    /// ([`TransportError::TooLarge`](crate::TransportError::TooLarge)).
    pub max_page_bytes: u64,
    /// Bytes of an error answer's body read for its message; the rest is
    /// not read.
    pub max_error_body_bytes: u64,
    /// Longest time an export download may take, from its first request to
    /// its last byte.
    pub export_deadline: Duration,
    /// Least average rate of an export body, in bytes per second, over every
    /// [`Limits::export_rate_period`]: a server that drips is given up. 0
    /// turns the check off.
    pub export_min_rate: u64,
    /// The span over which [`Limits::export_min_rate`] is measured.
    pub export_rate_period: Duration,
    /// Redirects an export download follows (each one checked like the link).
    pub export_max_redirects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_bytes: 64 * 1024 * 1024,
            max_error_body_bytes: 8 * 1024,
            // The provider stops an export after 20 minutes.
            export_deadline: Duration::from_secs(30 * 60),
            export_min_rate: 1024,
            export_rate_period: Duration::from_secs(60),
            export_max_redirects: 3,
        }
    }
}

/// Everything a [`Client`](crate::Client) needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and optional path prefix, e.g. [`DEFAULT_BASE_URL`]. The
    /// GraphQL endpoint is `{base_url}/graphql`, login is `{base_url}/account/login`.
    pub base_url: String,
    pub auth: Auth,
    /// Upper bound of one GraphQL or login request, body included. For an
    /// export download it bounds each wait for data instead, since a whole
    /// export may legitimately stream for many minutes.
    pub timeout: Duration,
    /// Upper bound of establishing one connection (TCP and TLS).
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// What a server may send.
    pub limits: Limits,
    /// Whether an `http://` base URL on a host other than loopback is
    /// accepted. Off by default: credentials and tokens would cross the
    /// network unencrypted.
    pub allow_insecure_http: bool,
    /// Host names resolved to fixed addresses instead of asking DNS (as
    /// curl's `--resolve`). The export download checks these addresses like
    /// any other.
    pub resolve: Vec<(String, IpAddr)>,
    /// Limits on requests in flight and per second, shared with whoever
    /// schedules work on the client; `None` (the default) limits nothing.
    pub throttle: Option<Throttle>,
}

impl ClientConfig {
    /// A configuration for the production API with default timeouts and retries.
    pub fn new(auth: Auth) -> ClientConfig {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            auth,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("cdr-transport/", env!("CARGO_PKG_VERSION")).to_string(),
            limits: Limits::default(),
            allow_insecure_http: false,
            resolve: Vec::new(),
            throttle: None,
        }
    }

    /// The same configuration with another base URL.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> ClientConfig {
        self.base_url = base_url.into();
        self
    }

    /// The same configuration with its GraphQL requests admitted by
    /// `throttle` (and its logins paced by it).
    pub fn with_throttle(mut self, throttle: Throttle) -> ClientConfig {
        self.throttle = Some(throttle);
        self
    }

    /// The same configuration with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ClientConfig {
        self.retry = retry;
        self
    }
}
