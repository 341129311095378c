//! The [`Throttle`]: how many GraphQL requests a client has in flight, and
//! how many API requests it sends per second, shared by all its clones and by
//! whoever schedules work on it.
//!
//! Its limit is either fixed or set by an [`Aimd`] controller from what the
//! API answers (see [`adaptive`](crate::adaptive)). A request waits for a
//! place under the limit ([`Throttle::admit`]), then for its turn under the
//! `max_rps` budget, and reports how it was answered. Callers that schedule
//! cursor chains on the client read [`Throttle::chains`]: as many as the
//! limit, plus those waiting to retry, so that a chain resting after a 429
//! does not leave its place unused.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::adaptive::{Aimd, AimdConfig, Answer, LimitHistory, LimitSummary};

/// Limits on a client's requests (module documentation). Cheap to clone:
/// clones share one state.
#[derive(Clone)]
pub struct Throttle {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Woken when a place frees up or the limit changes.
    places: Notify,
    /// Woken when more chains may run.
    chains: Notify,
    start: Instant,
    /// Time between two requests under `max_rps`.
    spacing: Option<Duration>,
    max_rps: Option<f64>,
}

struct State {
    control: Control,
    in_flight: usize,
    /// Requests waiting to be tried again.
    resting: usize,
    /// When the next request may go under `max_rps`.
    next_turn: Instant,
    history: LimitHistory,
    refused: u64,
}

/// How a [`Throttle`]'s limit is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Concurrency {
    /// Always this many requests in flight (at least 1).
    Fixed(usize),
    /// Set from the API's answers by an [`Aimd`] controller.
    Adaptive(AimdConfig),
}

enum Control {
    Fixed(usize),
    Adaptive(Box<Aimd>),
}

impl Control {
    fn limit(&self) -> usize {
        match self {
            Control::Fixed(n) => *n,
            Control::Adaptive(aimd) => aimd.limit(),
        }
    }

    fn pace(&self) -> Option<f64> {
        match self {
            Control::Fixed(_) => None,
            Control::Adaptive(aimd) => aimd.pace(),
        }
    }
}

