//! The text forms of values the API sends and the archive writes: RFC 3339
//! datetimes, exact decimals (never through a float) and whole numbers.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Why a textual value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    #[error("invalid datetime `{0}`: expected RFC 3339, e.g. 2026-11-01T00:00:00Z")]
    Datetime(String),
    #[error("invalid decimal `{0}`")]
    Decimal(String),
    #[error("invalid whole number `{0}`")]
    Integer(String),
}

/// Parses an RFC 3339 / ISO 8601 datetime with `Z` or an offset, with or without
/// fractional seconds, into a UTC instant with full (nanosecond) precision.
pub fn parse_datetime(text: &str) -> Result<DateTime<Utc>, ValueError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ValueError::Datetime(text.to_string()))
}

/// Formats an instant as RFC 3339 in UTC with `Z`, keeping every non-zero
/// fractional digit (e.g. `2026-11-01T00:00:00.123456Z`).
pub fn format_datetime(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Parses an exact decimal from its text (`12.50`, `-0.00001`, `1e-5`), keeping the
/// scale as written. Never passes through a float.
pub fn parse_decimal(text: &str) -> Result<Decimal, ValueError> {
    let t = text.trim();
    let parsed = match t.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => parse_scientific(mantissa, exponent),
        None => Decimal::from_str_exact(t).ok(),
    };
    parsed.ok_or_else(|| ValueError::Decimal(text.to_string()))
}

/// `mantissa x 10^exponent`, exactly: the mantissa is parsed exactly and the
/// exponent moves its scale, so nothing is rounded (unlike
/// `Decimal::from_scientific`, whose mantissa parse may round).
fn parse_scientific(mantissa: &str, exponent: &str) -> Option<Decimal> {
    let mut d = Decimal::from_str_exact(mantissa).ok()?;
    let e: i32 = exponent.parse().ok()?;
    if e < 0 {
        let scale = d.scale().checked_add(e.unsigned_abs())?;
        d.set_scale(scale).ok()?;
    } else {
        for _ in 0..e.min(29) {
            d = d.checked_mul(Decimal::TEN)?;
        }
        if e > 28 {
            return None;
        }
    }
    Some(d)
}

/// Parses a whole number, also accepting a JSON-style `12.0`.
pub fn parse_integer(text: &str) -> Result<i64, ValueError> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Ok(v);
    }
    let d = parse_decimal(t).map_err(|_| ValueError::Integer(text.to_string()))?;
    if d.fract().is_zero() {
        i64::try_from(d).map_err(|_| ValueError::Integer(text.to_string()))
    } else {
        Err(ValueError::Integer(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn datetimes_in_every_documented_form() {
        let base = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        for (text, want) in [
            ("2026-11-01T10:00:00Z", base),
            ("2026-11-01T12:00:00+02:00", base),
            ("2026-11-01T05:30:00-04:30", base),
            (
                "2026-11-01T10:00:00.123456789Z",
                base + chrono::Duration::nanoseconds(123_456_789),
            ),
            (
                "2026-11-01T10:00:00.5+00:00",
                base + chrono::Duration::milliseconds(500),
            ),
        ] {
            assert_eq!(parse_datetime(text).unwrap(), want, "{text}");
        }
        assert!(parse_datetime("2026-11-01 10:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }

    #[test]
    fn formatting_keeps_precision_and_round_trips() {
        let t = parse_datetime("2026-11-01T10:00:00.000001Z").unwrap();
        assert_eq!(format_datetime(&t), "2026-11-01T10:00:00.000001Z");
        let t = parse_datetime("2026-11-01T10:00:00Z").unwrap();
        assert_eq!(format_datetime(&t), "2026-11-01T10:00:00Z");
    }

    #[test]
    fn decimals_are_exact_and_keep_scale() {
        assert_eq!(parse_decimal("0.00001").unwrap().to_string(), "0.00001");
        assert_eq!(parse_decimal("12.50").unwrap().to_string(), "12.50");
        assert_eq!(parse_decimal("1e-5").unwrap().to_string(), "0.00001");
        assert_eq!(
            parse_decimal("1.5E2").unwrap(),
            parse_decimal("150").unwrap()
        );
        assert_eq!(parse_decimal("-2.50e-3").unwrap().to_string(), "-0.00250");
        // A mantissa with more digits than a decimal holds is refused, not rounded.
        assert!(parse_decimal("1.2345678901234567890123456789012e2").is_err());
        assert!(parse_decimal("1e-40").is_err());
        assert!(parse_decimal("1e40").is_err());
        // 0.1 + 0.2 is exactly 0.3 in decimal, unlike f64.
        let sum = parse_decimal("0.1").unwrap() + parse_decimal("0.2").unwrap();
        assert_eq!(sum, parse_decimal("0.3").unwrap());
        assert!(parse_decimal("1,5").is_err());
        assert!(parse_decimal("").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("42").unwrap(), 42);
        assert_eq!(parse_integer("42.0").unwrap(), 42);
        assert!(parse_integer("42.5").is_err());
        assert!(parse_integer("x").is_err());
    }
}
