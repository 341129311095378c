//! The errors of this crate: the types and their messages. Every message says
//! what happened and what to do, and carries endpoints without query strings:
//! no token, password or export link ever appears in one. Text that comes
//! from the server (its error messages and bodies) is passed through
//! [`cdr_core::sanitize`] before it is stored in an error.
//!
//! What an error means for the retry driver lives in [`classify`]; how an
//! error of the HTTP library becomes one of these, in [`network`].

use std::fmt;
use std::time::Duration;

use cdr_core::{CdrType, ErrorClass, GraphQlErrors, PaginationError, Window};

pub(crate) mod classify;
pub(crate) mod network;

/// Why talking to the API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configuration cannot work (bad base URL, empty email, no attempts).
    #[error("invalid client configuration: {message}")]
    Config { message: String },

    /// Credentials or token were refused. Never retried beyond one fresh login.
    #[error("authentication failed at {endpoint}: {problem}")]
    Auth {
        endpoint: String,
        problem: AuthProblem,
    },

    /// The API could not be reached before it ever answered: the connection
    /// was refused, the host name does not resolve, TLS failed, or nothing
    /// answers at the URL (HTTP 404). Given a short budget of attempts
    /// rather than the full retry policy, since a wrong URL does not heal.
    #[error(
        "cannot reach the API at {endpoint} after {attempts} attempt(s): {cause}: check the API URL (the base, without /graphql; TSG_API_URL) and the network"
    )]
    Unreachable {
        endpoint: String,
        attempts: u32,
        cause: String,
    },

    /// The API answered a login or GraphQL request with a redirect. These
    /// requests carry the password or the token, so no redirect is followed:
    /// the credentials go only to the configured API URL. `host` is where
    /// the redirect pointed (host and port only).
    #[error(
        "the API at {endpoint} answered HTTP {status}, a redirect to {host}: requests that carry credentials follow no redirect; if the API moved, set the API URL (TSG_API_URL) to its new address"
    )]
    Redirected {
        endpoint: String,
        status: u16,
        host: String,
    },

    /// An answer was larger than [`Limits::max_page_bytes`](crate::Limits):
    /// announced so (`announced`), or found so after `received` bytes, when
    /// reading stopped. Not retried at once (the same request would get the
    /// same answer); a later run may succeed.
    #[error(
        "the answer from {endpoint} is larger than the limit of {limit} bytes ({}): the server sent far more than a page should hold; lower the page size (--limit) or raise the page size limit, or retry later",
        match announced {
            Some(n) => format!("it announced {n}"),
            None => format!("reading stopped after {received}"),
        }
    )]
    TooLarge {
        endpoint: String,
        limit: u64,
        announced: Option<u64>,
        received: u64,
    },

    /// HTTP 429 on every attempt.
    #[error(
        "rate limited by {endpoint} (HTTP 429) after {attempts} attempt(s): lower the request rate or concurrency, or try again later"
    )]
    RateLimited {
        endpoint: String,
        attempts: u32,
        /// The last `Retry-After` the server sent.
        retry_after: Option<Duration>,
    },

    /// An HTTP status other than success, 401 and 429.
    #[error("HTTP {status} from {endpoint} after {attempts} attempt(s){}: {}", detail_suffix(detail), status_hint(*status))]
    Server {
        endpoint: String,
        status: u16,
        attempts: u32,
        /// The server's error messages, when its body held any.
        detail: String,
        retry_after: Option<Duration>,
    },

    /// The connection could not be made, broke, or timed out.
    #[error(
        "network error ({kind}) talking to {endpoint} after {attempts} attempt(s): {message}: {}",
        kind.hint()
    )]
    Network {
        endpoint: String,
        kind: NetworkKind,
        attempts: u32,
        message: String,
    },

    /// The server answered with a GraphQL `errors` array.
    #[error("the server at {endpoint} reported: {errors}: {}", class_hint(*class))]
    GraphQl {
        endpoint: String,
        class: ErrorClass,
        errors: GraphQlErrors,
    },

    /// The body is not JSON: cut short, or something else than JSON (a
    /// proxy's HTML page, say). Retried: the next answer may be whole.
    #[error(
        "undecodable response from {endpoint} after {attempts} attempt(s): {message}: the server sent something this version cannot read; retry later or report it"
    )]
    Decode {
        endpoint: String,
        attempts: u32,
        message: String,
    },

    /// The body is JSON, but not of the shape of a `cdrRecords` answer (no
    /// `paginationInfo`, a `cdrs` element that is not an object, no `data`);
    /// `message` names the JSON path. Not retried: the same request gets
    /// the same answer. Bad values inside records are not errors: pages
    /// report them (`Page::bad`).
    #[error(
        "unexpected answer from {endpoint}: {message}: the answer is not what this version understands; report it"
    )]
    Unexpected { endpoint: String, message: String },

    /// A page broke the pagination contract (oversized page, record outside
    /// the window, repeated cursor).
    #[error(
        "{cdr_type} {window}: {source}: the server broke the pagination contract; retry the window later or report it"
    )]
    Pagination {
        cdr_type: CdrType,
        window: Window,
        #[source]
        source: PaginationError,
    },

    /// An export download ended without a proper end: the connection dropped,
    /// the chunked body was not terminated, or fewer bytes than announced
    /// arrived. What was received is incomplete.
    #[error(
        "export of {cdr_type} {window} was cut after {received} bytes{}: {reason}: discard what was received, split the window into smaller ones and export them again",
        expected.map(|n| format!(" of {n}")).unwrap_or_default()
    )]
    ExportCut {
        cdr_type: CdrType,
        window: Window,
        received: u64,
        expected: Option<u64>,
        reason: String,
    },

    /// An export download went on too long or too slowly (see
    /// [`Limits`](crate::Limits)) and was given up: what was received is
    /// incomplete. Unlike [`TransportError::ExportCut`], smaller windows would
    /// not help against a server that stalls; a later run may succeed.
    #[error(
        "export of {cdr_type} {window} was given up after {received} bytes: {limit}: the server sends too slowly; discard what was received and try again later"
    )]
    ExportStalled {
        cdr_type: CdrType,
        window: Window,
        received: u64,
        limit: ExportLimit,
    },

    /// The export link, or a redirect it led to, goes somewhere this client
    /// does not download from: not `https`, a private, loopback, link-local or
    /// metadata address (as written or as resolved), or too many redirects.
    /// `endpoint` is the origin of the refused URL.
    #[error(
        "refused to download the export from {endpoint}: {reason}: an export link must lead to a public https address; report it to the provider"
    )]
    ExportRefused { endpoint: String, reason: String },
}

