//! Tests of the error types' messages and of their classification.

use std::error::Error as StdError;
use std::fmt;

use super::classify::{Answered, connect_cause};
use super::network::describe;
use crate::reason::RetryReason;

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
