//! The element decoder: one element of `cdrs`, from its JSON text, into a
//! record, an unknown member or a bad record. It reads the object once, in
//! any key order, into a record of the member asked for (the only one it
//! keeps), and judges the element by `__typename` at the end; values that
//! cannot be read or stored are reported, not raised. Both the serde
//! decoder of whole bodies and the scanner (for the elements it does not
//! take) judge elements here.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::page::{BadRecord, Member, UnknownMember};
use crate::field::Slot;
use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::record::{Cdr, RecordKind};
use crate::schema::{Column, ColumnType, check_money};

/// Decodes one element of `cdrs` from its JSON text, for a query of member
/// `expected`, whose text fields may hold up to `max_text` bytes. Bad values
/// and unknown members are results, not errors; the error (a message) is
/// for text that is not a JSON object.
pub(crate) fn decode_member(
    raw: &str,
    index: usize,
    expected: RecordKind,
    max_text: usize,
) -> Result<Member, String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let verdict = MemberSeed { expected, max_text }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| e.to_string())?;
    Ok(match verdict {
        Verdict::Known(r) => Member::Known(r),
        Verdict::Unknown(typename) => Member::Unknown(UnknownMember { index, typename }),
        Verdict::Bad {
            typename,
            field,
            message,
        } => Member::Bad(BadRecord {
            index,
            typename,
            field: field.to_string(),
            message: short(message),
            raw: raw.to_string(),
        }),
    })
}

/// A message cut to a length fit for one line of a log.
fn short(mut message: String) -> String {
    const MAX: usize = 200;
    if message.len() > MAX {
        let mut cut = MAX;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[allow(clippy::large_enum_variant)] // built once per element and moved straight out
enum Verdict {
    Known(Cdr),
    Unknown(String),
    Bad {
        typename: String,
        field: &'static str,
        message: String,
    },
}

struct MemberSeed {
    expected: RecordKind,
    max_text: usize,
}

/// A key of a member object, for a query of member `expected`.
enum Key {
    Typename,
    /// A field of some member: a column with that GraphQL name (a name has
    /// one type in every member) and its index among the columns of the
    /// member asked for, if it is one of its fields.
    Field(&'static Column, Option<usize>),
    /// Not a field of any member: skipped.
    Other,
}

impl Key {
    fn of(expected: RecordKind, name: &str) -> Key {
        if is(name, "__typename") {
            return Key::Typename;
        }
        let columns = expected.columns();
        if let Some(i) = columns.iter().position(|c| is(name, c.graphql)) {
            return Key::Field(&columns[i], Some(i));
        }
        RecordKind::ALL
            .iter()
            .flat_map(|k| k.columns())
            .find(|c| is(name, c.graphql))
            .map_or(Key::Other, |c| Key::Field(c, None))
    }
}

/// `key == name`, most often told by the length and the first byte.
#[inline]
fn is(key: &str, name: &str) -> bool {
    key.len() == name.len() && key.as_bytes().first() == name.as_bytes().first() && key == name
}

/// Reads a key of a member object of the member asked for.
struct KeySeed(RecordKind);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key::of(self.0, v))
    }
}

/// The value of a field, read by its column type.
enum Cell {
    Null,
    Timestamp(DateTime<Utc>),
    Decimal(Decimal),
    Int64(i64),
    Text(String),
}

/// Reads the next value of `map` as a value of a column of type `ty`, text
/// of at most `max_text` bytes; the inner error is the message that says why
/// it cannot be stored.
fn read_cell<'de, A: MapAccess<'de>>(
    map: &mut A,
    ty: ColumnType,
    max_text: usize,
) -> Result<Result<Cell, String>, A::Error> {
    let or_null = |v: Option<Cell>| v.unwrap_or(Cell::Null);
    Ok(match ty {
        ColumnType::Utf8 => map
            .next_value_seed(Text { max: max_text })?
            .map(|v| or_null(v.map(Cell::Text))),
        ColumnType::Timestamp => map
            .next_value::<DatetimeText>()?
            .0
            .map(|v| or_null(v.map(Cell::Timestamp))),
        ColumnType::Decimal => {
            let raw: &RawValue = map.next_value()?;
            money(raw).map(|v| or_null(v.map(Cell::Decimal)))
        }
        ColumnType::Int64 => {
            let raw: &RawValue = map.next_value()?;
            match raw_text(raw).map(|t| parse_integer(&t)).transpose() {
                Ok(v) => Ok(or_null(v.map(Cell::Int64))),
                Err(e) => Err(e.to_string()),
            }
        }
    })
}

