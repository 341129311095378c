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
fn a_refusal_paces_requests_at_what_the_provider_let_through() {
    let mut aimd = Aimd::new(AimdConfig::new(8, 32));
    assert_eq!(aimd.pace(), None);
    // 60 requests over 600 ms; the provider let 50 through and refuses the
    // last 10 (a quota of 50 a second).
    for i in 0..60 {
        let now = Duration::from_millis(10 * i);
        assert_eq!(aimd.try_send(now), Ok(()), "no pace yet");
    }
    aimd.observe(Duration::from_millis(600), Answer::Refused(Some(SECOND)));
    let pace = aimd.pace().expect("learnt at the first refusal");
    assert!(
        (pace - 59.0 * PACE_MARGIN).abs() < 1e-9,
        "{pace}: 59 not refused yet"
    );
    // Refusals while the decrease holds lower it to what was let through.
    for _ in 0..9 {
        aimd.observe(Duration::from_millis(600), Answer::Refused(Some(SECOND)));
    }
    let pace = aimd.pace().expect("a pace");
    assert!((pace - 50.0 * PACE_MARGIN).abs() < 1e-9, "{pace}");
    // Fifty were let through in the last second: the next waits until the
    // first of them is more than the pace window old, then goes.
    let now = Duration::from_millis(700);
    let wait = aimd.try_send(now).expect_err("fifty in the last second");
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(10));
    assert!(aimd.try_send(Duration::from_millis(1005)).is_err());
    assert_eq!(aimd.try_send(Duration::from_millis(1025)), Ok(()));
}

#[test]
fn a_caller_that_reports_no_sends_gets_no_pace() {
    let mut aimd = Aimd::new(AimdConfig::new(8, 32));
    aimd.observe(SECOND, Answer::Refused(Some(SECOND)));
    assert_eq!(aimd.pace(), None);
    assert_eq!(aimd.limit(), 6, "the limit still backs off: 8 x 0.85");
}

#[test]
fn a_pace_in_use_grows_and_each_refusal_makes_the_next_growth_later() {
    let mut aimd = Aimd::new(AimdConfig::new(8, 32));
    let ms = Duration::from_millis;
    // A provider that lets 20 a second through.
    for i in 0..21 {
        let now = ms(10 * i);
        aimd.try_send(now).expect("no pace yet");
        if i == 20 {
            aimd.observe(now, Answer::Refused(None));
        }
    }
    let first = aimd.pace().expect("a pace");
    assert!((first - 20.0 * PACE_MARGIN).abs() < 1e-9);
    // Requests at the pace, all served: after the hold, the pace grows by
    // a request a second (2% of 20 is less) at each growth.
    let mut growths = Vec::new();
    let mut last = first;
    let mut now = ms(200);
    while now < SECOND * 8 {
        if aimd.try_send(now).is_ok() {
            aimd.observe(now + RTT, Answer::Served(RTT));
        }
        let pace = aimd.pace().expect("a pace");
        if pace > last {
            growths.push(now);
            assert!((pace - last - 1.0).abs() < 1e-9, "{last} -> {pace}");
        }
        last = pace;
        now += ms(5);
    }
    assert!(
        growths.len() >= 4,
        "a pace in use probes upwards: {growths:?}"
    );
    // A refusal sets the pace again, and the next growth waits twice as long.
    let before = aimd.pace().expect("a pace");
    aimd.observe(now, Answer::Refused(None));
    assert!(aimd.pace().expect("a pace") < before);
    let refused_at = now;
    let mut grew_at = None;
    while grew_at.is_none() && now < refused_at + SECOND * 10 {
        now += ms(5);
        let pace = aimd.pace();
        if aimd.try_send(now).is_ok() {
            aimd.observe(now + RTT, Answer::Served(RTT));
        }
        if aimd.pace() > pace {
            grew_at = Some(now);
        }
    }
    let waited = grew_at.expect("grew again") - refused_at;
    assert!(waited >= PACE_EVERY * 2, "{waited:?}");
}

