//! How fast the server answers, over real HTTP: the latency, counted from a
//! request's arrival to its answer.

mod common;

use std::time::{Duration, Instant as WallClock};

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use common::*;
use tokio::time::Instant;

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
