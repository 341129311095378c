//! A broken or hostile server cannot hurt the client: redirects do not carry
//! credentials elsewhere, bodies are read within their limits, slow exports
//! are given up, export links cannot reach private or metadata addresses,
//! and the server's text is sanitized before it is shown. The servers are
//! scripted here, byte for byte.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use cdr_core::{CdrType, Token, Window};
use cdr_transport::{
    Auth, Client, ClientConfig, ExportLimit, ExportRequest, Limits, RetryPolicy, TransportError,
};
use common::{Reply, Script, capture_logs, download, http, json, login, page_json, request};
use futures_util::TryStreamExt;

const TOKEN: &str = "POAPK_hostile-secret-token";
const PASSWORD: &str = "pw-Hostile-7731";

fn window() -> Window {
    common::window("2026-11-01T00:00:00Z", 60)
}

fn config(addr: SocketAddr, auth: Auth) -> ClientConfig {
    let mut config = ClientConfig::new(auth)
        .with_base_url(format!("http://{addr}"))
        .with_retry(RetryPolicy::none());
    config.timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    config
}

fn token() -> Auth {
    Auth::Token(Token::new(TOKEN))
}

fn two_attempts() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        max_total: Duration::from_secs(10),
    }
}

/// The GraphQL answer that hands out `link` as the export link.
fn link_page(link: &str) -> Reply {
    json(&format!(
        r#"{{"data":{{"cdrRecords":{{"exportLink":"{link}","paginationInfo":{{"nextCursor":null,"limit":1}},"cdrs":[]}}}}}}"#
    ))
}

fn redirect(status: &str, location: &str) -> Reply {
    http(status, &format!("Location: {location}\r\n"), "")
}

/// Every secret of these tests, none of which may be shown.
fn assert_no_secret(text: &str) {
    for secret in [TOKEN, "hostile-secret", PASSWORD, "sig=", "steal", "\x1b"] {
        assert!(!text.contains(secret), "`{secret}` shown in: {text}");
    }
}

#[tokio::test]
async fn a_login_redirected_elsewhere_sends_the_password_nowhere_else() {
    for status in [
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let api = Script::default();
        let other = Script::default();
        let api_addr = api.start().await;
        let other_addr = other.start_on("127.0.0.2").await;
        api.push(
            "/account/login",
            redirect(status, &format!("http://{other_addr}/steal?sig=S")),
        );
        let mut cfg = config(api_addr, login("ops@example.com", PASSWORD));
        cfg.retry = two_attempts();
        let c = Client::new(cfg).unwrap();
        let err = c.login().await.unwrap_err();

        assert!(
            matches!(&err, TransportError::Redirected { host, .. } if *host == other_addr.to_string()),
            "{err:?}"
        );
        assert!(err.is_fatal() && !err.is_retryable(), "{err}");
        let text = err.to_string();
        let code = &status[..3];
        assert!(text.contains(&format!("HTTP {code}")), "{text}");
        assert!(
            text.contains(&format!("a redirect to {other_addr}")),
            "{text}"
        );
        assert!(text.contains("TSG_API_URL"), "{text}");
        assert_no_secret(&format!("{text} {err:?}"));
        // Asked once, and the other host never heard from us.
        assert_eq!(api.requests("/account/login"), 1);
        assert!(other.received.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_query_redirected_elsewhere_sends_the_token_nowhere_else() {
    let api = Script::default();
    let other = Script::default();
    let api_addr = api.start().await;
    let other_addr = other.start_on("127.0.0.2").await;
    api.push(
        "/graphql",
        redirect(
            "307 Temporary Redirect",
            &format!("http://{other_addr}/graphql"),
        ),
    );
    let c = Client::new(config(api_addr, token())).unwrap();
    let err = common::fetch(&c, request(CdrType::Sms, window(), 10))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Redirected { status: 307, .. }),
        "{err:?}"
    );
    assert_no_secret(&err.to_string());
    assert!(other.received.lock().unwrap().is_empty());
}

/// A chunked answer whose body never ends: 64 KiB chunks of spaces.
fn endless() -> Reply {
    let data = vec![b' '; 64 * 1024];
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(b"\r\n");
    Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
        chunk,
    }
}