/// Why an export download was given up while it still went on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportLimit {
    /// The whole download took longer than its deadline.
    Deadline(Duration),
    /// Fewer than `bytes_per_sec` bytes a second arrived over `period`.
    Rate {
        bytes_per_sec: u64,
        period: Duration,
    },
}

impl fmt::Display for ExportLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportLimit::Deadline(d) => {
                write!(f, "it took longer than the deadline of {}s", d.as_secs())
            }
            ExportLimit::Rate {
                bytes_per_sec,
                period,
            } => write!(
                f,
                "fewer than {bytes_per_sec} bytes a second arrived over {}s",
                period.as_secs_f64()
            ),
        }
    }
}

/// What was wrong with the credentials or the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthProblem {
    /// The login was refused; holds the server's message.
    BadCredentials(String),
    /// The static token was rejected; holds the server's message.
    TokenRejected(String),
    /// A token issued by a fresh login was rejected at once.
    FreshTokenRejected(String),
}

impl fmt::Display for AuthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthProblem::BadCredentials(m) => write!(
                f,
                "login refused{}: check the email and password (TSG_EMAIL, TSG_PASSWORD)",
                detail_suffix(m)
            ),
            AuthProblem::TokenRejected(m) => write!(
                f,
                "the API refused the token (expired or invalid){}: set a fresh TSG_TOKEN (tokens last 7 days), or TSG_EMAIL and TSG_PASSWORD to log in",
                detail_suffix(m)
            ),
            AuthProblem::FreshTokenRejected(m) => write!(
                f,
                "the API refused the token of a fresh login too{}: check that this user (TSG_EMAIL) may read CDRs and may pass a company id, or set TSG_TOKEN to a token that may",
                detail_suffix(m)
            ),
        }
    }
}

/// How a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkKind {
    /// No connection could be established.
    Connect,
    /// The request or a read took longer than the configured timeout.
    Timeout,
    /// An established connection was reset or closed early, or a body ended
    /// before its announced end.
    Reset,
    /// Any other transport failure.
    Other,
}

impl NetworkKind {
    fn hint(self) -> &'static str {
        match self {
            NetworkKind::Connect => "check the API URL and the network",
            NetworkKind::Timeout => "the server is slow; raise the timeout or try again later",
            NetworkKind::Reset | NetworkKind::Other => "the network is unreliable; try again later",
        }
    }
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Connect => "connect",
            NetworkKind::Timeout => "timeout",
            NetworkKind::Reset => "connection dropped",
            NetworkKind::Other => "transport",
        })
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        500..=599 => "the server failed; try again later",
        400 => "the server rejected the request; check the type, window and options",
        403 => {
            "the user may not do this; check the account's permissions (only admin users may pass a company id)"
        }
        404 => "nothing at this URL; check the API URL (the base, without /graphql)",
        _ => "unexpected answer; check the API URL",
    }
}

fn class_hint(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidArgument => "the request is invalid; change the type, window or options",
        ErrorClass::Unauthorized => "log in again",
        ErrorClass::Other => "retry later or report it",
    }
}

#[cfg(test)]
mod tests;
