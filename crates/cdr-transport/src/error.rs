//! The errors of this crate. Every message says what happened and what to do,
//! and carries endpoints without query strings: no token, password or export
//! link ever appears in one. Text that comes from the server (its error
//! messages and bodies) is passed through [`cdr_core::sanitize`] before it is
//! stored in an error.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use cdr_core::{CdrType, ErrorClass, GraphQlErrors, PaginationError, Window};

use crate::retry::RetryReason;

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

/// What a failed connection attempt says about the API being reachable, in
/// a few words before the full message.
fn connect_cause(message: &str) -> String {
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

    /// A network error from reqwest, described without its URL.
    pub(crate) fn network(endpoint: &str, e: reqwest::Error) -> TransportError {
        if e.is_builder() {
            return TransportError::Config {
                message: describe(&e.without_url()),
            };
        }
        TransportError::Network {
            endpoint: endpoint.to_string(),
            kind: network_kind(&e),
            attempts: 1,
            message: describe(&e.without_url()),
        }
    }
}

pub(crate) fn network_kind(e: &reqwest::Error) -> NetworkKind {
    if e.is_timeout() {
        NetworkKind::Timeout
    } else if e.is_connect() {
        NetworkKind::Connect
    } else if e.is_body() || e.is_decode() || e.is_request() {
        NetworkKind::Reset
    } else {
        NetworkKind::Other
    }
}

