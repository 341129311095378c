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
        2,
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