/// An allocator that counts the bytes each thread holds, and the most it
/// held since [`peak_during`] started. Per thread, so that other tests
/// running at the same time do not count; a `current_thread` runtime runs a
/// test's tasks (the HTTP connection included) on the test's own thread.
struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counting touches only const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Both blocks are live while the bytes move.
        count(new_size as i64);
        // SAFETY: the caller's contract is passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        count(-(layout.size() as i64));
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes this thread held at once while `f` ran, beyond what it
/// held before.
async fn peak_during<T>(f: impl std::future::Future<Output = T>) -> (T, i64) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f.await;
    (out, PEAK.with(Cell::get) - before)
}

#[tokio::test]
async fn an_endless_page_is_given_up_at_the_limit_in_bounded_memory() {
    const LIMIT: u64 = 8 * 1024 * 1024;
    let script = Script::default();
    let addr = script.start().await;
    script.push("/graphql", endless());
    let mut cfg = config(addr, token());
    cfg.limits.max_page_bytes = LIMIT;
    let c = Client::new(cfg).unwrap();

    let (result, peak) = peak_during(common::fetch(&c, request(CdrType::Sms, window(), 10))).await;
    let err = result.unwrap_err();
    let TransportError::TooLarge {
        limit,
        announced,
        received,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((limit, announced), (LIMIT, None));
    // Reading stopped with the chunk that crossed the limit.
    assert!(
        received > LIMIT && received <= LIMIT + 1024 * 1024,
        "{received}"
    );
    assert!(peak < 2 * LIMIT as i64, "peak {peak} bytes");
    // The connection was dropped: the server's writes fail, it stops.
    script.gone.notified().await;
    // Not asked again within the run.
    assert_eq!(script.requests("/graphql"), 1);
}

#[tokio::test]
async fn an_announced_oversized_page_is_refused_before_reading() {
    let script = Script::default();
    let addr = script.start().await;
    script.push(
        "/graphql",
        Reply::Drip {
            head: b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n".to_vec(),
            every: Duration::from_millis(50),
        },
    );
    let c = Client::new(config(addr, token())).unwrap();
    let err = common::fetch(&c, request(CdrType::Sms, window(), 10))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::TooLarge {
                announced: Some(10_000_000_000),
                received: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("it announced 10000000000"), "{text}");
    assert!(text.contains("--limit"), "{text}");
    assert!(err.is_retryable() && !err.is_fatal());
    script.gone.notified().await;
}

/// An export whose link leads to `export` on the same scripted server.
async fn export_client(script: &Script, export: Reply, limits: Limits) -> Client {
    let addr = script.start().await;
    script.push(
        "/graphql",
        link_page(&format!("http://{addr}/export/x.csv?sig=S")),
    );
    script.push("/export/x.csv", export);
    let mut cfg = config(addr, token());
    cfg.limits = limits;
    Client::new(cfg).unwrap()
}

#[tokio::test]
async fn an_export_dripping_bytes_is_given_up_at_the_deadline() {
    let script = Script::default();
    let limits = Limits {
        export_deadline: Duration::from_millis(600),
        export_min_rate: 0,
        ..Limits::default()
    };
    let drip = Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_vec(),
        every: Duration::from_millis(50),
    };
    let c = export_client(&script, drip, limits).await;
    let err = download(&c, ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap_err();
    match &err {
        TransportError::ExportStalled {
            limit: ExportLimit::Deadline(d),
            received,
            ..
        } => {
            assert_eq!(*d, limits.export_deadline);
            assert!(*received < 1_000_000, "{received}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable() && !err.is_fatal());
    // Given up, not split: no second download of the window.
    assert_eq!(script.requests("/export/x.csv"), 1);
    script.gone.notified().await;
}

#[tokio::test]
async fn an_export_slower_than_the_minimum_rate_is_given_up() {
    let script = Script::default();
    let limits = Limits {
        export_min_rate: 1000,
        export_rate_period: Duration::from_millis(300),
        ..Limits::default()
    };
    let drip = Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_vec(),
        every: Duration::from_millis(20),
    };
    let c = export_client(&script, drip, limits).await;
    let err = download(&c, ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::ExportStalled {
                limit: ExportLimit::Rate {
                    bytes_per_sec: 1000,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("fewer than 1000 bytes a second"), "{text}");
    assert_no_secret(&text);
}

/// The export of a client whose GraphQL answer hands out `link`, with
/// `resolve` pinning host names; the error and the requests sent.
async fn refused_export(
    link: &str,
    resolve: Vec<(String, std::net::IpAddr)>,
) -> (TransportError, u64) {
    let script = Script::default();
    let addr = script.start().await;
    script.push("/graphql", link_page(link));
    let mut cfg = config(addr, token());
    cfg.resolve = resolve;
    let c = Client::new(cfg).unwrap();
    let err = c
        .export(ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap_err();
    (err, c.stats().requests)
}

#[tokio::test]
async fn export_links_to_metadata_or_private_addresses_are_refused_unsent() {
    let metadata = "169.254.169.254".parse().unwrap();
    for (link, resolve, shown) in [
        (
            "https://169.254.169.254/latest/meta-data/iam?sig=S",
            vec![],
            "169.254.169.254 is a cloud metadata address",
        ),
        (
            "https://[fd00:ec2::254]/latest?sig=S",
            vec![],
            "fd00:ec2::254 is a cloud metadata address",
        ),
        (
            "https://10.1.2.3/x?sig=S",
            vec![],
            "10.1.2.3 is a private address",
        ),
        (
            "https://metadata.attacker.test/latest?sig=S",
            vec![("metadata.attacker.test".to_string(), metadata)],
            "metadata.attacker.test (169.254.169.254) is a cloud metadata address",
        ),
    ] {
        let (err, requests) = refused_export(link, resolve).await;
        let text = err.to_string();
        assert!(
            matches!(err, TransportError::ExportRefused { .. }),
            "{link}: {err:?}"
        );
        assert!(text.contains(shown), "{text}");
        assert!(!text.contains("latest"), "{text}");
        assert_no_secret(&text);
        // Only the GraphQL request was sent: no connection to the link.
        assert_eq!(requests, 1, "{link}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn export_redirects_are_checked_and_counted() {
    let metadata = "169.254.169.254".parse().unwrap();
    for (location, shown) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "a redirect: 169.254.169.254 is a cloud metadata address",
        ),
        (
            "https://metadata.attacker.test/latest",
            "metadata.attacker.test (169.254.169.254) is a cloud metadata address",
        ),
        (
            "http://[::ffff:10.0.0.1]/x",
            "a redirect: ::ffff:10.0.0.1 is a private address",
        ),
        (
            "ftp://example.com/x",
            "a redirect: the scheme `ftp` is not https",
        ),
    ] {
        let script = Script::default();
        let addr = script.start().await;
        script.push(
            "/graphql",
            link_page(&format!("http://{addr}/export/x.csv?sig=S")),
        );
        script.push("/export/x.csv", redirect("302 Found", location));
        let mut cfg = config(addr, token());
        cfg.resolve = vec![("metadata.attacker.test".to_string(), metadata)];
        let c = Client::new(cfg).unwrap();
        let err = c
            .export(ExportRequest::new(CdrType::Sms, window()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransportError::ExportRefused { .. }),
            "{location}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(shown), "{text}");
        assert_no_secret(&text);
    }

    // Three redirects are followed, a fourth is not.
    for (hops, ok) in [(3, true), (4, false)] {
        let script = Script::default();
        let addr = script.start().await;
        script.push(
            "/graphql",
            link_page(&format!("http://{addr}/export/0?sig=S")),
        );
        for hop in 0..hops {
            script.push(
                &format!("/export/{hop}"),
                redirect("302 Found", &format!("/export/{}", hop + 1)),
            );
        }
        script.push(&format!("/export/{hops}"), http("200 OK", "", "a,b\n"));
        let c = Client::new(config(addr, token())).unwrap();
        let got = download(&c, ExportRequest::new(CdrType::Sms, window())).await;
        match (ok, got) {
            (true, Ok(body)) => assert_eq!(body, b"a,b\n"),
            (false, Err(TransportError::ExportRefused { reason, .. })) => {
                assert_eq!(reason, "a redirect: more than 3 redirects");
                assert_eq!(script.requests("/export/4"), 0);
            }
            (_, other) => panic!("{hops} hops: {other:?}"),
        }
    }
}

#[tokio::test]
async fn no_referer_or_credential_follows_an_export_redirect() {
    let api = Script::default();
    let other = Script::default();
    let addr = api.start().await;
    let other_addr = other.start_on("127.0.0.2").await;
    api.push(
        "/graphql",
        link_page(&format!("http://{addr}/export/x.csv?sig=S")),
    );
    api.push(
        "/export/x.csv",
        redirect("302 Found", &format!("http://{other_addr}/final.csv?sig=T")),
    );
    other.push("/final.csv", http("200 OK", "", "a,b\n1,2\n"));
    let c = Client::new(config(addr, token())).unwrap();
    let body = download(&c, ExportRequest::new(CdrType::Sms, window()))
        .await
        .unwrap();
    assert_eq!(body, b"a,b\n1,2\n");
    let seen = other.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let head = seen[0].1.to_ascii_lowercase();
    assert!(!head.contains("referer"), "{head}");
    assert!(!head.contains("authorization"), "{head}");
    assert!(!head.contains("poapk"), "{head}");
    // Nor on the first request.
    let api_seen = api.seen.lock().unwrap();
    let first = &api_seen
        .iter()
        .find(|(p, _)| p == "/export/x.csv")
        .unwrap()
        .1;
    assert!(!first.to_ascii_lowercase().contains("referer"), "{first}");
}

#[tokio::test]
async fn plain_http_to_another_machine_needs_to_be_allowed() {
    let cfg = ClientConfig::new(token()).with_base_url("http://api.example.com");
    let err = Client::new(cfg.clone()).unwrap_err();
    assert!(err.is_fatal());
    assert!(err.to_string().contains("--allow-insecure-http"), "{err}");
    assert!(
        Client::new(ClientConfig {
            allow_insecure_http: true,
            ..cfg
        })
        .is_ok()
    );
}

#[tokio::test]
async fn server_text_with_escapes_and_secrets_is_shown_sanitized() {
    let logs = capture_logs();
    let hostile = format!("\x1b[31m{TOKEN}\x1b]0;owned\x07 Bearer zzz.yyy leaked");
    let script = Script::default();
    let addr = script.start().await;
    // A 503 with a plain-text body, retried once (which logs it), then a
    // GraphQL error whose message holds the same.
    script.push(
        "/graphql",
        http(
            "503 Service Unavailable",
            "Content-Type: text/plain\r\n",
            &hostile,
        ),
    );
    let message = serde_json::to_string(&hostile).unwrap();
    script.push(
        "/graphql",
        json(&format!(
            r#"{{"data":null,"errors":[{{"message":{message}}}]}}"#
        )),
    );
    let mut cfg = config(addr, token());
    cfg.retry = two_attempts();
    let c = Client::new(cfg).unwrap();
    let err = common::fetch(&c, request(CdrType::Sms, window(), 10))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::GraphQl { .. }), "{err:?}");
    let shown = format!("{err}\n{err:?}");
    assert_no_secret(&shown);
    assert!(
        shown.contains("\\u{1b}[31m<redacted>\\u{1b}]0;owned\\u{7} Bearer <redacted> leaked"),
        "{shown}"
    );

    // The retry of the 503 was logged, sanitized too.
    let text = logs.text();
    let retry = text
        .lines()
        .find(|l| l.contains("retrying request") && l.contains("HTTP 503"))
        .unwrap_or_else(|| panic!("no retry line in:\n{text}"));
    assert!(retry.contains("<redacted>"), "{retry}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn bad_values_are_reported_sanitized_and_kept_whole() {
    let logs = capture_logs();
    let script = Script::default();
    let addr = script.start().await;
    let hostile = format!(r#"\u001b[2J{TOKEN}"#);
    let record = format!(
        r#"{{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"{hostile}"}}"#
    );
    script.push("/graphql", page_json(&[&record], None));
    let c = Client::new(config(addr, token())).unwrap();
    let pages: Vec<_> = c
        .records(request(CdrType::Sms, window(), 10))
        .try_collect()
        .await
        .unwrap();
    let bad = &pages[0].bad[0];
    assert_eq!(bad.field, "charge");
    assert_no_secret(&bad.message);
    // The quarantine keeps the element as the server sent it.
    assert_eq!(bad.raw, record);
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("cannot be stored") && l.contains("field=charge"))
        .unwrap_or_else(|| panic!("no warning in:\n{text}"));
    assert_no_secret(line);
}
