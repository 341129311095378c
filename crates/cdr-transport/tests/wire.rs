//! Wire-level behaviour against a scripted HTTP/1.1 server that answers each
//! request with prepared bytes: exact control over cut bodies, chunked
//! encoding, error answers and silence.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use cdr_core::{CdrType, ErrorClass, Token, Window};
use cdr_transport::{
    Auth, AuthProblem, Client, ClientConfig, ExportRequest, NetworkKind, RecordsRequest,
    RetryPolicy, TransportError,
};
use common::{EMPTY_PAGE, FAX, Reply, SMS_AT_0, Script, http, json, page_json};
use futures_util::{StreamExt, TryStreamExt};

fn window() -> Window {
    common::window("2026-11-01T00:00:00Z", 60)
}

fn client(addr: SocketAddr, retry: RetryPolicy) -> Client {
    let mut config = ClientConfig::new(Auth::Token(Token::new("POAPK_wire-secret-token")))
        .with_base_url(format!("http://{addr}"))
        .with_retry(retry);
    config.timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_millis(500);
    Client::new(config).unwrap()
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_total: Duration::from_secs(10),
    }
}

/// Scripts the export link answer and returns the client.
async fn export_server(script: &Script, export: Reply) -> Client {
    let addr = script.start().await;
    script.push(
        "/graphql",
        json(&format!(
            r#"{{"data":{{"cdrRecords":{{"exportLink":"http://{addr}/export/file.csv?sig=SECRET-SIGNATURE","paginationInfo":{{"nextCursor":"c1","limit":1}},"cdrs":[]}}}}}}"#
        )),
    );
    script.push("/export/file.csv", export);
    client(addr, fast_retries(3))
}

async fn collect_export(c: &Client) -> (Vec<u8>, Option<TransportError>) {
    let mut body = c
        .export(ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(item) = body.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(e) => {
                assert!(body.next().await.is_none(), "the stream ends after a cut");
                return (got, Some(e));
            }
        }
    }
    (got, None)
}

