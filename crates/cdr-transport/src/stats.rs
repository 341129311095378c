//! Counters shared by a [`Client`](crate::Client) and its clones.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::reason::RetryReason;

/// A snapshot of a client's counters (see [`Client::stats`](crate::Client::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// HTTP requests sent (login, GraphQL and export downloads), retries included.
    pub requests: u64,
    /// Login requests sent.
    pub logins: u64,
    /// Pages handed to callers.
    pub pages: u64,
    /// Records handed to callers.
    pub records: u64,
    /// Union members of unknown `__typename`, left out of `Page::records`.
    pub skipped_unknown: u64,
    /// Records that cannot be stored as they are (bad values, another
    /// member than asked for), left out of `Page::records`.
    pub bad_records: u64,
    /// Export body bytes handed to callers.
    pub export_bytes: u64,
    /// Retries for any reason: the sum of the `retries_*` fields.
    pub retries: u64,
    /// Retries after HTTP 429.
    pub retries_rate_limited: u64,
    /// Retries after HTTP 500, 502, 503 or 504, or a GraphQL error that blames
    /// neither the request nor the token.
    pub retries_server_error: u64,
    /// Retries after failed connection attempts.
    pub retries_connect: u64,
    /// Retries after timeouts.
    pub retries_timeout: u64,
    /// Retries after connection resets and cut bodies.
    pub retries_reset: u64,
    /// Retries after other transport failures.
    pub retries_network: u64,
    /// Retries after truncated or undecodable bodies.
    pub retries_decode: u64,
    /// Retries after a rejected token and a fresh login.
    pub retries_unauthorized: u64,
}

impl Stats {
    /// Retries for one reason.
    pub fn retries_for(&self, reason: RetryReason) -> u64 {
        match reason {
            RetryReason::RateLimited => self.retries_rate_limited,
            RetryReason::ServerError => self.retries_server_error,
            RetryReason::Connect => self.retries_connect,
            RetryReason::Timeout => self.retries_timeout,
            RetryReason::Reset => self.retries_reset,
            RetryReason::Network => self.retries_network,
            RetryReason::Decode => self.retries_decode,
            RetryReason::Unauthorized => self.retries_unauthorized,
        }
    }
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) logins: AtomicU64,
    pub(crate) pages: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) skipped_unknown: AtomicU64,
    pub(crate) bad_records: AtomicU64,
    pub(crate) export_bytes: AtomicU64,
    retries: [AtomicU64; RetryReason::ALL.len()],
}

fn slot(reason: RetryReason) -> usize {
    RetryReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or_default()
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn retried(&self, reason: RetryReason) {
        bump(&self.retries[slot(reason)], 1);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let r = |reason| get(&self.retries[slot(reason)]);
        let mut s = Stats {
            requests: get(&self.requests),
            logins: get(&self.logins),
            pages: get(&self.pages),
            records: get(&self.records),
            skipped_unknown: get(&self.skipped_unknown),
            bad_records: get(&self.bad_records),
            export_bytes: get(&self.export_bytes),
            retries: 0,
            retries_rate_limited: r(RetryReason::RateLimited),
            retries_server_error: r(RetryReason::ServerError),
            retries_connect: r(RetryReason::Connect),
            retries_timeout: r(RetryReason::Timeout),
            retries_reset: r(RetryReason::Reset),
            retries_network: r(RetryReason::Network),
            retries_decode: r(RetryReason::Decode),
            retries_unauthorized: r(RetryReason::Unauthorized),
        };
        s.retries = RetryReason::ALL.iter().map(|&x| s.retries_for(x)).sum();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let c = Counters::default();
        for (i, reason) in RetryReason::ALL.into_iter().enumerate() {
            for _ in 0..=i {
                c.retried(reason);
            }
        }
        let s = c.snapshot();
        for (i, reason) in RetryReason::ALL.into_iter().enumerate() {
            assert_eq!(s.retries_for(reason), i as u64 + 1, "{reason}");
        }
        assert_eq!(s.retries, (1..=8).sum::<u64>());
    }
}
