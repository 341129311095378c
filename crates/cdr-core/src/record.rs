//! The records: one struct per member of the `cdrs` union, the union
//! [`Cdr`], and [`RecordKind`], which member a record is.
//!
//! The table below is the one declaration of the members and their fields.
//! Everything that depends on the list of fields comes from it (see
//! [`members!`](declare::members)): the structs, the columns of each kind
//! (and so Parquet schemas, CSV headers, the fields the query selects and
//! the keys both response decoders look for), and typed access by column
//! for encoders and decoders. Adding a field is one row here.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::Text;

mod declare;

use declare::members;

members! {
    /// A record of the `ApiCdr` union member.
    Api(ApiCdr) {
        datetime: DateTime<Utc> = "datetime",
        from: Option<Text> = "from",
        destination: Option<Text> = "destination",
        status: Option<Text> = "status",
        charge: Option<Decimal> = "charge",
        r#type: Option<Text> = "type",
    }

    /// A record of the `MessageCdr` union member (answers `SMS` and `MMS`).
    Message(MessageCdr) {
        datetime: DateTime<Utc> = "datetime",
        from_number: Option<Text> = "fromNumber",
        to_number: Option<Text> = "toNumber",
        direction: Option<Text> = "direction",
        status: Option<Text> = "status",
        charge: Option<Decimal> = "charge",
        r#type: Option<Text> = "type",
    }

    /// A record of the `VoiceCdr` union member.
    Voice(VoiceCdr) {
        datetime: DateTime<Utc> = "datetime",
        call_id: Option<Text> = "callId",
        source_ani: Option<Text> = "sourceAni",
        destination_number: Option<Text> = "destinationNumber",
        did_used: Option<Text> = "didUsed",
        /// Whole seconds.
        session_time: Option<i64> = "sessionTime",
        status: Option<Text> = "status",
        called_rate: Option<Decimal> = "calledRate",
        charge: Option<Decimal> = "charge",
        call_type: Option<Text> = "callType",
        ani_ii: Option<Text> = "aniIi",
    }
}

/// The most columns a kind may have: the decoders keep one bit per column
/// in a `u64` (the scanner one more, for `__typename`).
pub(crate) const MAX_COLUMNS: usize = 63;

const _: () = {
    let mut i = 0;
    while i < RecordKind::ALL.len() {
        assert!(RecordKind::ALL[i].columns().len() <= MAX_COLUMNS);
        i += 1;
    }
};

/// Anything with a record datetime (used by the paginator's window checks).
pub trait Timestamped {
    /// The record's datetime, in UTC.
    fn datetime(&self) -> DateTime<Utc>;
}

impl RecordKind {
    /// The position of this kind in [`RecordKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The kind with this `__typename`, if it is one we know.
    pub fn from_typename(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.typename() == name)
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
    use crate::field::Value;
    use crate::parse::{parse_datetime, parse_decimal};

    #[test]
    fn short_text_lives_in_the_record_and_null_text_costs_no_more_than_a_string() {
        // A null is `Text`'s niche: records are no larger than with `Option<String>`.
        assert_eq!(
            std::mem::size_of::<Option<Text>>(),
            std::mem::size_of::<String>()
        );
        // Call ids and phone numbers need no allocation of their own ...
        for short in ["call-00012345-3ade68b1", "+15551234567", ""] {
            assert!(!Text::from(short).is_heap_allocated(), "{short}");
        }
        // ... and a longer value is allocated, whole.
        let long = Text::from("x".repeat(25));
        assert!(long.is_heap_allocated());
        assert_eq!(long, "x".repeat(25));
    }

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

    #[test]
    fn a_field_name_has_one_column_type_in_every_member() {
        // The element decoder reads a field before it knows the member.
        let all: Vec<_> = RecordKind::ALL.iter().flat_map(|k| k.columns()).collect();
        for a in &all {
            for b in all.iter().filter(|b| b.graphql == a.graphql) {
                assert_eq!((a.name, a.ty, a.nullable), (b.name, b.ty, b.nullable));
            }
        }
    }

    #[test]
    fn kinds_are_numbered_in_their_order() {
        for (i, k) in RecordKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(Cdr::empty(k).kind(), k);
        }
    }

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
