//! When a busy unit is looked at again, alone and under `run_claimed`.

use std::time::Duration;

use super::*;
use crate::pipeline::tests::plan;

#[test]
fn a_busy_unit_is_looked_at_again_sooner_first_then_less_often() {
    let lease = Duration::from_secs(300);
    let long = Duration::from_secs(290);
    assert_eq!(busy_wait(None, long, lease), Duration::from_millis(250));
    assert_eq!(
        busy_wait(Some(Duration::from_millis(250)), long, lease),
        Duration::from_millis(500)
    );
    // At most a second between looks.
    assert_eq!(
        busy_wait(Some(Duration::from_millis(500)), long, lease),
        Duration::from_secs(1)
    );
    assert_eq!(
        busy_wait(Some(Duration::from_secs(1)), long, lease),
        Duration::from_secs(1)
    );
    // Never later than a third of the lease, nor than the lease's end.
    assert_eq!(
        busy_wait(
            Some(Duration::from_secs(1)),
            long,
            Duration::from_millis(1500)
        ),
        Duration::from_millis(500)
    );
    assert_eq!(
        busy_wait(
            Some(Duration::from_secs(1)),
            Duration::from_millis(300),
            lease
        ),
        Duration::from_millis(300)
    );
    assert_eq!(
        busy_wait(None, Duration::ZERO, lease),
        Duration::from_millis(200)
    );
}

#[tokio::test(start_paused = true)]
async fn run_claimed_looks_again_at_a_busy_unit_with_growing_waits() {
    let attempts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = tokio::time::Instant::now();
    let unit = plan("1h", 1).units[0];
    let seen = attempts.clone();
    let out = run_claimed(
        vec![unit],
        &Throttle::fixed(2),
        Duration::from_secs(300),
        move |_, _slot| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push(started.elapsed());
                if seen.len() < 4 {
                    Attempt::Busy(Duration::from_secs(290))
                } else {
                    Attempt::Finished(())
                }
            }
        },
        |_| false,
    )
    .await;
    assert_eq!(out.len(), 1);
    let at: Vec<u128> = attempts
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(at, [0, 250, 750, 1750]);
}

#[tokio::test(start_paused = true)]
async fn units_fetching_at_once_follow_an_adaptive_limit() {
    use cdr_transport::adaptive::AimdConfig;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    let throttle = cdr_transport::Throttle::new(
        cdr_transport::Concurrency::Adaptive(AimdConfig::new(1, 8)),
        None,
    );
    let units = plan("1h", 6).units;
    let started = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let run = {
        let (throttle, started, gate) = (throttle.clone(), started.clone(), gate.clone());
        tokio::spawn(async move {
            run_claimed(
                units,
                &throttle,
                Duration::from_secs(300),
                move |_, slot| {
                    let (started, gate) = (started.clone(), gate.clone());
                    async move {
                        started.fetch_add(1, SeqCst);
                        let permit = gate.acquire().await;
                        permit.expect("open").forget();
                        drop(slot);
                        Attempt::Finished(())
                    }
                },
                |_| false,
            )
            .await
        })
    };
    let settle = || async {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    };
    settle().await;
    assert_eq!(started.load(SeqCst), 1, "a limit of 1 runs one unit");
    // A served answer makes a round of one: the limit grows to 2, and a
    // second unit starts without any unit ending.
    throttle.admit().await.served();
    assert_eq!(throttle.limit(), 2);
    settle().await;
    assert_eq!(started.load(SeqCst), 2);
    // A request resting before a retry lends its place to another unit.
    let resting = throttle.resting();
    settle().await;
    assert_eq!(started.load(SeqCst), 3);
    drop(resting);
    // A refusal lowers the limit: units in flight go on, no new one starts
    // until fewer fetch than the limit.
    throttle.admit().await.refused(None);
    assert_eq!(throttle.limit(), 1);
    gate.add_permits(1);
    settle().await;
    assert_eq!(started.load(SeqCst), 3, "two still fetch, above the limit");
    gate.add_permits(2);
    settle().await;
    assert_eq!(started.load(SeqCst), 4, "one at a time again");
    gate.add_permits(10);
    let out = run.await.expect("the run");
    assert_eq!(out.len(), 6);
}
