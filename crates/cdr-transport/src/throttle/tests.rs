use super::*;
use crate::adaptive::AimdConfig;

fn adaptive(initial: usize, max: usize) -> Throttle {
    Throttle::new(Concurrency::Adaptive(AimdConfig::new(initial, max)), None)
}

/// Whether `admit` would wait now.
async fn waits(t: &Throttle) -> bool {
    tokio::time::timeout(Duration::ZERO, t.admit())
        .await
        .is_err()
}

#[tokio::test(start_paused = true)]
async fn a_fixed_limit_admits_that_many_and_the_next_when_one_is_answered() {
    let t = Throttle::fixed(2);
    let a = t.admit().await;
    let b = t.admit().await;
    assert!(waits(&t).await, "a third place");
    a.served();
    let c = t.admit().await;
    assert!(waits(&t).await);
    drop(b); // failed: the place is given back too
    let d = t.admit().await;
    // A fixed limit learns nothing.
    c.refused(None);
    d.refused(None);
    assert_eq!(t.limit(), 2);
    assert_eq!(t.chains(), 2);
    let r = t.report();
    assert!(!r.adaptive);
    assert_eq!(r.refused, 2);
    assert_eq!((r.concurrency.min, r.concurrency.max), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_refusal_lowers_an_adaptive_limit_at_once() {
    let t = adaptive(4, 32);
    let held: Vec<Admission> = vec![t.admit().await, t.admit().await, t.admit().await];
    let fourth = t.admit().await;
    assert!(waits(&t).await);
    tokio::time::advance(Duration::from_secs(1)).await;
    fourth.refused(Some(Duration::from_secs(1)));
    assert_eq!(t.limit(), 3);
    // Three in flight: no place until one is answered.
    assert!(waits(&t).await);
    for a in held {
        a.served();
    }
    let r = t.report();
    assert!(r.adaptive);
    assert_eq!((r.refused, r.decreases), (1, 1));
    assert_eq!((r.concurrency.min, r.concurrency.max), (3, 4));
}

#[tokio::test(start_paused = true)]
async fn resting_requests_let_more_chains_run_while_adaptive() {
    let t = adaptive(4, 32);
    assert_eq!(t.chains(), 4);
    let r1 = t.resting();
    let r2 = t.resting();
    assert_eq!(t.chains(), 6);
    drop(r1);
    assert_eq!(t.chains(), 5);
    drop(r2);
    assert_eq!(t.chains(), 4);
    // Never more than twice the limit.
    let many: Vec<Resting> = (0..10).map(|_| t.resting()).collect();
    assert_eq!(t.chains(), 8);
    drop(many);
    // A fixed limit runs its chains, resting or not.
    let f = Throttle::fixed(3);
    let _r = f.resting();
    assert_eq!(f.chains(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_growing_limit_wakes_whoever_waits_for_chains() {
    let t = adaptive(1, 32);
    let waiter = {
        let t = t.clone();
        tokio::spawn(async move { t.chains_changed().await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    t.admit().await.served(); // a round of one: the limit grows to 2
    assert_eq!(t.limit(), 2);
    tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("woken")
        .expect("joined");
}

#[tokio::test(start_paused = true)]
async fn max_rps_spaces_requests_evenly() {
    let t = Throttle::new(Concurrency::Fixed(100), Some(5.0));
    let start = Instant::now();
    let mut sent = Vec::new();
    for _ in 0..10 {
        let a = t.admit().await;
        sent.push(start.elapsed());
        a.served();
    }
    // 5 per second: one every 200 ms, the first at once.
    let expected: Vec<Duration> = (0..10).map(|i| Duration::from_millis(200 * i)).collect();
    assert_eq!(sent, expected);
    // Logins are paced by the same budget.
    t.pace().await;
    assert_eq!(start.elapsed(), Duration::from_millis(2000));
    assert_eq!(t.report().max_rps, Some(5.0));
}

#[tokio::test(start_paused = true)]
async fn a_request_cancelled_while_paced_gives_its_place_back() {
    let t = Throttle::new(Concurrency::Fixed(1), Some(1.0));
    t.admit().await.served(); // uses the first turn
    // The next turn is a second away: give up waiting for it.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), t.admit())
            .await
            .is_err()
    );
    // The place is free again (the budget still spaces the next request).
    let a = tokio::time::timeout(Duration::from_secs(5), t.admit())
        .await
        .expect("the place was given back");
    a.served();
}

#[test]
fn a_budget_that_cannot_work_is_no_budget() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            Throttle::new(Concurrency::Fixed(1), Some(bad))
                .report()
                .max_rps,
            None
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_pace_learnt_from_a_refusal_holds_requests_until_the_last_second_has_room() {
    let t = adaptive(4, 32);
    for _ in 0..20 {
        t.admit().await.served();
    }
    assert_eq!(t.report().pace, None, "no pace before a refusal");
    t.admit().await.refused(Some(Duration::from_secs(1)));
    // 20 of 21 were let through in the last second: the pace is about 20.
    let pace = t.report().pace.expect("learnt");
    assert!((19.0..=20.0).contains(&pace), "{pace}");
    assert!(waits(&t).await, "20 let through in the last second");
    tokio::time::advance(Duration::from_millis(990)).await;
    assert!(waits(&t).await, "still within the second");
    tokio::time::advance(Duration::from_millis(40)).await;
    assert!(!waits(&t).await, "a second later there is room");
    // A fixed limit is never paced.
    let f = Throttle::fixed(4);
    for _ in 0..20 {
        f.admit().await.served();
    }
    f.admit().await.refused(None);
    assert_eq!(f.report().pace, None);
    assert!(!waits(&f).await);
}
