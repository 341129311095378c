//! Waiting for what another process or task does: a server's state, a
//! child's progress. The tests wait for a condition, never for a time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long [`until`] looks before it calls a test broken. It bounds a hang,
/// not a speed: every condition the tests wait for holds within milliseconds
/// on a quiet machine, and a loaded one may be a hundred times slower.
pub const HANG_GUARD: Duration = Duration::from_secs(300);

/// Looks at `check` every few milliseconds until it holds. Panics naming
/// `what` after [`HANG_GUARD`].
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + HANG_GUARD;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "still waiting after {HANG_GUARD:?} until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn it_returns_once_the_condition_holds() {
        let looks = AtomicU32::new(0);
        until("the third look", || async {
            looks.fetch_add(1, Ordering::SeqCst) + 1 >= 3
        })
        .await;
        assert_eq!(looks.load(Ordering::SeqCst), 3);
    }
}
