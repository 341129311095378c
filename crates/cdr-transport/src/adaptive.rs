//! Adaptive concurrency: how many API requests may be in flight at once,
//! set from what the API answers. A pure state machine ([`Aimd`]): the caller
//! passes the time in (as the time since a start of its choosing) and applies
//! the limit; [`Throttle`](crate::Throttle) is that caller in this crate.
//!
//! - **Additive increase.** After a round of answers (as many served answers
//!   as the limit: about one round trip), the limit grows by one when nothing
//!   was refused and the latency holds: the recent latency (a moving average)
//!   is at most `latency_tolerance` times the lowest latency among the last
//!   [`LATENCY_SAMPLES`] answers. Until the first refusal every round may add
//!   one, so the limit finds the provider's ceiling in a few seconds; after
//!   it, a round also lasts at least `probe_every`, so that the limit probes
//!   a ceiling it has found slowly and few requests are refused.
//! - **Multiplicative decrease.** A refusal (HTTP 429 or 503, or any answer
//!   with `Retry-After`) multiplies the limit by `backoff`, or halves it when
//!   at least half of the answers since the last change were refusals (a
//!   storm, which a gentle step would take long to leave). It goes lower
//!   still when the requests served over the last second needed fewer in
//!   flight at the recent latency (Little's law: rate x latency): a limit
//!   that overshot while a provider's window filled comes back in one step,
//!   not in a second of refusals per step.
//! - **Hold.** After a decrease the limit stays as it is for `hold`, or for
//!   the `Retry-After` when that is longer: refusals of requests sent before
//!   the decrease say nothing about the new limit.
//! - **Bounds.** The limit stays within `min..=max` whatever the answers.
//!
//! The limit is kept as a fraction and applied rounded down, so that
//! `backoff` works at small limits as at large ones (6 × 0.85 = 5.1: one
//! step down, not to 4); a decrease always takes at least one off.

use std::collections::VecDeque;
use std::time::Duration;

/// Served answers whose latencies make the baseline (its lowest).
pub const LATENCY_SAMPLES: usize = 256;

/// How an [`Aimd`] controller behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AimdConfig {
    /// The lowest limit; at least 1.
    pub min: usize,
    /// The highest limit.
    pub max: usize,
    /// The limit to start from.
    pub initial: usize,
    /// The factor of a decrease, in `(0, 1)`.
    pub backoff: f64,
    /// The least time a limit holds after a decrease.
    pub hold: Duration,
    /// After the first refusal, the least time between two increases.
    pub probe_every: Duration,
    /// How much above its baseline the latency may be for the limit to grow.
    pub latency_tolerance: f64,
}

impl AimdConfig {
    /// The defaults, with the limit starting at `initial` and bounded by
    /// `1..=max`: a decrease to 85%, held for at least one second, probes
    /// at most every two seconds once a refusal was seen, and a latency
    /// tolerance of 1.5 times the baseline.
    pub fn new(initial: usize, max: usize) -> AimdConfig {
        let max = max.max(1);
        AimdConfig {
            min: 1,
            max,
            initial: initial.clamp(1, max),
            backoff: 0.85,
            hold: Duration::from_secs(1),
            probe_every: Duration::from_secs(2),
            latency_tolerance: 1.5,
        }
    }
}

/// What the API did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Served, in this long.
    Served(Duration),
    /// Refused for load (HTTP 429 or 503, or `Retry-After`), with the wait
    /// the server asked for.
    Refused(Option<Duration>),
}

/// An AIMD limit on requests in flight (module documentation).
#[derive(Debug, Clone)]
pub struct Aimd {
    config: AimdConfig,
    limit: f64,
    /// Until then, no change.
    hold_until: Duration,
    /// When the limit last changed.
    changed_at: Duration,
    /// Answers since the last change, for telling a storm.
    served_since_change: u64,
    refused_since_change: u64,
    /// Served answers since the last change and out of hold: a round.
    round: u64,
    /// Whether any refusal was seen: the limit then probes slowly.
    found_ceiling: bool,
    recent: VecDeque<Duration>,
    /// Moving average of served latencies, in seconds.
    average: Option<f64>,
    served_rate: Rate,
    decreases: u64,
}

impl Aimd {
    /// A controller at `config.initial`, clamped to its bounds.
    pub fn new(config: AimdConfig) -> Aimd {
        let mut config = config;
        config.min = config.min.max(1);
        config.max = config.max.max(config.min);
        if !(config.backoff > 0.0 && config.backoff < 1.0) {
            config.backoff = 0.85;
        }
        if !config.latency_tolerance.is_finite() || config.latency_tolerance < 1.0 {
            config.latency_tolerance = 1.0;
        }
        Aimd {
            limit: config.initial.clamp(config.min, config.max) as f64,
            config,
            hold_until: Duration::ZERO,
            changed_at: Duration::ZERO,
            served_since_change: 0,
            refused_since_change: 0,
            round: 0,
            found_ceiling: false,
            recent: VecDeque::with_capacity(LATENCY_SAMPLES),
            average: None,
            served_rate: Rate::default(),
            decreases: 0,
        }
    }

    /// The number of requests that may be in flight now.
    pub fn limit(&self) -> usize {
        // The limit stays within bounds, which are usizes.
        (self.limit.floor() as usize).clamp(self.config.min, self.config.max)
    }

    /// Decreases made so far.
    pub fn decreases(&self) -> u64 {
        self.decreases
    }

    /// Takes in one answer, received `now` (since the caller's start).
    pub fn observe(&mut self, now: Duration, answer: Answer) {
        match answer {
            Answer::Served(latency) => self.served(now, latency),
            Answer::Refused(retry_after) => self.refused(now, retry_after),
        }
    }

