use proptest::prelude::*;

use super::*;

const RTT: Duration = Duration::from_millis(100);
const SECOND: Duration = Duration::from_secs(1);

/// A provider that serves `capacity` requests per round trip and refuses
/// the rest with `Retry-After: 1`, driven for `rounds` round trips, each
/// sending as many requests as the limit allows. Returns the requests served
/// and refused in the second half, and the limits seen in it.
fn drive(aimd: &mut Aimd, capacity: usize, rounds: u32) -> (u64, u64, Vec<usize>) {
    let (mut served, mut refused, mut limits) = (0, 0, Vec::new());
    for round in 1..=rounds {
        let now = RTT * round;
        let sent = aimd.limit();
        let late = round > rounds / 2;
        if late {
            limits.push(sent);
        }
        for i in 0..sent {
            let answer = if i < capacity {
                Answer::Served(RTT)
            } else {
                Answer::Refused(Some(SECOND))
            };
            if late {
                match answer {
                    Answer::Served(_) => served += 1,
                    Answer::Refused(_) => refused += 1,
                }
            }
            aimd.observe(now, answer);
        }
    }
    (served, refused, limits)
}

#[test]
fn a_round_without_refusals_adds_one_and_a_refusal_takes_a_share() {
    // A slow API: a second per answer, so that 9 answers a second need 9
    // in flight and the served rate does not lower the limit further.
    let mut aimd = Aimd::new(AimdConfig::new(4, 32));
    for _ in 0..4 {
        aimd.observe(RTT, Answer::Served(SECOND));
    }
    assert_eq!(aimd.limit(), 5, "one round of 4 answers adds one");
    for _ in 0..5 {
        aimd.observe(RTT * 2, Answer::Served(SECOND));
    }
    assert_eq!(aimd.limit(), 6);
    aimd.observe(RTT * 3, Answer::Refused(None));
    assert_eq!(aimd.limit(), 5, "6 x 0.85 = 5.1");
    assert_eq!(aimd.decreases(), 1);
}

#[test]
fn a_decrease_holds_for_the_retry_after_and_ignores_refusals_meanwhile() {
    let mut aimd = Aimd::new(AimdConfig::new(10, 32));
    aimd.observe(SECOND, Answer::Refused(Some(SECOND * 5)));
    assert_eq!(aimd.limit(), 8, "10 x 0.85");
    // Refusals of requests sent before the decrease: no second decrease.
    aimd.observe(SECOND * 2, Answer::Refused(None));
    aimd.observe(SECOND * 3, Answer::Refused(None));
    assert_eq!(aimd.limit(), 8);
    assert_eq!(aimd.decreases(), 1);
    // Nor an increase while held.
    for _ in 0..100 {
        aimd.observe(SECOND * 4, Answer::Served(RTT));
    }
    assert_eq!(aimd.limit(), 8);
    // After the hold (6 s), a refusal among mostly refusals is a storm: halved.
    aimd.observe(SECOND * 7, Answer::Refused(None));
    assert_eq!(aimd.decreases(), 2);
    assert_eq!(
        aimd.limit(),
        7,
        "8.5 x 0.85, not a storm: 100 served, 3 refused"
    );
}

#[test]
fn a_limit_that_overshot_comes_back_to_what_the_served_rate_needs() {
    // While a provider's one-second window fills, the limit climbs past
    // what it serves: 50 answers in the last second at 100 ms each needed 5
    // in flight, not 11.
    let mut aimd = Aimd::new(AimdConfig::new(11, 32));
    for i in 0..50 {
        aimd.observe(RTT * 5 + SECOND * i / 100, Answer::Served(RTT));
    }
    let climbed = aimd.limit();
    assert!(climbed > 11, "rounds without refusals add: {climbed}");
    aimd.observe(SECOND, Answer::Refused(Some(SECOND)));
    assert_eq!(aimd.limit(), 5, "{climbed} x 0.85 would be more");
    // With less than a round of answers in the last second, the rate says
    // nothing and the usual step applies.
    let mut aimd = Aimd::new(AimdConfig::new(11, 32));
    for _ in 0..5 {
        aimd.observe(RTT, Answer::Served(RTT));
    }
    aimd.observe(RTT * 2, Answer::Refused(None));
    assert_eq!(aimd.limit(), 9);
}

#[test]
fn a_storm_halves() {
    let mut aimd = Aimd::new(AimdConfig::new(32, 32));
    aimd.observe(SECOND, Answer::Refused(None));
    assert_eq!(aimd.limit(), 27);
    for _ in 0..27 {
        aimd.observe(SECOND + RTT, Answer::Refused(None));
    }
    aimd.observe(SECOND * 3, Answer::Refused(None));
    assert_eq!(aimd.limit(), 13, "27.2 / 2");
}

#[test]
fn after_a_refusal_the_limit_probes_at_most_every_probe_interval() {
    let mut aimd = Aimd::new(AimdConfig::new(10, 32));
    aimd.observe(Duration::ZERO, Answer::Refused(None));
    assert_eq!(aimd.limit(), 8);
    // Out of the hold, rounds of answers come every 100 ms, but the limit
    // grows only two seconds after its last change.
    let mut now = SECOND;
    while now < SECOND * 2 {
        for _ in 0..8 {
            aimd.observe(now, Answer::Served(RTT));
        }
        now += RTT;
    }
    assert_eq!(aimd.limit(), 8);
    for _ in 0..8 {
        aimd.observe(SECOND * 2, Answer::Served(RTT));
    }
    assert_eq!(aimd.limit(), 9);
}

