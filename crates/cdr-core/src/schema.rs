//! The column schema of each record type: the single source for Parquet schemas,
//! CSV headers and the fields the GraphQL query selects.

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
