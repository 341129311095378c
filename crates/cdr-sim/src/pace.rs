//! How fast the server answers GraphQL requests: the [`Quota`] (a sliding
//! window of accepted requests) and the latency model (an answer leaves
//! `latency` after its request arrived, service time included).
//!
//! Both read the time from `tokio::time::Instant`, so that tests on a paused
//! clock control them.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Quota;

/// What the quota says to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Served; it uses the budget until it leaves the window.
    Accepted,
    /// Answered with HTTP 429; `retry_after` is the `Retry-After` header in
    /// whole seconds, when the quota sends one.
    Refused { retry_after: Option<u64> },
}

/// A [`Quota`] applied: the arrival instants of the accepted requests still
/// in the window, oldest first. It never holds more than
/// [`Quota::requests`] instants.
pub(crate) struct Limiter {
    quota: Quota,
    accepted: Mutex<VecDeque<Instant>>,
}

impl Limiter {
    pub(crate) fn new(quota: Quota) -> Limiter {
        Limiter {
            quota,
            accepted: Mutex::new(VecDeque::new()),
        }
    }

    /// Accepts a request arriving at `now` if fewer than
    /// [`Quota::requests`] accepted requests arrived in the window before
    /// it; a refused one does not use the budget.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        // An accepted request leaves the window `window` after it arrived.
        while accepted
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.quota.window)
        {
            accepted.pop_front();
        }
        let budget = usize::try_from(self.quota.requests.get()).unwrap_or(usize::MAX);
        if accepted.len() < budget {
            // A request that noted its arrival before the last accepted one
            // but took the lock after it is entered at that one's instant,
            // so that the queue stays in order.
            let at = accepted.back().map_or(now, |&last| last.max(now));
            accepted.push_back(at);
            return Admission::Accepted;
        }
        let retry_after = self.quota.retry_after.then(|| {
            let oldest = accepted.front().copied().unwrap_or(now);
            whole_seconds(
                self.quota
                    .window
                    .saturating_sub(now.saturating_duration_since(oldest)),
            )
        });
        Admission::Refused { retry_after }
    }
}

/// `d` in whole seconds, rounded up, at least 1 (`Retry-After: 0` would ask
/// for the retry that is refused again).
fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// The answer `serve` produces, given once `latency` has passed since the
/// request arrived at `arrival`: the service time is part of the latency, as
/// a client measures it. The answer is complete before the wait; an answer
/// that took longer than `latency` to build is given at once.
pub(crate) async fn answer_after<T>(
    arrival: Instant,
    latency: Duration,
    serve: impl Future<Output = T>,
) -> T {
    let answer = serve.await;
    let left = latency.saturating_sub(arrival.elapsed());
    if !left.is_zero() {
        tokio::time::sleep(left).await;
    }
    answer
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limiter(requests: u32, window_ms: u64, retry_after: bool) -> Limiter {
        Limiter::new(Quota {
            requests: NonZeroU32::new(requests).unwrap(),
            window: Duration::from_millis(window_ms),
            retry_after,
        })
    }

    fn refused(secs: u64) -> Admission {
        Admission::Refused {
            retry_after: Some(secs),
        }
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn accepts_the_budget_then_refuses_until_the_window_moves() {
        let l = limiter(3, 1000, true);
        let t0 = Instant::now();
        // (milliseconds after t0, answer)
        let steps = [
            (0, Admission::Accepted),
            (100, Admission::Accepted),
            (200, Admission::Accepted),
            (300, refused(1)),
            (999, refused(1)),
            // The request of t0 leaves the window exactly now.
            (1000, Admission::Accepted),
            (1050, refused(1)),
            (1100, Admission::Accepted),
            (1150, refused(1)),
            // Quiet for long: the whole budget again.
            (5000, Admission::Accepted),
            (5000, Admission::Accepted),
            (5000, Admission::Accepted),
            (5000, refused(1)),
        ];
        for (ms, want) in steps {
            assert_eq!(l.admit(t0 + ms * MS), want, "at {ms} ms");
        }
    }

    #[test]
    fn refused_requests_do_not_use_the_budget() {
        let l = limiter(2, 1000, true);
        let t0 = Instant::now();
        assert_eq!(l.admit(t0), Admission::Accepted);
        assert_eq!(l.admit(t0), Admission::Accepted);
        for i in 0..100 {
            assert_eq!(l.admit(t0 + (500 + i) * MS), refused(1));
        }
        // Had the refusals counted, those of 500..600 ms would still fill it.
        assert_eq!(l.admit(t0 + 1000 * MS), Admission::Accepted);
        assert_eq!(l.admit(t0 + 1000 * MS), Admission::Accepted);
        assert_eq!(l.admit(t0 + 1000 * MS), refused(1));
        assert!(l.accepted.lock().unwrap().len() <= 2);
    }

    #[test]
    fn retry_after_is_the_wait_for_the_oldest_in_whole_seconds_rounded_up() {
        let l = limiter(1, 5000, true);
        let t0 = Instant::now();
        assert_eq!(l.admit(t0), Admission::Accepted);
        for (ms, secs) in [(0, 5), (1, 5), (999, 5), (1000, 4), (2000, 3), (4500, 1)] {
            assert_eq!(l.admit(t0 + ms * MS), refused(secs), "at {ms} ms");
        }
        // Under a second left is still at least one second.
        assert_eq!(l.admit(t0 + 4999 * MS), refused(1));
    }

    #[test]
    fn retry_after_can_be_switched_off() {
        let l = limiter(1, 1000, false);
        let t0 = Instant::now();
        assert_eq!(l.admit(t0), Admission::Accepted);
        assert_eq!(l.admit(t0 + MS), Admission::Refused { retry_after: None });
        assert_eq!(l.admit(t0 + 1000 * MS), Admission::Accepted);
    }

    #[test]
    fn arrivals_out_of_order_keep_the_window_in_order() {
        let l = limiter(2, 1000, true);
        let t0 = Instant::now();
        assert_eq!(l.admit(t0 + 10 * MS), Admission::Accepted);
        // Noted its arrival first, took the lock second.
        assert_eq!(l.admit(t0), Admission::Accepted);
        assert_eq!(l.admit(t0 + 1009 * MS), refused(1));
        assert_eq!(l.admit(t0 + 1010 * MS), Admission::Accepted);
    }

    /// A service that takes `service` to build its answer.
    async fn serve(service: Duration) -> &'static str {
        tokio::time::sleep(service).await;
        "answer"
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_leaves_latency_after_arrival_service_time_included() {
        let latency = 100 * MS;
        for (service_ms, answer_ms) in [(0, 100), (30, 100), (99, 100), (150, 150)] {
            let arrival = Instant::now();
            let answer = answer_after(arrival, latency, serve(service_ms * MS)).await;
            assert_eq!(answer, "answer");
            assert_eq!(arrival.elapsed(), answer_ms * MS, "service {service_ms} ms");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_latency_counts_from_arrival_not_from_the_call() {
        // Time spent before serving (waiting for a lock, say) is latency too.
        let arrival = Instant::now();
        tokio::time::advance(40 * MS).await;
        answer_after(arrival, 100 * MS, serve(10 * MS)).await;
        assert_eq!(arrival.elapsed(), 100 * MS);
        let arrival = Instant::now();
        answer_after(arrival, Duration::ZERO, serve(10 * MS)).await;
        assert_eq!(arrival.elapsed(), 10 * MS);
    }
}
