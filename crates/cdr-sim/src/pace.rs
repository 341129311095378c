//! How fast the server answers GraphQL requests: an answer leaves
//! `latency` after its request arrived, service time included.
//!
//! It reads the time from `tokio::time::Instant`, so that tests on a paused
//! clock control it.

use std::time::Duration;

use tokio::time::Instant;

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
    use super::*;

    const MS: Duration = Duration::from_millis(1);

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
