//! What a column is: its names, its logical type and whether it may be null
//! (the columns of each record kind come from the table in `record.rs`, see
//! [`RecordKind::columns`](crate::RecordKind::columns)), and the range of
//! amounts a money column holds.

/// Logical type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// An instant in UTC (Parquet: TIMESTAMP(MICROS, UTC); CSV: RFC 3339 with `Z`).
    Timestamp,
    /// Exact money: DECIMAL([`MONEY_PRECISION`], [`MONEY_SCALE`]).
    Decimal,
    /// A whole number (INT64).
    Int64,
    /// UTF-8 text.
    Utf8,
}

/// Decimal precision used for money columns in typed formats.
pub const MONEY_PRECISION: u8 = 38;
/// Decimal scale used for money columns in typed formats: enough for every
/// documented value (the provider uses up to 5 decimals) with room to spare.
pub const MONEY_SCALE: u32 = 10;

/// Digits a money column holds before the decimal point: the precision less
/// the scale.
pub const MONEY_INTEGER_DIGITS: u32 = MONEY_PRECISION as u32 - MONEY_SCALE;

/// An amount that a money column (DECIMAL([`MONEY_PRECISION`], [`MONEY_SCALE`]))
/// cannot hold exactly. Amounts are never rounded, so such a record cannot be
/// archived as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// More than [`MONEY_SCALE`] decimal places (trailing zeros aside).
    #[error("{value} has more than {MONEY_SCALE} decimal places")]
    TooPrecise { value: String },
    /// More than [`MONEY_INTEGER_DIGITS`] digits before the decimal point.
    #[error("{value} has more than {MONEY_INTEGER_DIGITS} digits before the decimal point")]
    TooLarge { value: String },
}

/// Checks that `d` fits a money column exactly. This is the one place that
/// says which amounts the archive can hold: trailing zeros past the scale are
/// allowed (`0.12345678900` is `0.1234567890`), any other digit there is not.
///
/// ```
/// use cdr_core::{MoneyError, check_money, parse_decimal};
/// assert!(check_money(&parse_decimal("0.0035")?).is_ok());
/// assert!(check_money(&parse_decimal("0.12345678900")?).is_ok());
/// assert!(matches!(
///     check_money(&parse_decimal("0.123456789012")?),
///     Err(MoneyError::TooPrecise { .. })
/// ));
/// assert!(matches!(
///     check_money(&parse_decimal("10000000000000000000000000000")?),
///     Err(MoneyError::TooLarge { .. })
/// ));
/// # Ok::<(), cdr_core::ValueError>(())
/// ```
pub fn check_money(d: &rust_decimal::Decimal) -> Result<(), MoneyError> {
    let scale = d.scale();
    let mantissa = d.mantissa();
    // The common case, two integer comparisons: few decimals, small mantissa.
    const SMALL: u128 = 10u128.pow(MONEY_INTEGER_DIGITS);
    if scale <= MONEY_SCALE && mantissa.unsigned_abs() < SMALL {
        return Ok(());
    }
    if scale > MONEY_SCALE {
        // A decimal's scale is at most 28, so the divisor fits.
        let divisor = 10i128.pow(scale - MONEY_SCALE);
        if mantissa % divisor != 0 {
            return Err(MoneyError::TooPrecise {
                value: d.to_string(),
            });
        }
    }
    // A limit beyond what a decimal holds cannot be exceeded.
    let too_large = rust_decimal::Decimal::try_from_i128_with_scale(SMALL as i128, 0)
        .is_ok_and(|limit| d.abs() >= limit);
    if too_large {
        return Err(MoneyError::TooLarge {
            value: d.to_string(),
        });
    }
    Ok(())
}

/// Version of the column layout below; bumped when a column changes.
pub const SCHEMA_VERSION: u32 = 1;

/// One column of a record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The GraphQL field name, e.g. `fromNumber`.
    pub graphql: &'static str,
    /// The column name in files, the snake_case form, e.g. `from_number`.
    pub name: &'static str,
    /// Logical type.
    pub ty: ColumnType,
    /// Whether the value may be null.
    pub nullable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_limits_follow_the_column_type() {
        use crate::parse::parse_decimal;
        let check = |text: &str, want: Result<(), &str>| {
            let d = parse_decimal(text).unwrap();
            let got = check_money(&d).map_err(|e| match e {
                MoneyError::TooPrecise { .. } => "precise",
                MoneyError::TooLarge { .. } => "large",
            });
            assert_eq!(got, want, "{text}");
        };
        check("0", Ok(()));
        check("-0.00350", Ok(()));
        check("0.1234567890", Ok(()));
        check("0.12345678900000", Ok(()));
        check("0.12345678901", Err("precise"));
        check("-0.00000000001", Err("precise"));
        check("999999999999999999.9999999999", Ok(()));
        check("9999999999999999999999999999", Ok(()));
        check("10000000000000000000000000000", Err("large"));
        check("-10000000000000000000000000000", Err("large"));
        check("79228162514264337593543950335", Err("large"));
        check("1e27", Ok(()));
        let e = check_money(&parse_decimal("0.123456789012").unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "0.123456789012 has more than 10 decimal places"
        );
        assert_eq!(MONEY_INTEGER_DIGITS, 28);
    }
}
