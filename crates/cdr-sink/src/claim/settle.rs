//! Claims held in this process, counted from their acquisition until their
//! release has reached the store, so that a run stopped by a signal can let
//! the releases of its dropped units reach the store before it exits
//! ([`settle_releases`]). Counting from acquisition matters: a stopped run's
//! units are aborted tasks, dropped (and their claims released) only when
//! the runtime gets to them, which may be after the wait has begun.

use std::sync::atomic::Ordering;
use std::time::Duration;

/// Releases of dropped claims still on their way to the store, in this
/// process.
static RELEASES: ReleaseCount = ReleaseCount {
    pending: std::sync::atomic::AtomicUsize::new(0),
    done: tokio::sync::Notify::const_new(),
};

struct ReleaseCount {
    pending: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

/// One release in flight: counted while it lives.
pub(super) struct PendingRelease;

impl PendingRelease {
    pub(super) fn start() -> PendingRelease {
        RELEASES.pending.fetch_add(1, Ordering::SeqCst);
        PendingRelease
    }
}

impl Drop for PendingRelease {
    fn drop(&mut self) {
        if RELEASES.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            RELEASES.done.notify_waiters();
        }
    }
}

/// Waits, at most `limit`, until no claim is held in this process any more:
/// the releases of dropped claims have reached the store. A run stopped by a signal drops its units; this lets their
/// claims go before the process exits, so that the next run need not wait
/// for their leases to expire. A release that does not make it in time only
/// leaves its claim to expire.
pub async fn settle_releases(limit: Duration) {
    let wait = async {
        loop {
            let done = RELEASES.done.notified();
            if RELEASES.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    };
    let _ = tokio::time::timeout(limit, wait).await;
}
