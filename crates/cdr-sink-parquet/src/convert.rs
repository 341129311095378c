//! One value into what its column holds, exactly or not at all: timestamps
//! as whole microseconds, money as the unscaled units of DECIMAL(38, 10),
//! text up to a limit. Nothing is rounded or truncated; a value that does
//! not fit is an [`EncodeError::Value`] naming its column.

use cdr_core::chrono::{DateTime, Utc};
use cdr_core::rust_decimal::Decimal;
use cdr_core::{Column, ColumnType, MONEY_PRECISION, MONEY_SCALE, Value, format_datetime};
use cdr_sink_api::EncodeError;

/// Longest accepted text value. Arrow `Utf8` offsets are 32-bit, so one batch
/// holds less than 2 GiB of text per column; a batch ends once it holds
/// 16 MiB of text, which leaves room for one value of this size.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024 * 1024;

const FORMAT: &str = "parquet";

/// 10^MONEY_PRECISION: the first magnitude a money column cannot hold.
const DECIMAL_LIMIT: i128 = 10i128.pow(MONEY_PRECISION as u32);

pub(crate) fn format_error(e: impl std::fmt::Display) -> EncodeError {
    EncodeError::Format {
        format: FORMAT,
        message: e.to_string(),
    }
}

fn value_error(column: &Column, message: String) -> EncodeError {
    EncodeError::Value {
        column: column.name,
        message,
    }
}

/// A timestamp as microseconds since the epoch, refusing what a microsecond
/// timestamp cannot hold instead of truncating it.
pub(crate) fn timestamp_micros(t: DateTime<Utc>) -> Result<i64, String> {
    let nanos = t.timestamp_subsec_nanos();
    if nanos >= 1_000_000_000 {
        return Err(format!(
            "{} is a leap second, which a Parquet timestamp cannot hold",
            format_datetime(&t)
        ));
    }
    if !nanos.is_multiple_of(1000) {
        return Err(format!(
            "{} has sub-microsecond precision; Parquet timestamps hold whole microseconds \
             and values are never truncated",
            format_datetime(&t)
        ));
    }
    Ok(t.timestamp_micros())
}

/// A decimal as the unscaled value of DECIMAL(MONEY_PRECISION, MONEY_SCALE),
/// exactly: never rounded.
pub(crate) fn money_units(d: Decimal) -> Result<i128, String> {
    let scale = d.scale();
    let mantissa = d.mantissa();
    let units = if scale > MONEY_SCALE {
        // Only trailing zeros may go: 0.100000000000 is 0.1000000000.
        let divisor = 10i128.pow(scale - MONEY_SCALE);
        if mantissa % divisor != 0 {
            return Err(format!(
                "{d} has {scale} decimal places; DECIMAL({MONEY_PRECISION}, {MONEY_SCALE}) \
                 holds at most {MONEY_SCALE} and values are never rounded"
            ));
        }
        Some(mantissa / divisor)
    } else {
        mantissa.checked_mul(10i128.pow(MONEY_SCALE - scale))
    };
    units
        .filter(|u| u.unsigned_abs() < DECIMAL_LIMIT.unsigned_abs())
        .ok_or_else(|| {
            format!(
                "{d} does not fit DECIMAL({MONEY_PRECISION}, {MONEY_SCALE}): at most {} digits \
                 before the decimal point",
                MONEY_PRECISION as u32 - MONEY_SCALE
            )
        })
}

/// One value, converted to what its column's builder takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    Null,
    Timestamp(i64),
    Decimal(i128),
    Int64(i64),
    Str(&'a str),
}

fn value_kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Timestamp(_) => "timestamp",
        Value::Decimal(_) => "decimal",
        Value::Int64(_) => "integer",
        Value::Str(_) => "text",
    }
}

pub(crate) fn cell<'a>(column: &Column, value: Value<'a>) -> Result<Cell<'a>, EncodeError> {
    let err = |m| value_error(column, m);
    match (column.ty, value) {
        (_, Value::Null) if column.nullable => Ok(Cell::Null),
        (_, Value::Null) => Err(err("is required, but the record has no value".into())),
        (ColumnType::Timestamp, Value::Timestamp(t)) => {
            timestamp_micros(t).map(Cell::Timestamp).map_err(err)
        }
        (ColumnType::Decimal, Value::Decimal(d)) => money_units(d).map(Cell::Decimal).map_err(err),
        (ColumnType::Int64, Value::Int64(n)) => Ok(Cell::Int64(n)),
        (ColumnType::Utf8, Value::Str(s)) if s.len() <= MAX_TEXT_BYTES => Ok(Cell::Str(s)),
        (ColumnType::Utf8, Value::Str(s)) => Err(err(format!(
            "text of {} bytes is longer than the {MAX_TEXT_BYTES} bytes a value may have",
            s.len()
        ))),
        (ty, v) => Err(err(format!(
            "a {} value in a {ty:?} column",
            value_kind(&v)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        cdr_core::parse_decimal(s).unwrap()
    }

    #[test]
    fn money_is_rescaled_exactly() {
        for (text, units) in [
            ("0.1", 1_000_000_000),
            ("0.00350", 35_000_000),
            ("-0.00001", -100_000),
            ("1234567890.12345", 12_345_678_901_234_500_000),
            ("0", 0),
            ("0.1000000000000", 1_000_000_000),
            ("0.0000000001", 1),
        ] {
            assert_eq!(money_units(dec(text)), Ok(units), "{text}");
        }
    }

    #[test]
    fn money_is_never_rounded() {
        let err = money_units(dec("0.00000000001")).unwrap_err();
        assert!(err.contains("11 decimal places"), "{err}");
        let err = money_units(dec("1.00000000005")).unwrap_err();
        assert!(err.contains("never rounded"), "{err}");
    }

    #[test]
    fn money_beyond_precision_is_refused() {
        // 28 integer digits need 38 digits at scale 10 ...
        let ok = "9999999999999999999999999999";
        assert_eq!(
            money_units(dec(ok)),
            Ok(dec(ok).mantissa() * 10i128.pow(10))
        );
        // ... and the largest rust_decimal values need 39.
        let err = money_units(Decimal::MAX).unwrap_err();
        assert!(err.contains("does not fit DECIMAL(38, 10)"), "{err}");
        assert!(money_units(Decimal::MIN).is_err());
    }

    #[test]
    fn timestamps_keep_microseconds_and_refuse_less() {
        let t = cdr_core::parse_datetime("2026-11-01T00:00:00.123456Z").unwrap();
        assert_eq!(timestamp_micros(t), Ok(1_793_491_200_123_456));
        let t = cdr_core::parse_datetime("1969-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(timestamp_micros(t), Ok(-1));
        let t = cdr_core::parse_datetime("2026-11-01T00:00:00.1234567Z").unwrap();
        assert!(timestamp_micros(t).unwrap_err().contains("sub-microsecond"));
        let t = cdr_core::parse_datetime("2016-12-31T23:59:60Z").unwrap();
        assert!(timestamp_micros(t).unwrap_err().contains("leap second"));
    }
}
