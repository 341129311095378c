//! CDR records: one struct per union member, the union [`Cdr`], and typed access
//! to column values for encoders.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::schema::RecordKind;

/// A record of the `ApiCdr` union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCdr {
    pub datetime: DateTime<Utc>,
    pub from: Option<String>,
    pub destination: Option<String>,
    pub status: Option<String>,
    pub charge: Option<Decimal>,
    pub r#type: Option<String>,
}

/// A record of the `MessageCdr` union member (answers `SMS` and `MMS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCdr {
    pub datetime: DateTime<Utc>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub charge: Option<Decimal>,
    pub r#type: Option<String>,
}

/// A record of the `VoiceCdr` union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceCdr {
    pub datetime: DateTime<Utc>,
    pub call_id: Option<String>,
    pub source_ani: Option<String>,
    pub destination_number: Option<String>,
    pub did_used: Option<String>,
    /// Whole seconds.
    pub session_time: Option<i64>,
    pub status: Option<String>,
    pub called_rate: Option<Decimal>,
    pub charge: Option<Decimal>,
    pub call_type: Option<String>,
    pub ani_ii: Option<String>,
}

/// One element of the `cdrs` union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cdr {
    Api(ApiCdr),
    Message(MessageCdr),
    Voice(VoiceCdr),
}

/// A borrowed, typed cell value, in the logical types of [`crate::ColumnType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Timestamp(DateTime<Utc>),
    Decimal(Decimal),
    Int64(i64),
    Str(&'a str),
}

fn s(v: &Option<String>) -> Value<'_> {
    v.as_deref().map_or(Value::Null, Value::Str)
}
fn d(v: &Option<Decimal>) -> Value<'static> {
    v.map_or(Value::Null, Value::Decimal)
}

/// Anything with a record datetime (used by the paginator's window checks).
pub trait Timestamped {
    /// The record's datetime, in UTC.
    fn datetime(&self) -> DateTime<Utc>;
}

impl Cdr {
    /// Which union member this is.
    pub fn kind(&self) -> RecordKind {
        match self {
            Cdr::Api(_) => RecordKind::Api,
            Cdr::Message(_) => RecordKind::Message,
            Cdr::Voice(_) => RecordKind::Voice,
        }
    }

    /// The value of column `index` of [`RecordKind::columns`] for this record's kind;
    /// [`Value::Null`] past the last column.
    pub fn value(&self, index: usize) -> Value<'_> {
        match self {
            Cdr::Api(r) => match index {
                0 => Value::Timestamp(r.datetime),
                1 => s(&r.from),
                2 => s(&r.destination),
                3 => s(&r.status),
                4 => d(&r.charge),
                5 => s(&r.r#type),
                _ => Value::Null,
            },
            Cdr::Message(r) => match index {
                0 => Value::Timestamp(r.datetime),
                1 => s(&r.from_number),
                2 => s(&r.to_number),
                3 => s(&r.direction),
                4 => s(&r.status),
                5 => d(&r.charge),
                6 => s(&r.r#type),
                _ => Value::Null,
            },
            Cdr::Voice(r) => match index {
                0 => Value::Timestamp(r.datetime),
                1 => s(&r.call_id),
                2 => s(&r.source_ani),
                3 => s(&r.destination_number),
                4 => s(&r.did_used),
                5 => r.session_time.map_or(Value::Null, Value::Int64),
                6 => s(&r.status),
                7 => d(&r.called_rate),
                8 => d(&r.charge),
                9 => s(&r.call_type),
                10 => s(&r.ani_ii),
                _ => Value::Null,
            },
        }
    }
}

impl Timestamped for Cdr {
    fn datetime(&self) -> DateTime<Utc> {
        match self {
            Cdr::Api(r) => r.datetime,
            Cdr::Message(r) => r.datetime,
            Cdr::Voice(r) => r.datetime,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_datetime, parse_decimal};

    #[test]
    fn values_follow_the_schema_order() {
        let t = parse_datetime("2026-11-01T00:00:00Z").unwrap();
        let r = Cdr::Voice(VoiceCdr {
            datetime: t,
            call_id: Some("c1".into()),
            source_ani: None,
            destination_number: None,
            did_used: None,
            session_time: Some(61),
            status: None,
            called_rate: Some(parse_decimal("0.0125").unwrap()),
            charge: None,
            call_type: None,
            ani_ii: None,
        });
        let cols = RecordKind::Voice.columns();
        for (i, c) in cols.iter().enumerate() {
            let v = r.value(i);
            match (c.name, v) {
                ("datetime", Value::Timestamp(x)) => assert_eq!(x, t),
                ("call_id", Value::Str(x)) => assert_eq!(x, "c1"),
                ("session_time", Value::Int64(x)) => assert_eq!(x, 61),
                ("called_rate", Value::Decimal(x)) => assert_eq!(x.to_string(), "0.0125"),
                (_, Value::Null) => {}
                (name, other) => panic!("column {name} gave {other:?}"),
            }
        }
        assert_eq!(r.value(cols.len()), Value::Null);
    }
}
