//! Checks of the flags that are not part of an archive or export plan: the
//! type filter and `--max-behind` of `verify` and `status`, `--concurrency`,
//! and the limits on what a server may send, which every command shares.

use chrono::TimeDelta;

use cdr_core::CdrType;

use super::{MAX_CONCURRENCY, PlanError, parse_duration};

/// `--type` of `verify` and `status`: absent is every type (an empty list).
pub fn type_filter(types: Option<&str>) -> Result<Vec<CdrType>, PlanError> {
    match types {
        None => Ok(Vec::new()),
        Some(list) => {
            cdr_core::parse_type_list(list).map_err(|e| PlanError::new(format!("--type: {e}")))
        }
    }
}

/// `--concurrency`: 1 to [`MAX_CONCURRENCY`].
pub fn concurrency(n: i64) -> Result<usize, PlanError> {
    in_range("--concurrency", n)
}

/// A number of units for `flag`: 1 to [`MAX_CONCURRENCY`].
pub(super) fn in_range(flag: &str, n: i64) -> Result<usize, PlanError> {
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n as usize)
    } else {
        Err(PlanError::new(format!(
            "{flag} {n} is out of range: use 1 to {MAX_CONCURRENCY}"
        )))
    }
}

/// `--max-rps`: absent, or a positive number of requests per second.
pub fn max_rps(given: Option<f64>) -> Result<Option<f64>, PlanError> {
    match given {
        Some(r) if !(r.is_finite() && r > 0.0) => Err(PlanError::new(format!(
            "--max-rps {r} is not a positive number of requests per second: give e.g. 10, or 0.5"
        ))),
        _ => Ok(given),
    }
}

/// `--max-behind` of `status`: absent, or a positive duration.
pub fn max_behind(given: Option<&str>) -> Result<Option<TimeDelta>, PlanError> {
    given
        .map(|d| parse_duration("--max-behind", d, false))
        .transpose()
}

/// The limits on what a server may send: `--max-page-mib` (at least 1),
/// `--export-deadline` (a positive duration) and `--export-min-rate` (KiB/s,
/// 0 for none); the other limits keep their defaults.
pub fn limits(
    max_page_mib: u64,
    export_deadline: &str,
    export_min_rate_kib: u64,
) -> Result<cdr_transport::Limits, PlanError> {
    if max_page_mib == 0 {
        return Err(PlanError::new("--max-page-mib must be at least 1"));
    }
    let deadline = parse_duration("--export-deadline", export_deadline, false)?
        .to_std()
        .map_err(|_| PlanError::new("--export-deadline is out of range"))?;
    Ok(cdr_transport::Limits {
        max_page_bytes: max_page_mib.saturating_mul(1024 * 1024),
        export_deadline: deadline,
        export_min_rate: export_min_rate_kib.saturating_mul(1024),
        ..cdr_transport::Limits::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_its_flag() {
        assert_eq!(type_filter(None), Ok(vec![]));
        assert_eq!(
            type_filter(Some("sms,VOICE")),
            Ok(vec![CdrType::Sms, CdrType::Voice])
        );
        assert!(
            type_filter(Some("FAX"))
                .unwrap_err()
                .0
                .starts_with("--type: ")
        );
        assert_eq!(concurrency(1), Ok(1));
        assert_eq!(concurrency(MAX_CONCURRENCY), Ok(MAX_CONCURRENCY as usize));
        for bad in [0, -1, MAX_CONCURRENCY + 1] {
            assert_eq!(
                concurrency(bad).unwrap_err().0,
                format!("--concurrency {bad} is out of range: use 1 to {MAX_CONCURRENCY}")
            );
        }
        assert_eq!(max_rps(None), Ok(None));
        assert_eq!(max_rps(Some(0.5)), Ok(Some(0.5)));
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert!(
                max_rps(Some(bad))
                    .unwrap_err()
                    .0
                    .starts_with(&format!("--max-rps {bad} is not a positive number")),
                "{bad}"
            );
        }
        assert_eq!(max_behind(None), Ok(None));
        assert_eq!(max_behind(Some("2h")), Ok(Some(TimeDelta::hours(2))));
        assert!(
            max_behind(Some("0s"))
                .unwrap_err()
                .0
                .starts_with("--max-behind `0s`")
        );
    }

    #[test]
    fn limits_are_checked_and_scaled() {
        let l = limits(64, "30m", 16).expect("valid");
        assert_eq!(l.max_page_bytes, 64 * 1024 * 1024);
        assert_eq!(l.export_deadline, std::time::Duration::from_secs(1800));
        assert_eq!(l.export_min_rate, 16 * 1024);
        assert_eq!(
            l.max_error_body_bytes,
            cdr_transport::Limits::default().max_error_body_bytes
        );
        assert_eq!(
            limits(0, "30m", 0).unwrap_err().0,
            "--max-page-mib must be at least 1"
        );
        assert!(
            limits(1, "soon", 0)
                .unwrap_err()
                .0
                .starts_with("--export-deadline `soon`")
        );
    }
}