#[test]
fn a_pace_keeps_enough_in_flight_to_be_met() {
    // At 200 ms an answer, a pace of 49.5 a second needs 10 in flight
    // (Little's law), 11 with the headroom: the decrease stops there.
    let mut aimd = Aimd::new(AimdConfig::new(20, 32));
    let ms = Duration::from_millis;
    for i in 0..60 {
        aimd.try_send(ms(10 * i)).expect("no pace yet");
    }
    for _ in 0..50 {
        aimd.observe(ms(600), Answer::Served(ms(200)));
    }
    aimd.observe(ms(600), Answer::Refused(None));
    assert!(aimd.pace().is_some());
    let needed = (aimd.pace().unwrap_or(0.0) * 0.2 * PACE_HEADROOM).ceil() as usize;
    assert_eq!(aimd.limit(), needed, "not 20 x 0.85 = 17, not less");
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

/// A provider that lets `quota` requests a second through (a sliding
/// window of accepted requests) and refuses the others at once with
/// `Retry-After: 1`, answering the rest after `rtt`; 64 cursor chains,
/// as many in flight as the limit allows, each resting a second after a
/// refusal. Driven in steps of a millisecond for `secs` seconds; returns
/// the requests served and refused over the second half.
fn drive_quota(aimd: &mut Aimd, quota: usize, rtt: Duration, secs: u64) -> (u64, u64) {
    #[derive(Clone, Copy)]
    enum Chain {
        Idle,
        Waiting(Duration),
        InFlight(Duration),
        Resting(Duration),
    }
    let mut chains = [Chain::Idle; 64];
    let mut in_flight = 0;
    let mut accepted: VecDeque<Duration> = VecDeque::new();
    let (mut served, mut refused) = (0, 0);
    let end = SECOND * secs as u32;
    let mut now = Duration::ZERO;
    while now < end {
        let late = now >= end / 2;
        for chain in chains.iter_mut() {
            match *chain {
                Chain::InFlight(at) if at <= now => {
                    aimd.observe(now, Answer::Served(rtt));
                    served += u64::from(late);
                    in_flight -= 1;
                    *chain = Chain::Idle;
                }
                Chain::Resting(until) | Chain::Waiting(until) if until <= now => {
                    *chain = Chain::Idle
                }
                _ => {}
            }
        }
        while accepted
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= SECOND)
        {
            accepted.pop_front();
        }
        for chain in chains.iter_mut() {
            if !matches!(chain, Chain::Idle) || in_flight >= aimd.limit() {
                continue;
            }
            match aimd.try_send(now) {
                Err(wait) => *chain = Chain::Waiting(now + wait),
                Ok(()) if accepted.len() < quota => {
                    accepted.push_back(now);
                    in_flight += 1;
                    *chain = Chain::InFlight(now + rtt);
                }
                Ok(()) => {
                    aimd.observe(now, Answer::Refused(Some(SECOND)));
                    refused += u64::from(late);
                    *chain = Chain::Resting(now + SECOND);
                }
            }
        }
        now += Duration::from_millis(1);
    }
    (served, refused)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_pace_meets_a_providers_quota_with_few_refusals(
        quota in 5usize..120,
        rtt_ms in 20u64..250,
    ) {
        // Within what 32 in flight can carry.
        prop_assume!(quota as u64 * rtt_ms <= 32 * 1000 * 8 / 10);
        let mut aimd = Aimd::new(AimdConfig::new(4, 32));
        let secs = 30;
        let (served, refused) = drive_quota(&mut aimd, quota, Duration::from_millis(rtt_ms), secs);
        let allowed = quota as f64 * (secs / 2) as f64;
        let share = served as f64 / allowed;
        prop_assert!(share >= 0.9, "served {share:.3} of the quota");
        prop_assert!(refused * 20 <= served + refused, "refused {refused} of {}", served + refused);
    }
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
