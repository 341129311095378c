//! The client against the simulator over real HTTP: exact ground truth under
//! every fault kind, authentication, unreachable servers, resumption and
//! exports.

mod common;

use std::time::{Duration, Instant};

use cdr_core::{
    ApiCdr, Cdr, CdrType, Checkpoint, ErrorClass, MessageCdr, RecordKind, Selection, Token,
    VoiceCdr, parse_datetime, parse_decimal, parse_integer,
};
use cdr_sim::{Faults, SimConfig, SimHandle};
use cdr_transport::{
    Auth, AuthProblem, Client, ClientConfig, ExportRequest, NetworkKind, RetryPolicy, RetryReason,
    TransportError,
};
use common::{download, fetch, login, patient, request, sim_client, window};
use futures_util::{StreamExt, TryStreamExt};

const USER: (&str, &str) = ("user@example.com", "user-password");
const STATIC_TOKEN: &str = "POAPK_sim-static-token";

fn client(sim: &SimHandle, auth: Auth, retry: RetryPolicy) -> Client {
    sim_client(sim.base_url(), auth, retry)
}

async fn sim(config: SimConfig) -> SimHandle {
    cdr_sim::start(config).await.unwrap()
}

#[tokio::test]
async fn each_fault_kind_still_yields_the_exact_ground_truth() {
    type Injected = fn(&cdr_sim::Counters) -> u64;
    let cases: [(Faults, RetryReason, Injected, CdrType, i64); 4] = [
        (
            Faults {
                rate_limit: 0.4,
                retry_after_secs: 0,
                ..Faults::default()
            },
            RetryReason::RateLimited,
            |c| c.rate_limited,
            CdrType::Sms,
            100,
        ),
        (
            Faults {
                server_error: 0.4,
                ..Faults::default()
            },
            RetryReason::ServerError,
            |c| c.server_errors,
            CdrType::Voice,
            40,
        ),
        (
            Faults {
                reset: 0.35,
                ..Faults::default()
            },
            RetryReason::Reset,
            |c| c.resets,
            CdrType::Mms,
            20,
        ),
        (
            Faults {
                truncate: 0.4,
                ..Faults::default()
            },
            RetryReason::Decode,
            |c| c.truncated,
            CdrType::Api,
            10,
        ),
    ];
    let w = window("2026-11-01T00:00:00Z", 60);
    for (i, (faults, reason, injected, cdr_type, limit)) in cases.into_iter().enumerate() {
        let sim = sim(SimConfig {
            seed: 11,
            faults: Faults {
                seed: i as u64,
                ..faults
            },
            ..SimConfig::default()
        })
        .await;
        let c = client(&sim, login(USER.0, USER.1), patient());
        let got = fetch(&c, request(cdr_type, w, limit)).await.unwrap();
        let truth: Vec<Cdr> = sim.ground_truth(cdr_type, w).collect();
        assert!(truth.len() >= 300, "{cdr_type}: {}", truth.len());
        assert!(got == truth, "{cdr_type} under {reason}: records differ");

        let stats = c.stats();
        let served = sim.counters();
        let faults = injected(&served);
        assert!(faults >= 10, "{reason}: only {faults} faults injected");
        // Every injected fault was retried, for the right reason, and nothing else.
        assert_eq!(stats.retries_for(reason), faults, "{reason}: {stats:?}");
        assert_eq!(stats.retries, faults, "{reason}: {stats:?}");
        assert_eq!(stats.requests, served.requests, "{reason}");
        assert_eq!(stats.records, truth.len() as u64);
        assert_eq!(
            stats.pages,
            served.graphql_requests - faults,
            "{reason}: one page per successful request"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn expiring_tokens_are_renewed_by_one_login_each() {
    let sim = sim(SimConfig {
        token_ttl_requests: Some(4),
        ..SimConfig::default()
    })
    .await;
    let w = window("2026-11-02T10:00:00Z", 60);
    let c = client(&sim, login(USER.0, USER.1), patient());
    let got = fetch(&c, request(CdrType::Sms, w, 100)).await.unwrap();
    assert!(got == sim.ground_truth(CdrType::Sms, w).collect::<Vec<_>>());
    let (stats, served) = (c.stats(), sim.counters());
    assert!(served.expired_tokens >= 8, "{served:?}");
    assert_eq!(stats.retries_unauthorized, served.expired_tokens);
    assert_eq!(served.logins, 1 + served.expired_tokens);
    assert_eq!(stats.logins, served.logins);
    assert_eq!(served.failed_logins, 0);
}

#[tokio::test]
async fn concurrent_streams_share_one_pool_and_token_through_every_fault_at_once() {
    let sim = sim(SimConfig {
        seed: 3,
        token_ttl_requests: Some(7),
        faults: Faults {
            rate_limit: 0.1,
            retry_after_secs: 0,
            server_error: 0.1,
            reset: 0.1,
            truncate: 0.1,
            seed: 5,
        },
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim, login(USER.0, USER.1), patient());
    let w = window("2026-11-03T22:00:00Z", 120);
    let tasks: Vec<_> = CdrType::ALL
        .into_iter()
        .map(|t| {
            // One pool and one token, counted per type.
            let own = c.with_own_stats();
            // The stream owns its data, so it can run on another task.
            let stream = own.records(request(t, w, 50));
            tokio::spawn(async move {
                let pages: Vec<_> = stream.try_collect().await?;
                let records: Vec<Cdr> = pages.into_iter().flat_map(|p| p.records).collect();
                Ok::<_, TransportError>((t, records, own.stats()))
            })
        })
        .collect();
    let mut total = cdr_transport::Stats::default();
    for task in tasks {
        let (t, got, stats) = task.await.unwrap().unwrap();
        assert!(
            got == sim.ground_truth(t, w).collect::<Vec<_>>(),
            "{t}: records differ"
        );
        assert_eq!(stats.records, got.len() as u64, "{t}");
        total.requests += stats.requests;
        total.logins += stats.logins;
        total.retries += stats.retries;
        total.retries_unauthorized += stats.retries_unauthorized;
    }
    assert_eq!(
        c.stats(),
        cdr_transport::Stats::default(),
        "nothing counted twice"
    );
    let (stats, served) = (total, sim.counters());
    assert_eq!(
        (stats.requests, stats.logins),
        (served.requests, served.logins)
    );
    let injected = served.rate_limited + served.server_errors + served.resets + served.truncated;
    assert!(injected >= 20, "{served:?}");
    assert_eq!(
        stats.retries - stats.retries_unauthorized,
        injected,
        "{stats:?}"
    );
    assert!(served.expired_tokens > 0, "{served:?}");
    // Concurrent requests rejected with the same token share one new login.
    assert!(stats.retries_unauthorized >= served.expired_tokens);
    assert!(served.logins <= 1 + served.expired_tokens, "{served:?}");
    assert_eq!(served.failed_logins, 0);
}

#[tokio::test]
async fn bad_credentials_fail_after_exactly_one_login_request() {
    let sim = sim(SimConfig::default()).await;
    let w = window("2026-11-01T00:00:00Z", 60);

    // Explicitly, before any work.
    let c = client(&sim, login(USER.0, "wrong-password"), patient());
    let err = c.login().await.unwrap_err();
    assert!(
        matches!(
            &err,
            TransportError::Auth {
                problem: AuthProblem::BadCredentials(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("Invalid email or password."), "{msg}");
    assert!(msg.contains("/account/login"), "{msg}");
    assert!(!msg.contains("wrong-password"), "{msg}");
    let served = sim.counters();
    assert_eq!((served.failed_logins, served.logins), (1, 0));
    assert_eq!(served.requests, 1);

    // Implicitly, by the first query of a stream.
    let c = client(&sim, login("nobody@example.com", "x"), patient());
    let err = fetch(&c, request(CdrType::Sms, w, 100)).await.unwrap_err();
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    let served = sim.counters();
    assert_eq!((served.failed_logins, served.logins), (2, 0));
    assert_eq!((served.requests, served.graphql_requests), (2, 0));
    assert_eq!(c.stats().logins, 1);
    assert_eq!(c.stats().retries, 0);
    // A refused login is remembered: every later stream of this client (and of
    // its clones) fails at once, without another login request.
    for other in [c.clone(), c.with_own_stats()] {
        let err = fetch(&other, request(CdrType::Voice, w, 100))
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
        assert!(other.login().await.is_err());
    }
    assert_eq!(sim.counters().failed_logins, 2);
    assert_eq!(sim.counters().requests, 2);

    // Good credentials, checked up front.
    let c = client(&sim, login(USER.0, USER.1), patient());
    c.login().await.unwrap();
    assert_eq!(sim.counters().logins, 1);
    fetch(&c, request(CdrType::Api, w, 1000)).await.unwrap();
    assert_eq!(sim.counters().logins, 1, "the token is cached");
}

#[tokio::test]
async fn static_tokens_work_and_a_rejected_one_asks_to_renew_it() {
    let sim = sim(SimConfig::default()).await;
    let w = window("2026-11-01T05:00:00Z", 30);
    let c = client(&sim, Auth::Token(Token::new(STATIC_TOKEN)), patient());
    let got = fetch(&c, request(CdrType::Voice, w, 1000)).await.unwrap();
    assert!(got == sim.ground_truth(CdrType::Voice, w).collect::<Vec<_>>());
    assert_eq!(c.stats().logins, 0);

    let c = client(
        &sim,
        Auth::Token(Token::new("POAPK_revoked-long-ago")),
        patient(),
    );
    let before = sim.counters().graphql_requests;
    let err = fetch(&c, request(CdrType::Voice, w, 1000))
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
    assert_eq!(sim.counters().graphql_requests - before, 1);
    assert_eq!(sim.counters().logins, 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_naming_the_url() {
    // A port bound without listening: connections to it are refused, and no
    // other test can take it meanwhile.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reserved.local_addr().unwrap();
    // A patient policy: before the API ever answered, it is not used.
    let retry = RetryPolicy {
        max_attempts: 8,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        max_total: Duration::from_secs(300),
    };
    for (auth, path) in [
        (Auth::Token(Token::new(STATIC_TOKEN)), "/graphql"),
        (login(USER.0, USER.1), "/account/login"),
    ] {
        let mut config = ClientConfig::new(auth)
            .with_base_url(format!("http://{addr}"))
            .with_retry(retry);
        config.connect_timeout = Duration::from_millis(500);
        let c = Client::new(config).unwrap();
        let err = fetch(
            &c,
            request(CdrType::Sms, window("2026-11-01T00:00:00Z", 60), 100),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, TransportError::Unreachable { attempts: 3, .. }),
            "{err:?}"
        );
        assert!(err.is_unreachable() && err.is_fatal() && !err.is_retryable());
        let msg = err.to_string();
        assert!(msg.contains(&format!("http://{addr}{path}")), "{msg}");
        assert!(msg.contains("connection refused"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        let stats = c.stats();
        assert_eq!((stats.requests, stats.retries_connect), (3, 2));
    }
}

#[tokio::test]
async fn after_a_first_answer_refused_connections_are_retried_as_before() {
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Auth::Token(Token::new(STATIC_TOKEN)), patient());
    let w = window("2026-11-01T00:00:00Z", 10);
    fetch(&c, request(CdrType::Sms, w, 1000)).await.unwrap();
    // The server goes away: the client keeps its whole retry budget.
    sim.shutdown().await;
    let before = c.stats().requests;
    let err = fetch(&c, request(CdrType::Sms, w, 1000)).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Network {
                kind: NetworkKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    assert_eq!(
        c.stats().requests - before,
        u64::from(patient().max_attempts)
    );
}

#[tokio::test]
async fn a_stream_resumes_from_a_saved_checkpoint() {
    let sim = sim(SimConfig::default()).await;
    let w = window("2026-11-04T00:00:00Z", 60);
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();

    let first = client(&sim, login(USER.0, USER.1), patient());
    let mut pages = first.pages(request(CdrType::Sms, w, 250), None);
    let mut got = Vec::new();
    let mut saved = String::new();
    for n in 0..5u64 {
        let p = pages.next().await.unwrap().unwrap();
        assert_eq!(p.number, n);
        assert_eq!(p.checkpoint.pages, n + 1);
        got.extend(p.page.records);
        saved = serde_json::to_string(&p.checkpoint).unwrap();
    }
    drop(pages);

    // A new client, as after a restart, continues after the fifth page.
    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    let second = client(&sim, login(USER.0, USER.1), patient());
    let rest: Vec<_> = second
        .records_from(request(CdrType::Sms, w, 250), checkpoint.clone())
        .try_collect()
        .await
        .unwrap();
    got.extend(rest.into_iter().flat_map(|p| p.records));
    assert!(got == truth, "resumed records differ");

    // `pages` from the same checkpoint numbers pages on, and ends finished.
    let tail: Vec<_> = second
        .pages(request(CdrType::Sms, w, 250), Some(checkpoint))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tail.first().map(|p| p.number), Some(5));
    let last = tail.last().unwrap();
    assert!(last.checkpoint.finished);
    assert_eq!(last.checkpoint.records, truth.len() as u64);
    let done: Vec<_> = second
        .records_from(request(CdrType::Sms, w, 250), last.checkpoint.clone())
        .try_collect()
        .await
        .unwrap();
    assert!(done.is_empty());
}

#[tokio::test]
async fn company_ids_are_for_admins_and_invalid_requests_are_not_retried() {
    let sim = sim(SimConfig::default()).await;
    let w = window("2026-11-01T00:00:00Z", 60);
    let mut req = request(CdrType::Api, w, 100);
    req.company_id = Some("1".into());

    let user = client(&sim, login(USER.0, USER.1), patient());
    let err = fetch(&user, req.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::GraphQl {
                class: ErrorClass::InvalidArgument,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("only admin users"), "{err}");
    assert_eq!(sim.counters().graphql_requests, 1);

    let admin = client(
        &sim,
        login("admin@example.com", "admin-password"),
        patient(),
    );
    let got = fetch(&admin, req).await.unwrap();
    assert_eq!(got.len(), sim.ground_truth(CdrType::Api, w).count());

    // A window reaching past the server's now.
    let future = window("2030-01-01T00:00:00Z", 60);
    let err = fetch(&user, request(CdrType::Api, future, 100))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::GraphQl {
                class: ErrorClass::InvalidArgument,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(user.stats().retries, 0);
}

/// The export CSV read back into records of `kind`: a header of GraphQL field
/// names, empty cells for null.
fn parse_export(kind: RecordKind, csv_bytes: &[u8]) -> (Vec<String>, Vec<Cdr>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_bytes);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        let get = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .map(|i| cdr_core::Text::from(&row[i]))
                .filter(|s| !s.is_empty())
        };
        let money = |name: &str| get(name).map(|s| parse_decimal(&s).unwrap());
        let datetime = parse_datetime(&get("datetime").unwrap()).unwrap();
        out.push(match kind {
            RecordKind::Api => Cdr::Api(ApiCdr {
                datetime,
                from: get("from"),
                destination: get("destination"),
                status: get("status"),
                charge: money("charge"),
                r#type: get("type"),
            }),
            RecordKind::Message => Cdr::Message(MessageCdr {
                datetime,
                from_number: get("fromNumber"),
                to_number: get("toNumber"),
                direction: get("direction"),
                status: get("status"),
                charge: money("charge"),
                r#type: get("type"),
            }),
            RecordKind::Voice => Cdr::Voice(VoiceCdr {
                datetime,
                call_id: get("callId"),
                source_ani: get("sourceAni"),
                destination_number: get("destinationNumber"),
                did_used: get("didUsed"),
                session_time: get("sessionTime").map(|s| parse_integer(&s).unwrap()),
                status: get("status"),
                called_rate: money("calledRate"),
                charge: money("charge"),
                call_type: get("callType"),
                ani_ii: get("aniIi"),
            }),
        });
    }
    (header, out)
}

#[tokio::test]
async fn exports_equal_the_ground_truth() {
    let sim = sim(SimConfig {
        seed: 21,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim, login(USER.0, USER.1), patient());
    let w = window("2026-11-01T23:40:00Z", 40);
    for t in CdrType::ALL {
        let csv_bytes = download(&c, ExportRequest::new(t, w)).await.unwrap();
        let (header, got) = parse_export(t.record_kind(), &csv_bytes);
        let want: Vec<&str> = t
            .record_kind()
            .columns()
            .iter()
            .map(|c| c.graphql)
            .collect();
        assert_eq!(header, want);
        let truth: Vec<Cdr> = sim.ground_truth(t, w).collect();
        assert!(truth.len() >= 150, "{t}: {}", truth.len());
        assert!(got == truth, "{t}: export differs from the ground truth");
    }
    assert_eq!(sim.counters().exports, 4);
    assert!(c.stats().export_bytes > 0);

    // A narrowed selection exports just those columns, in query order.
    let mut req = ExportRequest::new(CdrType::Voice, w);
    req.selection = Selection::all()
        .narrow(RecordKind::Voice, &["charge", "callId"])
        .unwrap();
    let csv_bytes = download(&c, req).await.unwrap();
    let (header, got) = parse_export(RecordKind::Voice, &csv_bytes);
    assert_eq!(header, ["datetime", "charge", "callId"]);
    // Money compared as text: same value and same scale.
    let truth: Vec<(Option<cdr_core::Text>, Option<String>)> = sim
        .ground_truth(CdrType::Voice, w)
        .map(|r| match r {
            Cdr::Voice(v) => (v.call_id, v.charge.map(|d| d.to_string())),
            other => panic!("{other:?}"),
        })
        .collect();
    let got: Vec<_> = got
        .into_iter()
        .map(|r| match r {
            Cdr::Voice(v) => (v.call_id, v.charge.map(|d| d.to_string())),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(got == truth);
}

#[tokio::test]
async fn a_cut_export_is_reported_as_such() {
    let sim = sim(SimConfig {
        export_row_cap: Some(500),
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim, login(USER.0, USER.1), patient());
    let w = window("2026-11-01T00:00:00Z", 60);
    let mut body = c.export(ExportRequest::new(CdrType::Sms, w)).await.unwrap();
    let mut received = 0u64;
    let err = loop {
        match body.next().await {
            Some(Ok(chunk)) => received += chunk.len() as u64,
            Some(Err(e)) => break e,
            None => panic!("the export ended as if complete"),
        }
    };
    assert!(received > 0);
    match &err {
        TransportError::ExportCut {
            cdr_type,
            window,
            received: r,
            ..
        } => {
            assert_eq!((*cdr_type, *window, *r), (CdrType::Sms, w, received));
        }
        other => panic!("not a cut: {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(body.next().await.is_none());
    assert_eq!(sim.counters().aborted_exports, 1);

    // Without the cap the same export completes.
    sim.set_export_row_cap(None);
    let full = download(&c, ExportRequest::new(CdrType::Sms, w))
        .await
        .unwrap();
    assert!(full.len() as u64 > received);
}

#[tokio::test]
async fn pages_are_fetched_ahead_of_the_consumer_and_never_past_the_last() {
    let sim = sim(SimConfig::default()).await;
    let w = window("2026-11-05T00:00:00Z", 60);
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    let c = client(&sim, Auth::Token(Token::new(STATIC_TOKEN)), patient());
    let mut pages = c.records(request(CdrType::Sms, w, 100));
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 100);
    // The next two pages are requested while the consumer holds the first
    // and polls nothing.
    // The bound is against a hang, not a speed: a loaded machine may be slow.
    let deadline = Instant::now() + Duration::from_secs(300);
    while sim.counters().graphql_requests < 3 {
        assert!(Instant::now() < deadline, "no page was fetched ahead");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut got = first.records;
    let mut count = 1;
    while let Some(page) = pages.next().await {
        got.extend(page.unwrap().records);
        count += 1;
    }
    assert!(got == truth, "records differ from the ground truth");
    assert!(count > 3, "the window is too small to show fetching ahead");
    // Exactly one request per page: nothing is fetched after the last one.
    assert_eq!(sim.counters().graphql_requests, count);
}