/// Writes `cell` into `slot`; whether the field now holds a value (null, or
/// a value of another type, which one type per name rules out, leaves a
/// nullable field null and a required one not given).
#[inline]
fn fill(slot: Slot<'_>, cell: Cell) -> bool {
    match (slot, cell) {
        (Slot::Timestamp(s), Cell::Timestamp(v)) => *s = v,
        (Slot::Decimal(s), Cell::Decimal(v)) => *s = Some(v),
        (Slot::Int64(s), Cell::Int64(v)) => *s = Some(v),
        (Slot::Utf8(s), Cell::Text(v)) => *s = Some(v.into()),
        (slot, _) => {
            slot.clear();
            return false;
        }
    }
    true
}

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Verdict;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Verdict, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed {
    type Value = Verdict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CDR object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Verdict, A::Error> {
        let mut typename = None;
        let mut typename_bad = None;
        // Read as a record of the member asked for, the only one that is
        // kept; the fields of other members are read and judged, not kept.
        let mut record = Cdr::empty(self.expected);
        // The fields of `record` that hold a value (last value of a key wins).
        let mut given = 0u64;
        // Value problems are judged only once the member is known to be ours
        // (an unknown member's fields are not ours to judge); the first one
        // in key order is reported.
        let mut bad: Option<(&'static str, String)> = None;
        while let Some(key) = map.next_key_seed(KeySeed(self.expected))? {
            match key {
                Key::Typename => match map.next_value_seed(Text { max: usize::MAX })? {
                    Ok(v) => typename = v,
                    Err(e) => typename_bad = Some(e),
                },
                Key::Field(column, own) => match read_cell(&mut map, column.ty, self.max_text)? {
                    Ok(cell) => {
                        if let Some(i) = own
                            && let Some(slot) = record.slot(i)
                        {
                            if fill(slot, cell) {
                                given |= 1 << i;
                            } else {
                                given &= !(1 << i);
                            }
                        }
                    }
                    Err(e) => {
                        bad.get_or_insert((column.graphql, e));
                    }
                },
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(message) = typename_bad {
            return Ok(Verdict::Bad {
                typename: String::new(),
                field: "__typename",
                message,
            });
        }
        let typename = typename.unwrap_or_default();
        let Some(kind) = RecordKind::from_typename(&typename) else {
            return Ok(Verdict::Unknown(typename));
        };
        if kind != self.expected {
            return Ok(Verdict::Bad {
                message: format!(
                    "a {typename} where {} records were asked for",
                    self.expected
                ),
                typename,
                field: "__typename",
            });
        }
        if let Some((field, message)) = bad {
            return Ok(Verdict::Bad {
                typename,
                field,
                message,
            });
        }
        let missing = kind
            .columns()
            .iter()
            .enumerate()
            .find(|(i, c)| !c.nullable && given & (1 << i) == 0);
        if let Some((_, column)) = missing {
            return Ok(Verdict::Bad {
                typename,
                field: column.graphql,
                message: "missing or null".into(),
            });
        }
        Ok(Verdict::Known(record))
    }
}

/// The JSON type of a value that is not what a field holds, for messages.
struct Unexpected(&'static str);

impl Unexpected {
    fn of<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Unexpected, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Unexpected("a list"))
    }

    fn of_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Unexpected, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Unexpected("an object"))
    }
}

/// Implements the visits of values a field does not hold, each reported as
/// `$what, got <JSON type>` rather than failing the page.
macro_rules! reject_other_values {
    ($make:expr, $what:literal) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($make(format!("{}, got a boolean", $what)))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($make(format!("{}, got a number", $what)))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($make(format!("{}, got a number", $what)))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($make(format!("{}, got a number", $what)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let Unexpected(t) = Unexpected::of(seq)?;
            Ok($make(format!("{}, got {t}", $what)))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let Unexpected(t) = Unexpected::of_map(map)?;
            Ok($make(format!("{}, got {t}", $what)))
        }
    };
}

/// A string of at most `max` bytes, or null; another JSON value, or a longer
/// string, is kept as the message that says so.
struct Text {
    max: usize,
}

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Result<Option<String>, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Result<Option<String>, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Measured before it is copied: a long value is not copied at all.
        Ok(match too_long(v, self.max) {
            Some(message) => Err(message),
            None => Ok(Some(v.to_string())),
        })
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(match too_long(&v, self.max) {
            Some(message) => Err(message),
            None => Ok(Some(v)),
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    reject_other_values!(Err, "expected a string or null");
}

/// Why `text` cannot be stored in a text field of at most `max` bytes, if it
/// cannot. The message gives the lengths, never the text.
fn too_long(text: &str, max: usize) -> Option<String> {
    (text.len() > max).then(|| {
        format!(
            "a text of {} bytes, longer than the limit of {max} bytes",
            text.len()
        )
    })
}

/// A datetime string (parsed without copying) or null; another JSON value,
/// or a string that is not RFC 3339, is kept as the message that says so.
struct DatetimeText(Result<Option<DateTime<Utc>>, String>);

impl<'de> Deserialize<'de> for DatetimeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DatetimeText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 datetime string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DatetimeText, E> {
                Ok(DatetimeText(
                    parse_datetime(v).map(Some).map_err(|e| e.to_string()),
                ))
            }
            fn visit_unit<E: de::Error>(self) -> Result<DatetimeText, E> {
                Ok(DatetimeText(Ok(None)))
            }
            fn visit_none<E: de::Error>(self) -> Result<DatetimeText, E> {
                Ok(DatetimeText(Ok(None)))
            }
            reject_other_values!(
                |m| DatetimeText(Err(m)),
                "expected an RFC 3339 datetime string"
            );
        }
        d.deserialize_any(V)
    }
}

/// Reads a money value from the raw JSON text (a number or a string, never
/// via f64) and checks that the archive can hold it.
fn money(raw: &RawValue) -> Result<Option<Decimal>, String> {
    let Some(text) = raw_text(raw) else {
        return Ok(None);
    };
    let d = parse_decimal(&text).map_err(|e| e.to_string())?;
    check_money(&d).map_err(|e| e.to_string())?;
    Ok(Some(d))
}

/// The text of a scalar JSON value: `None` for null, the unescaped content for a
/// string, the literal for a number (and the JSON text of anything else,
/// which no number parser takes).
fn raw_text(raw: &RawValue) -> Option<std::borrow::Cow<'_, str>> {
    let t = raw.get().trim();
    if t == "null" {
        None
    } else if t.starts_with('"') {
        if !t.contains('\\') {
            Some(std::borrow::Cow::Borrowed(&t[1..t.len() - 1]))
        } else {
            // Escaped strings are rare for numbers; unescape them properly.
            serde_json::from_str::<String>(t)
                .ok()
                .map(std::borrow::Cow::Owned)
        }
    } else {
        Some(std::borrow::Cow::Borrowed(t))
    }
}