#[test]
fn a_growing_latency_stops_the_increase() {
    let mut aimd = Aimd::new(AimdConfig::new(4, 32));
    for _ in 0..20 {
        aimd.observe(RTT, Answer::Served(RTT));
    }
    let grown = aimd.limit();
    assert!(grown > 4);
    for i in 0..200 {
        aimd.observe(SECOND + RTT * i, Answer::Served(RTT * 3));
    }
    // The average needs a few answers to move past 1.5x: at most one step.
    assert!(aimd.limit() <= grown + 1, "{} > {grown} + 1", aimd.limit());
}

#[test]
fn a_limit_found_under_a_fixed_capacity_serves_most_and_refuses_few() {
    for capacity in [1, 2, 5, 13, 30] {
        let mut aimd = Aimd::new(AimdConfig::new(4, 64));
        let (served, refused, limits) = drive(&mut aimd, capacity, 6000);
        let rounds = limits.len() as f64;
        let share = served as f64 / (capacity as f64 * rounds);
        let refusals = refused as f64 / (served + refused) as f64;
        assert!(share >= 0.85, "capacity {capacity}: served {share:.3}");
        assert!(
            refusals <= 0.05,
            "capacity {capacity}: refused {refusals:.3}"
        );
    }
}

#[test]
fn the_history_weighs_each_limit_by_its_time() {
    let mut h = LimitHistory::default();
    assert_eq!(h.summary(SECOND), None);
    h.set(Duration::ZERO, 4);
    h.set(SECOND, 6);
    h.set(SECOND * 4, 2);
    let s = h.summary(SECOND * 5).expect("a limit was set");
    assert_eq!((s.min, s.median, s.max), (2, 6, 6));
    h.set(SECOND * 5, 8);
    let s = h.summary(SECOND * 15).expect("a limit was set");
    assert_eq!((s.min, s.median, s.max), (2, 8, 8), "8 for 10 s of 15");
    // A limit set just now counts even with no time spent at it.
    let mut h = LimitHistory::default();
    h.set(SECOND, 3);
    let s = h.summary(SECOND).expect("set");
    assert_eq!((s.min, s.median, s.max), (3, 3, 3));
}

fn answer() -> impl Strategy<Value = (u64, Answer)> {
    let served = (0u64..2_000).prop_map(|ms| Answer::Served(Duration::from_millis(ms)));
    let refused = proptest::option::of(0u64..10_000)
        .prop_map(|ms| Answer::Refused(ms.map(Duration::from_millis)));
    (0u64..3_000, prop_oneof![3 => served, 1 => refused])
}

proptest! {
    #[test]
    fn the_limit_never_leaves_its_bounds(
        initial in 0usize..100,
        max in 0usize..100,
        answers in proptest::collection::vec(answer(), 0..400),
    ) {
        let mut aimd = Aimd::new(AimdConfig::new(initial, max));
        let mut now = Duration::ZERO;
        for (step_ms, a) in answers {
            now += Duration::from_millis(step_ms);
            aimd.observe(now, a);
            prop_assert!(aimd.limit() >= 1);
            prop_assert!(aimd.limit() <= max.max(1));
        }
    }

    #[test]
    fn it_converges_under_a_fixed_capacity(capacity in 1usize..40, initial in 1usize..64) {
        let mut aimd = Aimd::new(AimdConfig::new(initial, 64));
        let (served, refused, limits) = drive(&mut aimd, capacity, 3000);
        // After a minute, the limit keeps close to the capacity...
        let low = (capacity as f64 * 0.85 * 0.85).floor().max(1.0) as usize;
        prop_assert!(limits.iter().all(|l| (low..=capacity + 1).contains(l)), "{limits:?}");
        // ...serves most of it and is seldom refused.
        let share = served as f64 / (capacity as f64 * limits.len() as f64);
        prop_assert!(share >= 0.85, "served {share:.3}");
        prop_assert!(refused * 20 <= served + refused, "refused {refused} of {}", served + refused);
    }

    #[test]
    fn it_backs_off_to_one_under_a_storm(initial in 1usize..=256, hold_ms in 0u64..5_000) {
        let mut aimd = Aimd::new(AimdConfig::new(initial, 256));
        let retry_after = Duration::from_millis(hold_ms);
        // Every answer is a refusal, as many a round as the limit.
        let mut now = Duration::ZERO;
        let mut rounds = 0;
        while aimd.limit() > 1 {
            for _ in 0..aimd.limit() {
                aimd.observe(now, Answer::Refused(Some(retry_after)));
            }
            now += RTT;
            rounds += 1;
            prop_assert!(rounds < 10 * 60 * 10, "still at {} after ten minutes", aimd.limit());
        }
        // Down within a handful of holds (halving), and it stays down.
        prop_assert!(now <= (SECOND.max(retry_after) + RTT) * 10, "took {now:?}");
        for _ in 0..100 {
            aimd.observe(now, Answer::Refused(Some(retry_after)));
            now += RTT;
            prop_assert_eq!(aimd.limit(), 1);
        }
    }
}