/// What a throttle did over its life (see [`Throttle::report`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct ThrottleReport {
    /// Whether the limit adapted to the API's answers.
    pub adaptive: bool,
    /// The limit's minimum, time-weighted median and maximum.
    pub concurrency: LimitSummary,
    /// Answers that refused a request for load (HTTP 429 or 503, or with
    /// `Retry-After`).
    pub refused: u64,
    /// Decreases of the limit.
    pub decreases: u64,
    /// The request budget, when there is one.
    pub max_rps: Option<f64>,
    /// The pace learnt from the API's refusals at the end, in requests per
    /// second (adaptive only; `None` when nothing was refused).
    pub pace: Option<f64>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("limit", &self.limit())
            .field("max_rps", &self.inner.max_rps)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle with this limit and, when `max_rps` is given, at most
    /// that many API requests (login and GraphQL, retries included) per
    /// second, evenly spaced. A `max_rps` that is not positive and finite
    /// means no budget.
    pub fn new(concurrency: Concurrency, max_rps: Option<f64>) -> Throttle {
        let control = match concurrency {
            Concurrency::Fixed(n) => Control::Fixed(n.max(1)),
            Concurrency::Adaptive(config) => Control::Adaptive(Box::new(Aimd::new(config))),
        };
        let max_rps = max_rps.filter(|r| r.is_finite() && *r > 0.0);
        let start = Instant::now();
        let mut history = LimitHistory::default();
        history.set(Duration::ZERO, control.limit());
        Throttle {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    control,
                    in_flight: 0,
                    resting: 0,
                    next_turn: start,
                    history,
                    refused: 0,
                }),
                places: Notify::new(),
                chains: Notify::new(),
                start,
                // A budget below one request an hour is taken as one an hour.
                spacing: max_rps.map(|r| {
                    Duration::try_from_secs_f64(1.0 / r)
                        .unwrap_or(Duration::MAX)
                        .min(Duration::from_secs(3600))
                }),
                max_rps,
            }),
        }
    }

    /// At most `n` requests in flight (at least 1), always, and no budget.
    pub fn fixed(n: usize) -> Throttle {
        Throttle::new(Concurrency::Fixed(n), None)
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        lock(&self.inner.state).control.limit()
    }

    /// Whether the limit adapts to the API's answers.
    pub fn is_adaptive(&self) -> bool {
        matches!(lock(&self.inner.state).control, Control::Adaptive(_))
    }

    /// How many cursor chains should run at once on a client with this
    /// throttle: the limit, plus (when adaptive) the requests resting before
    /// a retry, at most twice the limit.
    pub fn chains(&self) -> usize {
        let state = lock(&self.inner.state);
        let limit = state.control.limit();
        match state.control {
            Control::Fixed(_) => limit,
            Control::Adaptive(_) => limit + state.resting.min(limit),
        }
    }

    /// Waits until [`Throttle::chains`] may have grown.
    pub async fn chains_changed(&self) {
        self.inner.chains.notified().await;
    }

    /// What the throttle did so far.
    pub fn report(&self) -> ThrottleReport {
        let state = lock(&self.inner.state);
        let (adaptive, decreases) = match &state.control {
            Control::Fixed(_) => (false, 0),
            Control::Adaptive(aimd) => (true, aimd.decreases()),
        };
        ThrottleReport {
            adaptive,
            concurrency: state
                .history
                .summary(self.inner.start.elapsed())
                .unwrap_or_default(),
            refused: state.refused,
            decreases,
            max_rps: self.inner.max_rps,
            pace: state.control.pace(),
        }
    }

    /// Waits for a place under the limit and then for a turn under the
    /// request budget; the place is held until the [`Admission`] is answered
    /// or dropped.
    pub async fn admit(&self) -> Admission {
        loop {
            let freed = self.inner.places.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut state = lock(&self.inner.state);
                if state.in_flight < state.control.limit() {
                    state.in_flight += 1;
                    break;
                }
            }
            freed.await;
        }
        // Taken now, so that a caller cancelled while paced gives it back.
        let mut admission = Admission {
            throttle: self.clone(),
            sent: Instant::now(),
            open: true,
        };
        self.pace().await;
        // Under a pace learnt from refusals, the request goes when fewer
        // than the pace were let through over the last second.
        loop {
            let wait = match &mut lock(&self.inner.state).control {
                Control::Adaptive(aimd) => aimd.try_send(self.inner.start.elapsed()),
                Control::Fixed(_) => Ok(()),
            };
            match wait {
                Ok(()) => break,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
        admission.sent = Instant::now();
        admission
    }

    /// Waits for a turn under the request budget (no place is taken).
    pub async fn pace(&self) {
        let Some(spacing) = self.inner.spacing else {
            return;
        };
        let turn = {
            let mut state = lock(&self.inner.state);
            let turn = state.next_turn.max(Instant::now());
            state.next_turn = turn + spacing;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }

    /// Marks a request as waiting to be tried again until the guard is
    /// dropped: meanwhile another chain may use its place.
    pub fn resting(&self) -> Resting {
        lock(&self.inner.state).resting += 1;
        self.inner.chains.notify_one();
        Resting {
            throttle: self.clone(),
        }
    }

    fn answered(&self, answer: Option<Answer>) {
        let mut state = lock(&self.inner.state);
        state.in_flight = state.in_flight.saturating_sub(1);
        let now = self.inner.start.elapsed();
        if let Some(answer) = answer {
            if let Answer::Refused(_) = answer {
                state.refused += 1;
            }
            let (before, paced_before) = (state.control.limit(), state.control.pace());
            if let Control::Adaptive(aimd) = &mut state.control {
                aimd.observe(now, answer);
            }
            let (after, paced) = (state.control.limit(), state.control.pace());
            if after != before {
                state.history.set(now, after);
            }
            if after != before || paced != paced_before {
                tracing::debug!(
                    limit = after,
                    previous = before,
                    pace = paced,
                    in_flight = state.in_flight,
                    resting = state.resting,
                    refused = state.refused,
                    at_ms = now.as_millis() as u64,
                    "request limit or pace changed"
                );
            }
            if after > before {
                self.inner.chains.notify_one();
            }
        }
        drop(state);
        self.inner.places.notify_waiters();
    }
}

/// A place under a [`Throttle`]'s limit, held while a request is in flight.
#[must_use = "a place is given back when answered or dropped"]
pub struct Admission {
    throttle: Throttle,
    sent: Instant,
    open: bool,
}

impl Admission {
    /// The request was served: its latency since the turn it went out on
    /// counts towards the limit.
    pub fn served(mut self) {
        self.open = false;
        let latency = self.sent.elapsed();
        self.throttle.answered(Some(Answer::Served(latency)));
    }

    /// The request was refused for load, with the server's `Retry-After`.
    pub fn refused(mut self, retry_after: Option<Duration>) {
        self.open = false;
        self.throttle.answered(Some(Answer::Refused(retry_after)));
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // Failed otherwise, or cancelled: the place is free, nothing learnt.
        if self.open {
            self.throttle.answered(None);
        }
    }
}

/// A request waiting to be tried again (see [`Throttle::resting`]).
pub struct Resting {
    throttle: Throttle,
}

impl Drop for Resting {
    fn drop(&mut self) {
        let mut state = lock(&self.throttle.inner.state);
        state.resting = state.resting.saturating_sub(1);
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent between statements: a panic elsewhere
    // cannot leave it half changed.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
