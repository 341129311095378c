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
//! - **Pace.** A refusal also says how fast the provider lets requests
//!   through: the requests sent over the last second, less those refused
//!   (exactly its quota for a provider that counts requests in a one-second
//!   window). From the first refusal on, a request goes only while fewer
//!   than [`PACE_MARGIN`] of that were let through over the last second
//!   ([`Aimd::try_send`]), so that a provider's rate limit is met by
//!   waiting rather than by refusals (each costs its request a
//!   `Retry-After`). A pace in use grows by [`PACE_STEP`] of itself (at
//!   least one request per second) every [`PACE_EVERY`], and the next
//!   refusal sets it again: the pace probes a limit that rises. Each
//!   refusal doubles the time to the next growth (up to
//!   [`PACE_EVERY_MOST`]) and each growth that is not refused halves it, so
//!   that a pace at a provider's fixed limit is seldom refused. While
//!   the pace is what holds requests back, the limit does not grow (more in
//!   flight would only wait for their turn), and it stays at least what the
//!   pace needs at the recent latency (Little's law, with
//!   [`PACE_HEADROOM`]), so that the pace is met. A caller that does not
//!   ask [`Aimd::try_send`] gets no pace.
//! - **Bounds.** The limit stays within `min..=max` whatever the answers,
//!   and the pace is at least [`MIN_PACE`].
//!
//! The limit is kept as a fraction and applied rounded down, so that
//! `backoff` works at small limits as at large ones (6 × 0.85 = 5.1: one
//! step down, not to 4); a decrease always takes at least one off.

use std::collections::VecDeque;
use std::time::Duration;

/// Served answers whose latencies make the baseline (its lowest).
pub const LATENCY_SAMPLES: usize = 256;

