//! How fast the server answers, over real HTTP: the quota (a sliding-window
//! rate limit) on both serving paths, and the latency, counted from a
//! request's arrival to its answer.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant as WallClock};

use cdr_core::CdrType;
use cdr_sim::{Quota, SimConfig};
use common::*;
use tokio::time::Instant;

/// A window no test outlives, so that only the request counts matter.
const HOUR: Duration = Duration::from_secs(3600);

fn quota(requests: u32, retry_after: bool) -> Option<Quota> {
    Some(Quota {
        requests: NonZeroU32::new(requests).unwrap(),
        window: HOUR,
        retry_after,
    })
}

/// Status, `Retry-After` and body of a GraphQL request.
async fn send(c: &Client, token: &str, v: &serde_json::Value) -> (u16, Option<String>, Vec<u8>) {
    let r = c
        .http
        .post(format!("{}/graphql", c.base))
        .bearer_auth(token)
        .json(&serde_json::json!({"query": FULL_DOC, "variables": v}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|h| h.to_str().unwrap().to_string());
    (status, retry_after, r.bytes().await.unwrap().to_vec())
}

/// Sends `sent` requests in a row to a server with a quota of `budget` an
/// hour: the first `budget` are pages, the rest 429 with `Retry-After` of
/// the hour (less the moment the requests took). Logins and exports do not
/// count, and are still served once the budget is spent.
async fn quota_holds(fast_path: bool) {
    let (budget, sent) = (5u64, 12u64);
    let sim = cdr_sim::start(SimConfig {
        quota: quota(budget as u32, true),
        fast_path,
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(20));
    let mut link = None;
    for i in 0..sent {
        let (status, retry_after, body) = send(&c, &token, &v).await;
        if i < budget {
            assert_eq!((status, &retry_after), (200, &None), "request {i}");
            let page = Page::read(&body);
            assert_eq!(page.cdrs.len(), 20);
            link = page.export_link;
        } else {
            assert_eq!(status, 429, "request {i}");
            let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
            assert!((3599..=3600).contains(&secs), "Retry-After: {secs}");
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["errors"][0]["message"], "too many requests");
        }
    }
    c.login(USER).await;
    let export = c.http.get(link.unwrap()).send().await.unwrap();
    assert_eq!(export.status(), 200);
    let counters = sim.counters();
    assert_eq!(
        (counters.quota_accepted, counters.quota_refused),
        (budget, sent - budget)
    );
    assert_eq!(counters.graphql_requests, sent);
    assert_eq!((counters.logins, counters.exports), (2, 1));
    // Injected 429s are counted apart.
    assert_eq!(counters.rate_limited, 0);
    // The first page validates the document; the fast path writes the rest.
    let fast = if fast_path { budget - 1 } else { 0 };
    assert_eq!(counters.fast_path_pages, fast);
}

#[tokio::test]
async fn the_quota_accepts_its_budget_and_refuses_the_rest_on_the_fast_path() {
    quota_holds(true).await;
}

#[tokio::test]
async fn the_quota_accepts_its_budget_and_refuses_the_rest_on_the_executor_path() {
    quota_holds(false).await;
}

#[tokio::test]
async fn the_quota_can_refuse_without_retry_after() {
    let sim = cdr_sim::start(SimConfig {
        quota: quota(2, false),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(20));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, retry_after, _) = send(&c, STATIC_TOKEN, &v).await;
        seen.push((status, retry_after));
    }
    assert_eq!(
        seen,
        [(200, None), (200, None), (429, None), (429, None)],
        "{seen:?}"
    );
    assert_eq!(sim.counters().quota_refused, 2);
}

#[tokio::test]
async fn concurrent_requests_beyond_the_quota_are_refused() {
    let sim = cdr_sim::start(SimConfig {
        quota: quota(8, true),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(20));
    let answers = futures_util::future::join_all((0..20).map(|_| send(&c, STATIC_TOKEN, &v))).await;
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let refused = answers
        .iter()
        .filter(|a| a.0 == 429 && a.1.is_some())
        .count();
    assert_eq!((ok, refused), (8, 12));
    let counters = sim.counters();
    assert_eq!((counters.quota_accepted, counters.quota_refused), (8, 12));
}

#[tokio::test]
async fn latency_delays_every_graphql_request_not_logins() {
    let latency = Duration::from_millis(150);
    let sim = cdr_sim::start(SimConfig {
        latency,
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let started = WallClock::now();
    c.page(STATIC_TOKEN, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
        .await;
    c.page(STATIC_TOKEN, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
        .await;
    assert!(started.elapsed() >= 2 * latency, "{:?}", started.elapsed());
    // Logins are not delayed: they are not GraphQL requests.
    assert_eq!(sim.counters().graphql_requests, 2);
}

/// On a paused clock, which moves only to the next timer when every task
/// waits: the page is built as soon as the request arrives, and its answer
/// leaves exactly `latency` after the arrival, not `latency` plus the time
/// serving took.
#[tokio::test(start_paused = true)]
async fn an_answer_is_built_on_arrival_and_sent_latency_after_it() {
    let latency = Duration::from_millis(100);
    let sim = cdr_sim::start(SimConfig {
        latency,
        ..config()
    })
    .await
    .unwrap();
    // No idle connections, so that the client keeps no timer of its own
    // that the paused clock could jump to.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let c = Client {
        http,
        base: sim.base_url(),
    };
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(1000));

    // The first request of the document: the executor.
    let arrival = Instant::now();
    c.page(STATIC_TOKEN, FULL_DOC, v.clone()).await;
    assert_eq!(arrival.elapsed(), latency);

    // The second: the fast path, whose pages are counted when written.
    let arrival = Instant::now();
    let request = tokio::spawn(async move {
        c.page(STATIC_TOKEN, FULL_DOC, v).await;
        Instant::now()
    });
    // Yielding keeps the runtime busy, so the paused clock stands still
    // while the request travels and is served.
    let wall = WallClock::now();
    while sim.counters().fast_path_pages == 0 {
        assert!(
            wall.elapsed() < Duration::from_secs(30),
            "the page was not built while the clock stood still"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(arrival.elapsed(), Duration::ZERO);
    assert!(!request.is_finished(), "answered before the latency");
    let answered = request.await.unwrap();
    assert_eq!(answered - arrival, latency);
}