/// An error and its causes on one line. Only for errors that carry no URL
/// (reqwest errors must go through `without_url` first).
pub(crate) fn describe(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::{GraphQlError, parse_datetime};

    fn window() -> Window {
        Window::new(
            parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            parse_datetime("2026-11-01T01:00:00Z").unwrap(),
        )
        .unwrap()
    }

    fn server(status: u16) -> TransportError {
        TransportError::Server {
            endpoint: "https://h/graphql".into(),
            status,
            attempts: 1,
            detail: String::new(),
            retry_after: None,
        }
    }

    fn graphql(class: ErrorClass) -> TransportError {
        TransportError::GraphQl {
            endpoint: "https://h/graphql".into(),
            class,
            errors: GraphQlErrors(vec![GraphQlError {
                message: "limit must be between 1 and 1000".into(),
                path: None,
                extensions: None,
            }]),
        }
    }

    fn net(kind: NetworkKind) -> TransportError {
        TransportError::Network {
            endpoint: "https://h/graphql".into(),
            kind,
            attempts: 1,
            message: "connection reset by peer".into(),
        }
    }

    #[test]
    fn retry_classification() {
        let check = |e: TransportError, want: Option<RetryReason>| {
            assert_eq!(e.retry_reason(), want, "{e}");
        };
        check(
            TransportError::RateLimited {
                endpoint: "e".into(),
                attempts: 1,
                retry_after: None,
            },
            Some(RetryReason::RateLimited),
        );
        for s in [500, 502, 503, 504] {
            check(server(s), Some(RetryReason::ServerError));
        }
        for s in [400, 403, 404, 405, 418, 501, 505] {
            check(server(s), None);
        }
        check(net(NetworkKind::Connect), Some(RetryReason::Connect));
        check(net(NetworkKind::Timeout), Some(RetryReason::Timeout));
        check(net(NetworkKind::Reset), Some(RetryReason::Reset));
        check(net(NetworkKind::Other), Some(RetryReason::Network));
        check(
            TransportError::Decode {
                endpoint: "e".into(),
                attempts: 1,
                message: "EOF while parsing".into(),
            },
            Some(RetryReason::Decode),
        );
        check(
            TransportError::Unexpected {
                endpoint: "e".into(),
                message: "missing field `paginationInfo`".into(),
            },
            None,
        );
        check(
            TransportError::Unreachable {
                endpoint: "e".into(),
                attempts: 3,
                cause: "connection refused".into(),
            },
            None,
        );
        check(graphql(ErrorClass::InvalidArgument), None);
        check(graphql(ErrorClass::Other), Some(RetryReason::ServerError));
        check(graphql(ErrorClass::Unauthorized), None);
        check(
            TransportError::Auth {
                endpoint: "e".into(),
                problem: AuthProblem::BadCredentials(String::new()),
            },
            None,
        );
        check(
            TransportError::Pagination {
                cdr_type: CdrType::Sms,
                window: window(),
                source: PaginationError::RepeatedCursor { page: 3 },
            },
            None,
        );
        let cut = TransportError::ExportCut {
            cdr_type: CdrType::Sms,
            window: window(),
            received: 10,
            expected: Some(20),
            reason: "x".into(),
        };
        assert_eq!(cut.retry_reason(), None);
        // Not retried inside, but worth retrying after a split.
        assert!(cut.is_retryable());
        assert!(!server(404).is_retryable());
    }

    #[test]
    fn messages_say_what_to_do() {
        let check = |e: TransportError, needles: &[&str]| {
            let msg = e.to_string();
            for n in needles {
                assert!(msg.contains(n), "`{n}` not in: {msg}");
            }
        };
        check(
            TransportError::Auth {
                endpoint: "https://h/account/login".into(),
                problem: AuthProblem::BadCredentials("Invalid email or password.".into()),
            },
            &[
                "https://h/account/login",
                "(Invalid email or password.)",
                "TSG_PASSWORD",
            ],
        );
        check(
            TransportError::Auth {
                endpoint: "https://h/graphql".into(),
                problem: AuthProblem::TokenRejected(String::new()),
            },
            &[
                "the API refused the token (expired or invalid): set a fresh TSG_TOKEN",
                "or TSG_EMAIL and TSG_PASSWORD to log in",
            ],
        );
        check(
            TransportError::Auth {
                endpoint: "https://h/graphql".into(),
                problem: AuthProblem::FreshTokenRejected("jwt expired".into()),
            },
            &[
                "refused the token of a fresh login too (jwt expired)",
                "TSG_TOKEN",
            ],
        );
        check(
            net(NetworkKind::Connect).into_unreachable(3),
            &[
                "cannot reach the API at https://h/graphql after 3 attempt(s)",
                "TSG_API_URL",
            ],
        );
        check(
            server(404).into_unreachable(1),
            &[
                "https://h/graphql after 1 attempt(s): HTTP 404",
                "without /graphql",
            ],
        );
        check(server(503), &["HTTP 503", "try again later"]);
        check(server(403), &["HTTP 403", "permissions"]);
        check(
            graphql(ErrorClass::InvalidArgument),
            &["limit must be between", "change the"],
        );
        check(
            net(NetworkKind::Connect),
            &["network error (connect)", "check the API URL"],
        );
        check(
            TransportError::ExportCut {
                cdr_type: CdrType::Voice,
                window: window(),
                received: 10,
                expected: Some(20),
                reason: "connection closed".into(),
            },
            &["VOICE", "cut after 10 bytes of 20", "split the window"],
        );
        check(
            TransportError::Pagination {
                cdr_type: CdrType::Sms,
                window: window(),
                source: PaginationError::RepeatedCursor { page: 3 },
            },
            &[
                "SMS [2026-11-01T00:00:00Z, 2026-11-01T01:00:00Z)",
                "page 3",
                "looping",
            ],
        );
    }

    #[test]
    fn unreachable_faults_are_told_by_their_cause_and_contact() {
        let never = Answered::default();
        let login_only = Answered {
            api: true,
            endpoint: false,
        };
        let both = Answered {
            api: true,
            endpoint: true,
        };
        let connect = net(NetworkKind::Connect);
        assert!(connect.may_be_unreachable(never));
        assert!(!connect.may_be_unreachable(login_only), "the host answered");
        assert!(server(404).may_be_unreachable(login_only));
        assert!(!server(404).may_be_unreachable(both));
        for e in [
            net(NetworkKind::Timeout),
            net(NetworkKind::Reset),
            server(503),
        ] {
            assert!(!e.may_be_unreachable(never), "{e}");
        }
        for (message, label) in [
            (
                "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
                "connection refused (",
            ),
            (
                "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known",
                "the host name does not resolve (",
            ),
            (
                "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer",
                "TLS failed (",
            ),
            ("something else", "something else"),
        ] {
            assert!(connect_cause(message).starts_with(label), "{message}");
        }
        let e = connect.into_unreachable(2);
        assert!(
            e.is_unreachable() && e.is_fatal() && !e.is_retryable(),
            "{e}"
        );
        assert!(!server(503).is_fatal());
        assert!(
            TransportError::Auth {
                endpoint: "e".into(),
                problem: AuthProblem::TokenRejected(String::new()),
            }
            .is_fatal()
        );
    }

    #[test]
    fn describe_joins_causes_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl fmt::Display for E {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for E {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "error sending request",
            Some(Box::new(E(
                "connection closed",
                Some(Box::new(E("closed", None))),
            ))),
        );
        assert_eq!(describe(&e), "error sending request: connection closed");
    }
}
