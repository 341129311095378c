//! When to try a failed request again. Whether an error is worth retrying is
//! decided by [`TransportError::retry_reason`]; this module only schedules:
//! exponential backoff with jitter, `Retry-After`, and the attempt and time
//! budgets of a [`RetryPolicy`].

use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::time::Instant;

use crate::config::RetryPolicy;
use crate::error::TransportError;
use crate::error::classify::Answered;
use crate::reason::RetryReason;
use crate::stats::Counters;

/// Attempts given to a request that cannot reach an API that never answered
/// (see [`Retrier::after_failure_with`]).
pub(crate) const UNREACHABLE_ATTEMPTS: u32 = 3;
/// Time from the first such attempt after which no other is started.
pub(crate) const UNREACHABLE_BUDGET: Duration = Duration::from_secs(20);
/// Longest wait between such attempts.
const UNREACHABLE_MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Parses a `Retry-After` value: delay seconds or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime form), relative to `now`. A date in the past means no
/// wait; anything unreadable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate; the time budget then ends the retries.
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at: DateTime<Utc> = DateTime::parse_from_rfc2822(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
                .map(|n| n.and_utc())
        })?;
    let now: DateTime<Utc> = now.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A small deterministic PRNG (SplitMix64) for jitter.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The delay before retry number `retry` (1 for the first retry): "equal
/// jitter", uniformly between half and all of the exponential step
/// `min(max_backoff, initial_backoff * 2^(retry-1))`, so that delays grow but
/// concurrent clients spread out. `random` picks the point. A `Retry-After`
/// is a lower bound.
pub(crate) fn backoff_delay(
    policy: &RetryPolicy,
    retry: u32,
    random: u64,
    retry_after: Option<Duration>,
) -> Duration {
    let doubling = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
    let step = policy
        .initial_backoff
        .saturating_mul(doubling)
        .min(policy.max_backoff);
    let half = step / 2;
    let span = u64::try_from((step - half).as_nanos()).unwrap_or(u64::MAX);
    let jitter = if span == 0 {
        0
    } else {
        random % span.saturating_add(1)
    };
    let delay = half + Duration::from_nanos(jitter);
    retry_after.map_or(delay, |r| delay.max(r))
}

/// The retry state of one request: counts attempts, schedules delays, and
/// gives up when the policy's budget is spent.
pub(crate) struct Retrier<'a> {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
    rng: u64,
    counters: &'a Counters,
    endpoint: &'a str,
}

