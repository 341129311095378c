//! The client against what the simulator's hooks serve: bad values and
//! unknown members are reported with their page and never retried, every
//! wording of an expired token is renewed by exactly one login, a refused
//! static token ends in one line, and a URL without the API fails at once.

mod common;

use cdr_core::{Cdr, CdrType, Page, Token, VoiceCdr, Window, parse_datetime};
use cdr_sim::{ExpiredAnswer, SimConfig, SimHandle, UnknownMembers};
use cdr_transport::{Auth, AuthProblem, Client, TransportError};
use common::{login, patient, request, sim_client, window};
use futures_util::TryStreamExt;

const USER: (&str, &str) = ("user@example.com", "user-password");

async fn sim() -> SimHandle {
    cdr_sim::start(SimConfig {
        seed: 5,
        now: Some(parse_datetime("2026-11-02T00:00:00Z").unwrap()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn client(sim: &SimHandle, auth: Auth) -> Client {
    sim_client(sim.base_url(), auth, patient())
}

async fn pages(c: &Client, t: CdrType, w: Window, limit: i64) -> Vec<Page> {
    c.records(request(t, w, limit)).try_collect().await.unwrap()
}

#[tokio::test]
async fn bad_values_and_wrong_members_are_reported_with_their_page_not_retried() {
    let sim = sim().await;
    let w = window("2026-11-01T03:00:00Z", 10);
    sim.corrupt(CdrType::Sms, w, 2, "charge", r#""N/A""#)
        .unwrap();
    sim.corrupt(CdrType::Sms, w, 5, "charge", "0.123456789012")
        .unwrap();
    sim.corrupt(CdrType::Sms, w, 7, "datetime", r#""2026-11-01 03:00""#)
        .unwrap();
    sim.corrupt(CdrType::Sms, w, 9, "status", "42").unwrap();
    sim.insert_wrong_member(
        CdrType::Sms,
        vec![Cdr::Voice(VoiceCdr {
            datetime: parse_datetime("2026-11-01T03:00:30Z").unwrap(),
            call_id: Some("misfiled".into()),
            source_ani: None,
            destination_number: None,
            did_used: None,
            session_time: Some(3),
            status: None,
            called_rate: None,
            charge: None,
            call_type: None,
            ani_ii: None,
        })],
    );
    let injected = sim.injected(CdrType::Sms, w);
    let c = client(&sim, login(USER.0, USER.1));
    let before = sim.counters().graphql_requests;
    // One page holds the whole window: page indices are listing positions.
    let got = pages(&c, CdrType::Sms, w, 1000).await;
    assert_eq!(got.len(), 1);
    let page = &got[0];
    let bad: Vec<(u64, &str)> = page
        .bad
        .iter()
        .map(|b| (b.index as u64, b.field.as_str()))
        .collect();
    let mut want: Vec<(u64, &str)> = injected
        .corrupt
        .iter()
        .map(|(i, f)| (*i, f.as_str()))
        .chain(
            injected
                .wrong_member
                .iter()
                .map(|(i, _)| (*i, "__typename")),
        )
        .collect();
    want.sort();
    assert_eq!(bad, want);
    let messages: Vec<&str> = page.bad.iter().map(|b| b.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("invalid decimal `N/A`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("more than 10 decimal places")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("VoiceCdr")),
        "{messages:?}"
    );
    for b in &page.bad {
        assert!(b.raw.starts_with('{') && b.raw.ends_with('}'), "{b:?}");
    }
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    assert!(page.records == truth, "the good records are all there");
    // Not retried: one request for one page, no retry of any kind.
    assert_eq!(sim.counters().graphql_requests - before, 1);
    let stats = c.stats();
    assert_eq!((stats.retries, stats.bad_records), (0, 5));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_members_are_named_in_every_page() {
    let sim = sim().await;
    sim.set_unknown_members(Some(UnknownMembers {
        typename: "RcsCdr".into(),
        types: vec![CdrType::Mms],
        every_nth: 30,
    }))
    .unwrap();
    let w = window("2026-11-01T00:00:00Z", 60);
    let c = client(&sim, login(USER.0, USER.1));
    let before = sim.counters().graphql_requests;
    let got = pages(&c, CdrType::Mms, w, 100).await;
    let unknown: Vec<String> = got
        .iter()
        .flat_map(|p| p.unknown.iter().map(|u| u.typename.clone()))
        .collect();
    assert_eq!(
        unknown.len() as u64,
        sim.injected(CdrType::Mms, w).unknown["RcsCdr"]
    );
    assert!(!unknown.is_empty() && unknown.iter().all(|n| n == "RcsCdr"));
    // Page 0 holds records 0..100 of the hour: 29, 59 and 89 are RcsCdr.
    let first: Vec<usize> = got[0].unknown.iter().map(|u| u.index).collect();
    assert_eq!(first, [29, 59, 89]);
    let records: Vec<Cdr> = got.into_iter().flat_map(|p| p.records).collect();
    assert!(records == sim.ground_truth(CdrType::Mms, w).collect::<Vec<_>>());
    let stats = c.stats();
    assert_eq!(stats.skipped_unknown, unknown.len() as u64);
    assert_eq!(stats.retries, 0);
    assert_eq!(sim.counters().graphql_requests - before, stats.pages);
    sim.shutdown().await;
}

/// The wordings servers use for an expired token.
fn wordings() -> Vec<ExpiredAnswer> {
    vec![
        ExpiredAnswer::new(200, "jwt expired", None),
        ExpiredAnswer::new(200, "Token expired", None),
        ExpiredAnswer::new(200, "Something went wrong", Some("UNAUTHENTICATED")),
        ExpiredAnswer::new(400, "Token expired", None),
        ExpiredAnswer::new(400, "invalid token", Some("BAD_USER_INPUT")),
        ExpiredAnswer::new(401, "expired token", None),
        ExpiredAnswer::new(401, "Not authenticated", None),
        ExpiredAnswer::new(403, "token is invalid", None),
        ExpiredAnswer::new(403, "Forbidden", None),
        ExpiredAnswer::new(200, "Authentication required", None),
        ExpiredAnswer::default(),
    ]
}

#[tokio::test]
async fn every_wording_of_an_expired_token_costs_exactly_one_login() {
    let sim = sim().await;
    let w = window("2026-11-01T06:00:00Z", 30);
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Voice, w).collect();
    for answer in wordings() {
        sim.set_expired_answer(answer.clone());
        let c = client(&sim, login(USER.0, USER.1));
        let records: Vec<Cdr> = pages(&c, CdrType::Voice, w, 1000)
            .await
            .into_iter()
            .flat_map(|p| p.records)
            .collect();
        assert!(records == truth);
        let logins = sim.counters().logins;
        sim.expire_tokens();
        let requests = sim.counters().graphql_requests;
        let again: Vec<Cdr> = pages(&c, CdrType::Voice, w, 1000)
            .await
            .into_iter()
            .flat_map(|p| p.records)
            .collect();
        assert!(again == truth, "{answer:?}");
        assert_eq!(sim.counters().logins - logins, 1, "{answer:?}");
        // The refused request and its repeat, no other.
        assert_eq!(sim.counters().graphql_requests - requests, 2, "{answer:?}");
        let stats = c.stats();
        assert_eq!(stats.retries_unauthorized, 1, "{answer:?}");
        assert_eq!(stats.retries, 1, "no backoff retries: {answer:?}");
    }
    assert_eq!(sim.counters().failed_logins, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_static_token_ends_in_one_line_naming_tsg_token() {
    let sim = sim().await;
    let w = window("2026-11-01T06:00:00Z", 30);
    // A token from a login made elsewhere, given as TSG_TOKEN would be.
    let body = serde_json::json!({"email": USER.0, "password": USER.1});
    let answer = reqwest::Client::new()
        .post(format!("{}/account/login", sim.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    for expired in wordings() {
        sim.set_expired_answer(expired.clone());
        let c = client(&sim, Auth::Token(Token::new(token.clone())));
        sim.expire_tokens();
        let (logins, requests) = (sim.counters().logins, sim.counters().graphql_requests);
        let err = c
            .records(request(CdrType::Voice, w, 1000))
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
            "{expired:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("TSG_TOKEN"), "{msg}");
        assert!(msg.contains("expired or invalid"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert!(!msg.contains(&token), "{msg}");
        assert!(err.is_fatal());
        assert_eq!(
            sim.counters().logins,
            logins,
            "no login without credentials"
        );
        assert_eq!(sim.counters().graphql_requests - requests, 1, "not retried");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_fresh_token_refused_again_ends_in_one_line() {
    // Every token expires at its first use: the fresh one is refused too.
    let config = SimConfig {
        token_ttl_requests: Some(0),
        ..SimConfig::default()
    };
    let strict = cdr_sim::start(config).await.unwrap();
    strict.set_expired_answer(ExpiredAnswer::new(401, "jwt expired", None));
    let c = client(&strict, login(USER.0, USER.1));
    let err = c
        .records(request(
            CdrType::Sms,
            window("2026-11-01T00:00:00Z", 5),
            1000,
        ))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TransportError::Auth {
                problem: AuthProblem::FreshTokenRejected(_),
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("TSG_TOKEN") && msg.contains("(jwt expired)"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // The first login and exactly one more.
    assert_eq!(strict.counters().logins, 2);
    assert_eq!(strict.counters().graphql_requests, 2);
    strict.shutdown().await;
}

#[tokio::test]
async fn a_base_url_without_the_api_fails_at_once_naming_the_url() {
    let sim = sim().await;
    // The simulator answers 404 for every path outside its API.
    let base = format!("{}/v2", sim.base_url());
    for (auth, path) in [
        (
            Auth::Token(Token::new("POAPK_sim-static-token")),
            "/v2/graphql",
        ),
        (login(USER.0, USER.1), "/v2/account/login"),
    ] {
        let before = sim.counters().requests;
        let c = sim_client(base.clone(), auth, patient());
        let err = c
            .records(request(
                CdrType::Sms,
                window("2026-11-01T00:00:00Z", 5),
                1000,
            ))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransportError::Unreachable { attempts: 1, .. }),
            "{err:?}"
        );
        assert!(err.is_fatal());
        let msg = err.to_string();
        assert!(msg.contains(&format!("{}{path}", sim.base_url())), "{msg}");
        assert!(msg.contains("HTTP 404"), "{msg}");
        assert_eq!(sim.counters().requests - before, 1, "not retried");
    }
    // The same client kind against the right base works.
    let c = client(&sim, login(USER.0, USER.1));
    assert!(
        !pages(&c, CdrType::Sms, window("2026-11-01T00:00:00Z", 5), 1000)
            .await
            .is_empty()
    );
    sim.shutdown().await;
}
