//! The column schema of each record type: the single source for Parquet schemas,
//! CSV headers and the fields the GraphQL query selects, and the range of
//! amounts a money column holds.

use std::fmt;

/// Which member of the `cdrs` union a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `ApiCdr`
    Api,
    /// `MessageCdr` (SMS and MMS)
    Message,
    /// `VoiceCdr`
    Voice,
}

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

const fn col(graphql: &'static str, name: &'static str, ty: ColumnType) -> Column {
    Column {
        graphql,
        name,
        ty,
        nullable: true,
    }
}

const DATETIME: Column = Column {
    graphql: "datetime",
    name: "datetime",
    ty: ColumnType::Timestamp,
    nullable: false,
};

use ColumnType::{Decimal, Int64, Utf8};

const API_COLUMNS: [Column; 6] = [
    DATETIME,
    col("from", "from", Utf8),
    col("destination", "destination", Utf8),
    col("status", "status", Utf8),
    col("charge", "charge", Decimal),
    col("type", "type", Utf8),
];

const MESSAGE_COLUMNS: [Column; 7] = [
    DATETIME,
    col("fromNumber", "from_number", Utf8),
    col("toNumber", "to_number", Utf8),
    col("direction", "direction", Utf8),
    col("status", "status", Utf8),
    col("charge", "charge", Decimal),
    col("type", "type", Utf8),
];

const VOICE_COLUMNS: [Column; 11] = [
    DATETIME,
    col("callId", "call_id", Utf8),
    col("sourceAni", "source_ani", Utf8),
    col("destinationNumber", "destination_number", Utf8),
    col("didUsed", "did_used", Utf8),
    col("sessionTime", "session_time", Int64),
    col("status", "status", Utf8),
    col("calledRate", "called_rate", Decimal),
    col("charge", "charge", Decimal),
    col("callType", "call_type", Utf8),
    col("aniIi", "ani_ii", Utf8),
];

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 3] = [RecordKind::Api, RecordKind::Message, RecordKind::Voice];

    /// The GraphQL type name (`__typename`).
    pub const fn typename(self) -> &'static str {
        match self {
            RecordKind::Api => "ApiCdr",
            RecordKind::Message => "MessageCdr",
            RecordKind::Voice => "VoiceCdr",
        }
    }

    /// The kind with this `__typename`, if it is one we know.
    pub fn from_typename(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.typename() == name)
    }

    /// The columns, in documented order. Index 0 is always `datetime`.
    pub const fn columns(self) -> &'static [Column] {
        match self {
            RecordKind::Api => &API_COLUMNS,
            RecordKind::Message => &MESSAGE_COLUMNS,
            RecordKind::Voice => &VOICE_COLUMNS,
        }
    }

    /// Finds a column by its GraphQL or snake_case name.
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns()
            .iter()
            .position(|c| c.graphql == name || c.name == name)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.typename())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_is_first_and_required_everywhere() {
        for k in RecordKind::ALL {
            let c = k.columns()[0];
            assert_eq!(c.name, "datetime");
            assert!(!c.nullable);
            assert!(k.columns()[1..].iter().all(|c| c.nullable));
        }
    }

    #[test]
    fn names_are_snake_case_forms_of_graphql_fields() {
        for k in RecordKind::ALL {
            for c in k.columns() {
                let mut snake = String::new();
                for ch in c.graphql.chars() {
                    if ch.is_ascii_uppercase() {
                        snake.push('_');
                        snake.push(ch.to_ascii_lowercase());
                    } else {
                        snake.push(ch);
                    }
                }
                assert_eq!(snake, c.name);
            }
        }
    }

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

    #[test]
    fn lookups_by_either_name() {
        assert_eq!(RecordKind::Voice.column_index("sessionTime"), Some(5));
        assert_eq!(RecordKind::Voice.column_index("session_time"), Some(5));
        assert_eq!(RecordKind::Api.column_index("fromNumber"), None);
        assert_eq!(
            RecordKind::from_typename("VoiceCdr"),
            Some(RecordKind::Voice)
        );
        assert_eq!(RecordKind::from_typename("FaxCdr"), None);
    }
}
