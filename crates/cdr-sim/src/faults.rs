//! Which fault, if any, a request suffers: a pure function of the fault
//! settings and the request's number.

use crate::config::Faults;
use crate::data::mix;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    RateLimit { retry_after: Option<u64> },
    ServerError(u16),
    Reset,
    Truncate,
}

/// Clamps every probability into 0..=1 (NaN counts as 0). Probabilities that
/// add up to more than 1 are then served in the order rate limit, server
/// error, reset, truncate.
pub(crate) fn sanitize(mut f: Faults) -> Faults {
    for p in [
        &mut f.rate_limit,
        &mut f.server_error,
        &mut f.reset,
        &mut f.truncate,
    ] {
        *p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    }
    f
}

/// The fault of request number `n`.
pub(crate) fn draw(f: &Faults, n: u64) -> Fault {
    let h = mix(f.seed ^ mix(n ^ 0x5eed_fa17));
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let coin = mix(h) & 1 == 0;
    let mut edge = f.rate_limit;
    if u < edge {
        return Fault::RateLimit {
            retry_after: coin.then_some(f.retry_after_secs),
        };
    }
    edge += f.server_error;
    if u < edge {
        return Fault::ServerError(if coin { 502 } else { 503 });
    }
    edge += f.reset;
    if u < edge {
        return Fault::Reset;
    }
    edge += f.truncate;
    if u < edge {
        return Fault::Truncate;
    }
    Fault::None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_appears_at_its_rate() {
        let f = Faults {
            rate_limit: 0.1,
            retry_after_secs: 1,
            server_error: 0.05,
            reset: 0.02,
            truncate: 0.2,
            seed: 9,
        };
        let n = 200_000u64;
        let mut counts = [0u64; 7];
        for i in 0..n {
            let k = match draw(&f, i) {
                Fault::RateLimit {
                    retry_after: Some(1),
                } => 0,
                Fault::RateLimit { retry_after: None } => 1,
                Fault::ServerError(502) => 2,
                Fault::ServerError(503) => 3,
                Fault::Reset => 4,
                Fault::Truncate => 5,
                Fault::None => 6,
                other => panic!("unexpected {other:?}"),
            };
            counts[k] += 1;
        }
        let rate = |k: usize| counts[k] as f64 / n as f64;
        let close = |got: f64, want: f64| (got - want).abs() < 0.005 + want * 0.05;
        assert!(close(rate(0), 0.05) && close(rate(1), 0.05), "{counts:?}");
        assert!(close(rate(2), 0.025) && close(rate(3), 0.025), "{counts:?}");
        assert!(close(rate(4), 0.02), "{counts:?}");
        assert!(close(rate(5), 0.2), "{counts:?}");
        assert!(close(rate(6), 0.63), "{counts:?}");
    }

    #[test]
    fn draws_are_deterministic_per_seed_and_request() {
        let f = Faults {
            reset: 0.5,
            seed: 3,
            ..Faults::default()
        };
        let a: Vec<Fault> = (0..64).map(|i| draw(&f, i)).collect();
        let b: Vec<Fault> = (0..64).map(|i| draw(&f, i)).collect();
        assert_eq!(a, b);
        let g = Faults { seed: 4, ..f };
        let c: Vec<Fault> = (0..64).map(|i| draw(&g, i)).collect();
        assert_ne!(a, c);
        assert!((0..1000).all(|i| draw(&Faults::default(), i) == Fault::None));
    }

    #[test]
    fn sanitizing_clamps_out_of_range_probabilities() {
        let f = sanitize(Faults {
            rate_limit: f64::NAN,
            server_error: 2.0,
            reset: -1.0,
            ..Faults::default()
        });
        assert_eq!((f.rate_limit, f.server_error, f.reset), (0.0, 1.0, 0.0));
        assert!((0..100).all(|i| matches!(draw(&f, i), Fault::ServerError(_))));
    }
}