/// The share of the rate a provider let through that requests are paced at
/// after a refusal.
pub const PACE_MARGIN: f64 = 0.99;
/// How often a pace in use grows, at first and after growing without a
/// refusal; each refusal doubles the time to the next growth, up to
/// [`PACE_EVERY_MOST`].
pub const PACE_EVERY: Duration = Duration::from_millis(500);
/// The longest time between two growths of a pace in use.
pub const PACE_EVERY_MOST: Duration = Duration::from_secs(8);
/// How much a pace grows each time (at least one request per second).
pub const PACE_STEP: f64 = 0.02;
/// The lowest pace, in requests per second.
pub const MIN_PACE: f64 = 1.0;
/// The requests in flight kept under a pace, over what it needs at the
/// average latency (Little's law).
pub const PACE_HEADROOM: f64 = 1.1;
/// A pace is in use when at least this share of it was sent over the
/// last second.
const PACE_USED: f64 = 0.9;
/// Hundredths of a second over which the requests let through are held
/// under a pace: a second and 20 ms, for the time a request takes to reach
/// the provider and for a hundredth forgotten whole.
const PACE_WINDOW_SLICES: usize = 102;
/// Hundredths of a second in the second a pace is learnt over.
const PACE_SECOND_SLICES: usize = 100;
/// Hundredths of a second kept of the requests sent and refused.
const FINE_SLICES: usize = 104;

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
    /// Requests sent and refused lately, by hundredth of a second.
    sent: Rate<100, FINE_SLICES>,
    refused_recent: Rate<100, FINE_SLICES>,
    /// Requests per second, learnt at the last refusal; `None` before one.
    pace: Option<f64>,
    /// When the pace last changed.
    paced_at: Duration,
    /// The time from a change of the pace to its next growth.
    pace_every: Duration,
    /// Whether the pace's last change was a growth.
    pace_grew: bool,
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
            sent: Rate::default(),
            refused_recent: Rate::default(),
            pace: None,
            paced_at: Duration::ZERO,
            pace_every: PACE_EVERY,
            pace_grew: false,
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

    /// Requests per second to pace requests at, learnt from the last
    /// refusal; `None` before any (no pace).
    pub fn pace(&self) -> Option<f64> {
        self.pace
    }

    /// Whether a request may go out `now` (since the caller's start): with
    /// no pace always, under a pace when fewer requests than the pace were
    /// let through (sent and not refused) over the last second. A request
    /// that may go is counted as sent, and the pace is learnt from the
    /// requests sent; otherwise the answer is how long to wait before
    /// asking again.
    pub fn try_send(&mut self, now: Duration) -> Result<(), Duration> {
        if let Some(pace) = self.pace {
            // Over a little more than a second: a provider's clock sees a
            // request a little after it was sent, and a slice is forgotten
            // whole.
            if self.let_through(now, PACE_WINDOW_SLICES) >= pace {
                return Err(Rate::<100, FINE_SLICES>::until_next_slice(now));
            }
        }
        self.sent.add(now);
        Ok(())
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
        let paced = self.pace_used(now);
        let due = now.saturating_sub(self.paced_at) >= self.pace_every;
        if let Some(pace) = self.pace.filter(|_| paced && due) {
            if self.pace_grew {
                // The last growth was not refused: probe sooner.
                self.pace_every = (self.pace_every / 2).max(PACE_EVERY);
            }
            self.pace = Some(pace + (pace * PACE_STEP).max(1.0));
            self.paced_at = now;
            self.pace_grew = true;
            self.meet_pace();
        }
        self.round += 1;
        let round = self.round >= self.limit() as u64;
        let probed =
            !self.found_ceiling || now.saturating_sub(self.changed_at) >= self.config.probe_every;
        if round && probed && !paced && self.latency_holds() && self.limit() < self.config.max {
            self.limit = (self.limit + 1.0).min(self.config.max as f64);
            self.changed(now);
        }
    }

    /// Sets the pace from what the provider let through over the last
    /// second, when the caller reports what it sends; while a decrease
    /// holds, only lower: the refusal may be of a request sent before it,
    /// but a count that the provider refuses is too many still.
    fn learn_pace(&mut self, now: Duration, only_lower: bool) {
        if self.sent.per_second(now) == 0.0 {
            return;
        }
        let accepted = self.let_through(now, PACE_SECOND_SLICES);
        let learnt = (accepted * PACE_MARGIN).max(MIN_PACE);
        let pace = match self.pace {
            Some(pace) if only_lower => pace.min(learnt),
            _ => learnt,
        };
        if !only_lower && self.pace.is_some() {
            // Each refusal of a pace makes its next probe later: a pace
            // that stays at a provider's limit is refused seldom.
            self.pace_every = (self.pace_every * 2).min(PACE_EVERY_MOST);
        }
        if self.pace != Some(pace) {
            self.pace = Some(pace);
            self.paced_at = now;
            self.pace_grew = false;
        }
    }

    /// The requests sent and not refused over the `slices` newest
    /// hundredths of a second.
    fn let_through(&mut self, now: Duration, slices: usize) -> f64 {
        let sent = self.sent.newest(now, slices);
        let refused = self.refused_recent.newest(now, slices);
        sent.saturating_sub(refused) as f64
    }

    /// Whether a pace holds requests back: most of it was sent over the
    /// last second.
    fn pace_used(&mut self, now: Duration) -> bool {
        match self.pace {
            Some(pace) => self.sent.per_second(now) >= pace * PACE_USED,
            None => false,
        }
    }

    /// Raises the limit to what the pace needs at the recent latency: the
    /// requests in flight at that rate (Little's law), with a tenth more
    /// for latencies above the average. No more: each unit beyond what the
    /// pace needs makes every unit slower, and the last ones of a run end
    /// later.
    fn meet_pace(&mut self) {
        if let (Some(pace), Some(latency)) = (self.pace, self.average) {
            let needed = (pace * latency * PACE_HEADROOM).ceil();
            self.limit = self.limit.max(needed).min(self.config.max as f64);
        }
    }

    fn refused(&mut self, now: Duration, retry_after: Option<Duration>) {
        self.refused_since_change += 1;
        self.refused_recent.add(now);
        self.found_ceiling = true;
        let held = now < self.hold_until;
        self.learn_pace(now, held);
        if held {
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
        self.meet_pace();
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

/// Events over a recent span, counted in `S` slices of `1 s / PER_SECOND`
/// each (memory that does not grow with the rate).
#[derive(Debug, Clone)]
struct Rate<const PER_SECOND: usize = 10, const S: usize = 10> {
    /// Events of each slice, by slice number modulo `S`.
    slices: [u64; S],
    /// The newest slice counted.
    newest: u64,
}

impl<const PER_SECOND: usize, const S: usize> Default for Rate<PER_SECOND, S> {
    fn default() -> Self {
        Rate {
            slices: [0; S],
            newest: 0,
        }
    }
}

impl<const PER_SECOND: usize, const S: usize> Rate<PER_SECOND, S> {
    fn slice(now: Duration) -> u64 {
        (now.as_micros() * PER_SECOND as u128 / 1_000_000) as u64
    }

    /// Forgets the slices older than the `S` newest at `now`.
    fn advance(&mut self, now: Duration) {
        let t = Self::slice(now);
        if t > self.newest {
            for old in (self.newest + 1)..=t.min(self.newest + S as u64) {
                self.slices[(old % S as u64) as usize] = 0;
            }
            self.newest = t;
        }
    }

    fn add(&mut self, now: Duration) {
        self.advance(now);
        self.slices[(Self::slice(now).min(self.newest) % S as u64) as usize] += 1;
    }

    /// The events of the `n` newest slices at `now` (at most `S`): those
    /// since `n - 1` slices before the current one began.
    fn newest(&mut self, now: Duration, n: usize) -> u64 {
        self.advance(now);
        (0..n.min(S) as u64)
            .filter_map(|back| self.newest.checked_sub(back))
            .map(|slice| self.slices[(slice % S as u64) as usize])
            .sum()
    }

    /// The events of about the last second.
    fn per_second(&mut self, now: Duration) -> f64 {
        self.newest(now, PER_SECOND) as f64
    }

    /// The time from `now` to the start of the next slice.
    fn until_next_slice(now: Duration) -> Duration {
        let width = 1_000_000 / PER_SECOND as u128;
        let into = now.as_micros() % width;
        Duration::from_micros((width - into) as u64)
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