impl<'a> Retrier<'a> {
    /// Starts the clock of a request's first attempt.
    pub(crate) fn new(
        policy: RetryPolicy,
        seed: u64,
        counters: &'a Counters,
        endpoint: &'a str,
    ) -> Retrier<'a> {
        Retrier {
            policy,
            started: Instant::now(),
            attempts: 0,
            rng: seed,
            counters,
            endpoint,
        }
    }

    /// Counts an attempt whose token was rejected, to be retried after a
    /// fresh login; `false` when the attempt budget is spent.
    pub(crate) fn note_relogin(&mut self) -> bool {
        self.attempts += 1;
        if self.attempts >= self.policy.max_attempts.max(1) {
            return false;
        }
        self.counters.retried(RetryReason::Unauthorized);
        tracing::debug!(
            reason = %RetryReason::Unauthorized,
            attempt = self.attempts,
            endpoint = self.endpoint,
            "token rejected; logging in again and retrying"
        );
        true
    }

    /// Like [`Retrier::after_failure`], knowing whether the API has
    /// answered before. Until it has, a fault that says it cannot be reached
    /// (a refused connection, DNS, TLS, or an HTTP 404 at an endpoint that
    /// never answered) gets a short budget, [`UNREACHABLE_ATTEMPTS`] within
    /// [`UNREACHABLE_BUDGET`] (an HTTP 404 none at all), and is then given up
    /// as [`TransportError::Unreachable`]: a wrong URL does not heal, and a
    /// run should say so at once rather than after minutes of backoff.
    pub(crate) async fn after_failure_with(
        &mut self,
        error: TransportError,
        answered: Answered,
    ) -> Result<(), TransportError> {
        if !error.may_be_unreachable(answered) {
            return self.after_failure(error).await;
        }
        self.attempts += 1;
        let budget = UNREACHABLE_ATTEMPTS.min(self.policy.max_attempts.max(1));
        let not_found = matches!(error, TransportError::Server { .. });
        if not_found || self.attempts >= budget {
            return Err(error.into_unreachable(self.attempts));
        }
        let delay = backoff_delay(&self.policy, self.attempts, splitmix64(&mut self.rng), None)
            .min(UNREACHABLE_MAX_BACKOFF);
        let elapsed = self.started.elapsed();
        if elapsed.saturating_add(delay) > UNREACHABLE_BUDGET.min(self.policy.max_total) {
            return Err(error.into_unreachable(self.attempts));
        }
        self.counters.retried(RetryReason::Connect);
        tracing::debug!(
            reason = %RetryReason::Connect,
            attempt = self.attempts,
            delay_ms = delay.as_millis() as u64,
            endpoint = self.endpoint,
            error = %error,
            "the API has not answered yet; trying again"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Handles a failed attempt: waits and returns `Ok(())` when another
    /// attempt should be made, or returns the error to give up with.
    pub(crate) async fn after_failure(
        &mut self,
        error: TransportError,
    ) -> Result<(), TransportError> {
        self.attempts += 1;
        let Some(reason) = error.retry_reason() else {
            return Err(error.with_attempts(self.attempts));
        };
        if self.attempts >= self.policy.max_attempts.max(1) {
            tracing::debug!(reason = %reason, attempts = self.attempts, endpoint = self.endpoint, "giving up: attempts exhausted");
            return Err(error.with_attempts(self.attempts));
        }
        let delay = backoff_delay(
            &self.policy,
            self.attempts,
            splitmix64(&mut self.rng),
            error.retry_after(),
        );
        let elapsed = self.started.elapsed();
        if elapsed.saturating_add(delay) > self.policy.max_total {
            tracing::debug!(reason = %reason, attempts = self.attempts, endpoint = self.endpoint, elapsed_ms = elapsed.as_millis() as u64, "giving up: time budget spent");
            return Err(error.with_attempts(self.attempts));
        }
        self.counters.retried(reason);
        tracing::debug!(
            reason = %reason,
            attempt = self.attempts,
            delay_ms = delay.as_millis() as u64,
            endpoint = self.endpoint,
            error = %error,
            "retrying request"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NetworkKind;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_total: Duration::from_secs(60),
        }
    }

    fn net(kind: NetworkKind) -> TransportError {
        TransportError::Network {
            endpoint: "http://h/graphql".into(),
            kind,
            attempts: 1,
            message: "boom".into(),
        }
    }

    fn limited(retry_after: Option<Duration>) -> TransportError {
        TransportError::RateLimited {
            endpoint: "http://h/graphql".into(),
            attempts: 1,
            retry_after,
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let check = |v: &str, want: Option<u64>| {
            assert_eq!(
                parse_retry_after(v, now),
                want.map(Duration::from_secs),
                "{v}"
            );
        };
        check("0", Some(0));
        check(" 120 ", Some(120));
        check("Sun, 06 Nov 1994 08:50:07 GMT", Some(30));
        check("Sunday, 06-Nov-94 08:50:37 GMT", Some(60));
        check("Sun Nov  6 08:49:47 1994", Some(10));
        // A date in the past: no wait.
        check("Sun, 06 Nov 1994 08:00:00 GMT", Some(0));
        check("-5", None);
        check("1.5", None);
        check("soon", None);
        check("", None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn backoff_grows_stays_within_bounds_and_honours_retry_after() {
        let p = policy();
        let mut rng = 7u64;
        for retry in 1..=40u32 {
            let step = Duration::from_millis(100)
                .saturating_mul(2u32.saturating_pow(retry - 1))
                .min(Duration::from_millis(1000));
            for _ in 0..200 {
                let d = backoff_delay(&p, retry, splitmix64(&mut rng), None);
                assert!(d >= step / 2 && d <= step, "retry {retry}: {d:?}");
            }
        }
        // The extremes of the jitter.
        assert_eq!(backoff_delay(&p, 1, 0, None), Duration::from_millis(50));
        assert_eq!(
            backoff_delay(&p, 1, 50_000_000, None),
            Duration::from_millis(100)
        );
        // Retry-After is a lower bound, also above max_backoff.
        let d = backoff_delay(&p, 1, 0, Some(Duration::from_secs(5)));
        assert_eq!(d, Duration::from_secs(5));
        let d = backoff_delay(&p, 4, 0, Some(Duration::ZERO));
        assert_eq!(d, Duration::from_millis(400));
        // A zero policy does not divide by zero.
        let zero = RetryPolicy {
            initial_backoff: Duration::ZERO,
            ..p
        };
        assert_eq!(backoff_delay(&zero, 3, 12345, None), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_delays() {
        let p = policy();
        let mut rng = 1u64;
        let delays: std::collections::HashSet<Duration> = (0..50)
            .map(|_| backoff_delay(&p, 3, splitmix64(&mut rng), None))
            .collect();
        assert!(delays.len() > 40, "{}", delays.len());
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_with_growing_delays() {
        let counters = Counters::default();
        let p = policy();
        let mut r = Retrier::new(p, 42, &counters, "http://h/graphql");
        let start = Instant::now();
        let mut waits = Vec::new();
        let last = loop {
            let before = Instant::now();
            match r.after_failure(net(NetworkKind::Reset)).await {
                Ok(()) => waits.push(before.elapsed()),
                Err(e) => break e,
            }
        };
        // 6 attempts: 5 waits, each within its jittered step.
        assert_eq!(waits.len(), 5);
        for (i, w) in waits.iter().enumerate() {
            let step = Duration::from_millis(100 << i).min(Duration::from_millis(1000));
            assert!(*w >= step / 2 && *w <= step, "wait {i}: {w:?}");
        }
        assert!(start.elapsed() <= Duration::from_millis(100 + 200 + 400 + 800 + 1000));
        assert!(matches!(
            last,
            TransportError::Network {
                attempts: 6,
                kind: NetworkKind::Reset,
                ..
            }
        ));
        let s = counters.snapshot();
        assert_eq!(s.retries, 5);
        assert_eq!(s.retries_reset, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_and_the_time_budget() {
        let counters = Counters::default();
        let p = RetryPolicy {
            max_attempts: 100,
            max_total: Duration::from_secs(10),
            ..policy()
        };
        let mut r = Retrier::new(p, 1, &counters, "http://h/graphql");
        let start = Instant::now();
        let mut n = 0;
        let last = loop {
            match r.after_failure(limited(Some(Duration::from_secs(3)))).await {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        // Waits of 3 s each: at 3, 6 and 9 s; a fourth would end at 12 s > 10 s.
        assert_eq!(n, 3);
        assert_eq!(start.elapsed(), Duration::from_secs(9));
        assert!(matches!(
            last,
            TransportError::RateLimited { attempts: 4, .. }
        ));
        assert_eq!(counters.snapshot().retries_rate_limited, 3);

        // A Retry-After beyond the whole budget ends at once, without sleeping.
        let mut r = Retrier::new(p, 1, &counters, "http://h/graphql");
        let start = Instant::now();
        let e = r
            .after_failure(limited(Some(Duration::from_secs(3600))))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(e.is_retryable());
    }

    #[tokio::test(start_paused = true)]
    async fn an_api_that_never_answered_gets_a_short_budget() {
        let counters = Counters::default();
        // Even with a patient policy: three attempts, well within the budget.
        let patient = RetryPolicy {
            max_attempts: 50,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_total: Duration::from_secs(600),
        };
        let never = Answered::default();
        let mut r = Retrier::new(patient, 3, &counters, "http://h/graphql");
        let start = Instant::now();
        let mut attempts = 1;
        let last = loop {
            match r.after_failure_with(net(NetworkKind::Connect), never).await {
                Ok(()) => attempts += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(attempts, UNREACHABLE_ATTEMPTS);
        assert!(
            start.elapsed() <= UNREACHABLE_BUDGET,
            "{:?}",
            start.elapsed()
        );
        assert!(
            matches!(last, TransportError::Unreachable { attempts: 3, .. }),
            "{last:?}"
        );
        assert!(last.to_string().contains("http://h/graphql"), "{last}");
        assert_eq!(counters.snapshot().retries_connect, 2);

        // An HTTP 404 before the endpoint ever answered: at once.
        let mut r = Retrier::new(patient, 3, &counters, "http://h/graphql");
        let not_found = TransportError::Server {
            endpoint: "http://h/graphql".into(),
            status: 404,
            attempts: 1,
            detail: String::new(),
            retry_after: None,
        };
        let start = Instant::now();
        let e = r.after_failure_with(not_found, never).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(matches!(e, TransportError::Unreachable { attempts: 1, .. }));

        // Once the API has answered, a refused connection is an ordinary
        // fault with the policy's budget.
        let answered = Answered {
            api: true,
            endpoint: true,
        };
        let mut r = Retrier::new(policy(), 3, &counters, "http://h/graphql");
        let mut attempts = 1;
        let last = loop {
            match r
                .after_failure_with(net(NetworkKind::Connect), answered)
                .await
            {
                Ok(()) => attempts += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(attempts, policy().max_attempts);
        assert!(matches!(last, TransportError::Network { .. }), "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_that_need_a_change_are_not_retried() {
        let counters = Counters::default();
        for e in [
            TransportError::Server {
                endpoint: "e".into(),
                status: 400,
                attempts: 1,
                detail: String::new(),
                retry_after: None,
            },
            TransportError::Server {
                endpoint: "e".into(),
                status: 403,
                attempts: 1,
                detail: String::new(),
                retry_after: None,
            },
            TransportError::Server {
                endpoint: "e".into(),
                status: 404,
                attempts: 1,
                detail: String::new(),
                retry_after: None,
            },
            TransportError::GraphQl {
                endpoint: "e".into(),
                class: cdr_core::ErrorClass::InvalidArgument,
                errors: cdr_core::GraphQlErrors(vec![]),
            },
        ] {
            let mut r = Retrier::new(policy(), 1, &counters, "e");
            let start = Instant::now();
            let back = r.after_failure(e).await.unwrap_err();
            assert_eq!(start.elapsed(), Duration::ZERO);
            assert!(!back.is_retryable(), "{back}");
        }
        assert_eq!(counters.snapshot().retries, 0);
    }
}
