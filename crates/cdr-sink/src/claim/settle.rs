//! Releases of dropped claims still on their way to the store, counted in
//! this process, so that a run stopped by a signal can let them reach the
//! store before it exits ([`settle_releases`]).

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

/// Waits, at most `limit`, until the releases of dropped claims have reached
/// the store. A run stopped by a signal drops its units; this lets their
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
