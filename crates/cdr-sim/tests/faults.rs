//! Fault injection over real HTTP: each fault at its rate, deterministic per
//! seed, as a client sees it.

mod common;

use cdr_core::CdrType;
use cdr_sim::{Faults, SimConfig};
use common::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Seen {
    Ok,
    RateLimitedWithRetryAfter,
    RateLimitedWithout,
    BadGateway,
    Unavailable,
    Reset,
    Truncated,
}

async fn classify(c: &Client, token: &str, v: &serde_json::Value) -> Seen {
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
    let html = r
        .headers()
        .get("content-type")
        .is_some_and(|h| h.to_str().unwrap().starts_with("text/html"));
    let body = r.bytes().await;
    match status {
        429 => {
            assert!(body.is_ok());
            match retry_after {
                Some(s) => {
                    assert_eq!(s, "1");
                    Seen::RateLimitedWithRetryAfter
                }
                None => Seen::RateLimitedWithout,
            }
        }
        502 | 503 => {
            assert!(html);
            let text = String::from_utf8(body.unwrap().to_vec()).unwrap();
            assert!(text.contains("<html>"), "{text}");
            if status == 502 {
                Seen::BadGateway
            } else {
                Seen::Unavailable
            }
        }
        200 => match body {
            Err(_) => Seen::Reset,
            Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                Ok(v) => {
                    assert!(v["data"]["cdrRecords"].is_object(), "{v}");
                    Seen::Ok
                }
                Err(_) => Seen::Truncated,
            },
        },
        other => panic!("unexpected status {other}"),
    }
}

fn faults(seed: u64) -> Faults {
    Faults {
        rate_limit: 0.1,
        retry_after_secs: 1,
        server_error: 0.1,
        reset: 0.1,
        truncate: 0.1,
        seed,
    }
}

async fn run(seed: u64, n: usize) -> (Vec<Seen>, cdr_sim::Counters) {
    let sim = cdr_sim::start(SimConfig {
        faults: faults(seed),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(20));
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        seen.push(classify(&c, STATIC_TOKEN, &v).await);
    }
    (seen, sim.counters())
}

#[tokio::test]
async fn each_fault_appears_at_its_rate_and_is_counted() {
    let n = 600;
    let (seen, counters) = run(5, n).await;
    let count = |s: Seen| seen.iter().filter(|x| **x == s).count() as u64;
    let rl = count(Seen::RateLimitedWithRetryAfter) + count(Seen::RateLimitedWithout);
    let se = count(Seen::BadGateway) + count(Seen::Unavailable);
    assert_eq!(counters.graphql_requests, n as u64);
    assert_eq!(counters.rate_limited, rl);
    assert_eq!(counters.server_errors, se);
    assert_eq!(counters.resets, count(Seen::Reset));
    assert_eq!(counters.truncated, count(Seen::Truncated));
    // Expected 60 each (10 %); binomial standard deviation about 7.
    for (name, got) in [
        ("429", rl),
        ("5xx", se),
        ("reset", count(Seen::Reset)),
        ("truncated", count(Seen::Truncated)),
    ] {
        assert!((35..=85).contains(&got), "{name}: {got} of {n}");
    }
    for s in [
        Seen::RateLimitedWithRetryAfter,
        Seen::RateLimitedWithout,
        Seen::BadGateway,
        Seen::Unavailable,
    ] {
        assert!(count(s) >= 10, "{s:?}: {}", count(s));
    }
    assert!(
        (300..=420).contains(&count(Seen::Ok)),
        "{}",
        count(Seen::Ok)
    );
}

#[tokio::test]
async fn faults_are_deterministic_per_seed_and_can_be_switched_off() {
    let (a, _) = run(17, 80).await;
    let (b, _) = run(17, 80).await;
    let (c, _) = run(18, 80).await;
    assert_eq!(a, b);
    assert_ne!(a, c);

    let sim = cdr_sim::start(SimConfig {
        faults: faults(1),
        ..config()
    })
    .await
    .unwrap();
    sim.set_faults(Faults::default());
    let client = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let v = vars(CdrType::Sms, w, None, Some(20));
    for _ in 0..50 {
        assert_eq!(classify(&client, STATIC_TOKEN, &v).await, Seen::Ok);
    }
}