    fn served(&mut self, now: Duration, latency: Duration) {
        if self.recent.len() == LATENCY_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(latency);
        let secs = latency.as_secs_f64();
        self.average = Some(self.average.map_or(secs, |a| a + (secs - a) / 8.0));
        self.served_since_change += 1;
        self.served_rate.add(now);
        if now < self.hold_until {
            return;
        }
        self.round += 1;
        let round = self.round >= self.limit() as u64;
        let probed =
            !self.found_ceiling || now.saturating_sub(self.changed_at) >= self.config.probe_every;
        if round && probed && self.latency_holds() && self.limit() < self.config.max {
            self.limit = (self.limit + 1.0).min(self.config.max as f64);
            self.changed(now);
        }
    }

    fn refused(&mut self, now: Duration, retry_after: Option<Duration>) {
        self.refused_since_change += 1;
        self.found_ceiling = true;
        if now < self.hold_until {
            return;
        }
        let answers = self.served_since_change + self.refused_since_change;
        let storm = self.refused_since_change * 2 >= answers && answers > 1;
        let factor = if storm { 0.5 } else { self.config.backoff };
        // At least one fewer in flight, whatever the fraction was, and no
        // more than the requests served in the last second needed.
        let one_fewer = self.limit().saturating_sub(1) as f64;
        let sustained = self.sustained(now).unwrap_or(f64::INFINITY);
        self.limit = (self.limit * factor)
            .min(one_fewer)
            .min(sustained)
            .max(self.config.min as f64);
        self.decreases += 1;
        self.hold_until = now + self.config.hold.max(retry_after.unwrap_or_default());
        self.changed(now);
    }

    /// The requests in flight that the rate served over the last second
    /// needs at the recent latency (Little's law), rounded; `None` before
    /// any latency is known, or when the second held less than a round of
    /// answers (too few to tell a rate).
    fn sustained(&mut self, now: Duration) -> Option<f64> {
        let rate = self.served_rate.per_second(now);
        if rate < self.limit() as f64 {
            return None;
        }
        self.average.map(|latency| (rate * latency).round())
    }

    fn changed(&mut self, now: Duration) {
        self.changed_at = now;
        self.served_since_change = 0;
        self.refused_since_change = 0;
        self.round = 0;
    }

    fn latency_holds(&self) -> bool {
        let (Some(average), Some(lowest)) = (self.average, self.recent.iter().min()) else {
            return true;
        };
        average <= lowest.as_secs_f64() * self.config.latency_tolerance
    }
}

/// Events per second over the last second, in tenths of a second (memory
/// that does not grow with the rate).
#[derive(Debug, Clone, Default)]
struct Rate {
    /// Events of each tenth, by tenth number modulo 10.
    tenths: [u64; 10],
    /// The newest tenth counted.
    newest: u64,
}

impl Rate {
    fn tenth(now: Duration) -> u64 {
        (now.as_millis() / 100) as u64
    }

    /// Forgets the tenths older than a second before `now`.
    fn advance(&mut self, now: Duration) {
        let t = Self::tenth(now);
        if t > self.newest {
            for old in (self.newest + 1)..=t.min(self.newest + 10) {
                self.tenths[(old % 10) as usize] = 0;
            }
            self.newest = t;
        }
    }

    fn add(&mut self, now: Duration) {
        self.advance(now);
        self.tenths[(Self::tenth(now).min(self.newest) % 10) as usize] += 1;
    }

    fn per_second(&mut self, now: Duration) -> f64 {
        self.advance(now);
        self.tenths.iter().sum::<u64>() as f64
    }
}

/// How long a limit was in force, for its minimum, median and maximum over
/// time (the median weighted by time). Pure: times are passed in.
#[derive(Debug, Clone, Default)]
pub struct LimitHistory {
    /// Time spent at each limit, indexed by limit.
    spent: Vec<Duration>,
    current: Option<(usize, Duration)>,
}

/// The limit over a run: its minimum, time-weighted median and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitSummary {
    pub min: usize,
    pub median: usize,
    pub max: usize,
}

impl LimitHistory {
    /// Notes that the limit is `limit` from `now` on.
    pub fn set(&mut self, now: Duration, limit: usize) {
        self.close(now);
        self.current = Some((limit, now));
    }

    fn close(&mut self, now: Duration) {
        if let Some((limit, since)) = self.current {
            if self.spent.len() <= limit {
                self.spent.resize(limit + 1, Duration::ZERO);
            }
            self.spent[limit] += now.saturating_sub(since);
            self.current = Some((limit, now));
        }
    }

    /// The limit's minimum, median and maximum up to `now`; `None` before
    /// any limit was set.
    pub fn summary(&self, now: Duration) -> Option<LimitSummary> {
        let mut closed = self.clone();
        closed.close(now);
        let (current, _) = closed.current?;
        let held: Vec<(usize, Duration)> = closed
            .spent
            .iter()
            .enumerate()
            .filter(|(limit, d)| !d.is_zero() || *limit == current)
            .map(|(limit, d)| (limit, *d))
            .collect();
        let total: Duration = held.iter().map(|(_, d)| *d).sum();
        let mut acc = Duration::ZERO;
        let median = held
            .iter()
            .find(|(_, d)| {
                acc += *d;
                acc * 2 >= total
            })
            .map_or(current, |(l, _)| *l);
        Some(LimitSummary {
            min: held.first().map_or(current, |(l, _)| *l),
            median,
            max: held.last().map_or(current, |(l, _)| *l),
        })
    }
}

#[cfg(test)]
mod tests;
