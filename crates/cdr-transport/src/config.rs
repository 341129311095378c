//! What a [`Client`](crate::Client) is built from.

use std::time::Duration;

use cdr_core::{Password, Token};

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
        }
    }

    /// The same configuration with another base URL.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> ClientConfig {
        self.base_url = base_url.into();
        self
    }

    /// The same configuration with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ClientConfig {
        self.retry = retry;
        self
    }
}