#[tokio::test]
async fn export_with_fewer_bytes_than_content_length_is_cut() {
    let script = Script::default();
    let c = export_server(
        &script,
        Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ndatetime,charge\n2026".to_vec(),
        ),
    )
    .await;
    let (got, err) = collect_export(&c).await;
    assert_eq!(got, b"datetime,charge\n2026");
    let err = err.expect("a cut export is an error");
    assert!(
        matches!(
            err,
            TransportError::ExportCut {
                received: 20,
                expected: Some(100),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("SECRET-SIGNATURE"), "{shown}");
    assert!(shown.contains("split the window"), "{shown}");
    // The token is not sent along with the signed link.
    let seen = script.seen.lock().unwrap();
    let export_head = &seen
        .iter()
        .find(|(p, _)| p == "/export/file.csv")
        .unwrap()
        .1;
    assert!(!export_head.contains("POAPK_"), "{export_head}");
    let graphql_head = &seen.iter().find(|(p, _)| p == "/graphql").unwrap().1;
    assert!(graphql_head.contains("Bearer POAPK_wire-secret-token"));
}

#[tokio::test]
async fn export_with_unterminated_chunked_body_is_cut() {
    let script = Script::default();
    let c = export_server(
        &script,
        Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n3\r\nab"
                .to_vec(),
        ),
    )
    .await;
    let (got, err) = collect_export(&c).await;
    assert!(got.starts_with(b"hello\n"), "{got:?}");
    assert!(
        matches!(err, Some(TransportError::ExportCut { expected: None, .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn complete_exports_stream_to_the_end() {
    let script = Script::default();
    let c = export_server(
        &script,
        Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\n\r\n"
                .to_vec(),
        ),
    )
    .await;
    let (got, err) = collect_export(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, b"hello\nworld\n");
    assert_eq!(c.stats().export_bytes, 12);

    let script = Script::default();
    let c = export_server(&script, http("200 OK", "", "a,b\n1,2\n")).await;
    let (got, err) = collect_export(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, b"a,b\n1,2\n");
}

#[tokio::test]
async fn export_download_errors_before_the_body_are_retried() {
    let script = Script::default();
    let c = export_server(&script, http("503 Service Unavailable", "", "busy")).await;
    script.push("/export/file.csv", http("200 OK", "", "x\n"));
    let (got, err) = collect_export(&c).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, b"x\n");
    assert_eq!(script.requests("/export/file.csv"), 2);
    assert_eq!(c.stats().retries_server_error, 1);

    // An expired link (403) is not retried.
    let script = Script::default();
    let c = export_server(&script, http("403 Forbidden", "", "expired")).await;
    let err = c
        .export(ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Server { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert_eq!(script.requests("/export/file.csv"), 1);
}

#[tokio::test]
async fn a_rejected_static_token_asks_to_renew_it() {
    for reply in [
        json(
            r#"{"data":null,"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#,
        ),
        http(
            "401 Unauthorized",
            "",
            r#"{"errors":[{"message":"token expired"}]}"#,
        ),
        http(
            "400 Bad Request",
            "",
            r#"{"errors":[{"message":"Invalid token:\nsignature mismatch"}]}"#,
        ),
        http("403 Forbidden", "", "<html>forbidden</html>"),
        json(r#"{"data":null,"errors":[{"message":"jwt expired"}]}"#),
    ] {
        let script = Script::default();
        let addr = script.start().await;
        script.push("/graphql", reply);
        let c = client(addr, fast_retries(5));
        let err = c
            .records(RecordsRequest::new(CdrType::Sms, window()))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                TransportError::Auth {
                    problem: AuthProblem::TokenRejected(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("set a fresh TSG_TOKEN"), "{err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        assert!(!err.to_string().contains("POAPK_wire"), "{err}");
        assert_eq!(script.requests("/graphql"), 1);
        assert_eq!(c.stats().retries, 0);
    }
}

#[tokio::test]
async fn undecodable_bodies_are_retried() {
    let script = Script::default();
    let addr = script.start().await;
    script.push(
        "/graphql",
        json(r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCurs"#),
    );
    script.push("/graphql", json("<html>oops</html>"));
    script.push("/graphql", json(EMPTY_PAGE));
    let c = client(addr, fast_retries(5));
    let pages: Vec<_> = c
        .records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(c.stats().retries_decode, 2);
    assert_eq!(c.stats().requests, 3);

    // When every attempt is cut short, the error says where the JSON ended.
    let script = Script::default();
    let addr = script.start().await;
    for _ in 0..3 {
        script.push(
            "/graphql",
            json(r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[{"__typename":"Mess"#),
        );
    }
    let c = client(addr, fast_retries(3));
    let err = c
        .records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Decode { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("EOF while parsing"), "{err}");
}

#[tokio::test]
async fn answers_of_an_unexpected_shape_are_not_retried() {
    for body in [
        r#"{"data":{"cdrRecords":{"cdrs":[]}}}"#,
        r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[null]}}}"#,
        r#"{"data":null}"#,
    ] {
        let script = Script::default();
        let addr = script.start().await;
        script.push("/graphql", json(body));
        script.push("/graphql", json(EMPTY_PAGE));
        let c = client(addr, fast_retries(5));
        let err = c
            .records(RecordsRequest::new(CdrType::Sms, window()))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransportError::Unexpected { .. }),
            "{body}: {err:?}"
        );
        assert!(!err.is_retryable());
        assert_eq!(script.requests("/graphql"), 1, "{body}: not retried");
        assert_eq!(c.stats().retries, 0);
    }
}

#[tokio::test]
async fn bad_values_are_reported_with_the_page_and_not_retried() {
    let script = Script::default();
    let addr = script.start().await;
    let na = r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"N/A"}"#;
    let voice = r#"{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z"}"#;
    script.push("/graphql", page_json(&[SMS_AT_0, na, voice], None));
    let c = client(addr, fast_retries(5));
    let mut request = RecordsRequest::new(CdrType::Sms, window());
    request.limit = cdr_core::Limit::new(3).unwrap();
    let pages: Vec<_> = c.records(request).try_collect().await.unwrap();
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_eq!(page.records.len(), 1);
    let bad: Vec<(usize, &str)> = page
        .bad
        .iter()
        .map(|b| (b.index, b.field.as_str()))
        .collect();
    assert_eq!(bad, [(1, "charge"), (2, "__typename")]);
    assert_eq!(page.bad[0].raw, na);
    assert_eq!(script.requests("/graphql"), 1, "not retried");
    let stats = c.stats();
    assert_eq!((stats.records, stats.bad_records, stats.retries), (1, 2, 0));
}

#[tokio::test]
async fn requests_that_need_a_change_are_not_retried() {
    type Check = fn(&TransportError) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (
            json(
                r#"{"data":null,"errors":[{"message":"Argument \"limit\" has invalid value 5000."}]}"#,
            ),
            |e| {
                matches!(
                    e,
                    TransportError::GraphQl {
                        class: ErrorClass::InvalidArgument,
                        ..
                    }
                )
            },
        ),
        (
            http(
                "400 Bad Request",
                "",
                r#"{"errors":[{"message":"Cannot query field \"foo\" on type \"ApiCdr\"."}]}"#,
            ),
            |e| {
                matches!(
                    e,
                    TransportError::GraphQl {
                        class: ErrorClass::InvalidArgument,
                        ..
                    }
                )
            },
        ),
        (
            // A 400 whose message matches no known wording still blames the request.
            http(
                "400 Bad Request",
                "",
                r#"{"errors":[{"message":"Expected type DateTime!, found 12."}]}"#,
            ),
            |e| {
                matches!(
                    e,
                    TransportError::GraphQl {
                        class: ErrorClass::InvalidArgument,
                        ..
                    }
                )
            },
        ),
        (http("400 Bad Request", "", "bad"), |e| {
            matches!(e, TransportError::Server { status: 400, .. })
        }),
        // A static token refused by a 403: there is nothing to renew it with.
        (http("403 Forbidden", "", ""), |e| {
            matches!(
                e,
                TransportError::Auth {
                    problem: AuthProblem::TokenRejected(_),
                    ..
                }
            )
        }),
        // Nothing at the URL, before the API ever answered: a wrong URL.
        (http("404 Not Found", "", ""), |e| {
            matches!(e, TransportError::Unreachable { attempts: 1, .. })
        }),
    ];
    for (reply, expected) in cases {
        let script = Script::default();
        let addr = script.start().await;
        script.push("/graphql", reply);
        let c = client(addr, fast_retries(5));
        let err = c
            .records(RecordsRequest::new(CdrType::Sms, window()))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert!(!err.is_retryable(), "{err:?}");
        assert_eq!(script.requests("/graphql"), 1, "{err}");
    }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_then_reported() {
    let script = Script::default();
    let addr = script.start().await;
    script.push(
        "/graphql",
        http("429 Too Many Requests", "Retry-After: 0\r\n", ""),
    );
    script.push("/graphql", http("502 Bad Gateway", "", "<html>502</html>"));
    script.push("/graphql", http("504 Gateway Timeout", "", ""));
    script.push(
        "/graphql",
        json(r#"{"data":null,"errors":[{"message":"database timeout"}]}"#),
    );
    script.push("/graphql", json(EMPTY_PAGE));
    let c = client(addr, fast_retries(5));
    let pages: Vec<_> = c
        .records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    let s = c.stats();
    assert_eq!(
        (s.retries_rate_limited, s.retries_server_error, s.retries),
        (1, 3, 4)
    );

    // Retry-After is honoured even when the backoff would be shorter.
    let script = Script::default();
    let addr = script.start().await;
    script.push(
        "/graphql",
        http("429 Too Many Requests", "Retry-After: 1\r\n", ""),
    );
    script.push("/graphql", json(EMPTY_PAGE));
    let c = client(addr, fast_retries(5));
    let started = std::time::Instant::now();
    c.records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(3));

    let script = Script::default();
    let addr = script.start().await;
    for _ in 0..3 {
        script.push("/graphql", http("429 Too Many Requests", "", ""));
    }
    let c = client(addr, fast_retries(3));
    let err = c
        .records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_bounds() {
    let script = Script::default();
    let addr = script.start().await;
    for _ in 0..3 {
        script.push("/graphql", Reply::Silence);
    }
    let c = client(addr, fast_retries(3));
    let started = std::time::Instant::now();
    let err = c
        .records(RecordsRequest::new(CdrType::Sms, window()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            TransportError::Network {
                kind: NetworkKind::Timeout,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    // Three attempts of 500 ms each plus two short backoffs.
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(c.stats().retries_timeout, 2);
}

#[tokio::test]
async fn pages_that_break_the_contract_end_the_stream() {
    let outside = r#"{"__typename":"MessageCdr","datetime":"2026-11-01T01:00:00Z"}"#;
    type Check = fn(&cdr_core::PaginationError) -> bool;
    let cases: Vec<(Vec<Reply>, Check)> = vec![
        (vec![page_json(&[SMS_AT_0, outside], None)], |e| {
            matches!(e, cdr_core::PaginationError::OutsideWindow { index: 1, .. })
        }),
        (
            vec![
                page_json(&[SMS_AT_0], Some("same")),
                page_json(&[SMS_AT_0], Some("same")),
            ],
            |e| matches!(e, cdr_core::PaginationError::RepeatedCursor { page: 1 }),
        ),
        (
            vec![page_json(&[SMS_AT_0, SMS_AT_0, FAX, SMS_AT_0], None)],
            |e| matches!(e, cdr_core::PaginationError::PageTooLarge { got: 4, .. }),
        ),
    ];
    for (replies, expected) in cases {
        let script = Script::default();
        let addr = script.start().await;
        let n = replies.len();
        for r in replies {
            script.push("/graphql", r);
        }
        let c = client(addr, fast_retries(3));
        let mut request = RecordsRequest::new(CdrType::Sms, window());
        request.limit = cdr_core::Limit::new(3).unwrap();
        let mut stream = c.records(request);
        let mut pages = 0;
        let err = loop {
            match stream.next().await {
                Some(Ok(_)) => pages += 1,
                Some(Err(e)) => break e,
                None => panic!("the stream ended without an error"),
            }
        };
        assert_eq!(pages, n - 1);
        match &err {
            TransportError::Pagination { source, .. } => assert!(expected(source), "{err}"),
            other => panic!("not a pagination error: {other:?}"),
        }
        assert!(!err.is_retryable());
        assert!(
            stream.next().await.is_none(),
            "the stream ends after an error"
        );
        assert_eq!(script.requests("/graphql"), n, "not retried");
    }
}
