//! The element decoder: one element of `cdrs`, from its JSON text, into a
//! record, an unknown member or a bad record. It reads the object once, in
//! any key order, and chooses the member by `__typename` at the end; values
//! that cannot be read or stored are reported, not raised. Both the serde
//! decoder of whole bodies and the scanner (for the elements it does not
//! take) judge elements here.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::page::{BadRecord, Member, UnknownMember};
use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::record::RecordKind;
use crate::record::{ApiCdr, Cdr, MessageCdr, VoiceCdr};
use crate::schema::check_money;

/// Decodes one element of `cdrs` from its JSON text, for a query of member
/// `expected`. Bad values and unknown members are results, not errors; the
/// error (a message) is for text that is not a JSON object.
pub(crate) fn decode_member(
    raw: &str,
    index: usize,
    expected: RecordKind,
) -> Result<Member, String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let verdict = MemberSeed { expected }
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
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum Field {
    #[serde(rename = "__typename")]
    Typename,
    #[serde(rename = "datetime")]
    Datetime,
    #[serde(rename = "from")]
    From,
    #[serde(rename = "destination")]
    Destination,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "charge")]
    Charge,
    #[serde(rename = "type")]
    Type,
    #[serde(rename = "fromNumber")]
    FromNumber,
    #[serde(rename = "toNumber")]
    ToNumber,
    #[serde(rename = "direction")]
    Direction,
    #[serde(rename = "callId")]
    CallId,
    #[serde(rename = "sourceAni")]
    SourceAni,
    #[serde(rename = "destinationNumber")]
    DestinationNumber,
    #[serde(rename = "didUsed")]
    DidUsed,
    #[serde(rename = "sessionTime")]
    SessionTime,
    #[serde(rename = "calledRate")]
    CalledRate,
    #[serde(rename = "callType")]
    CallType,
    #[serde(rename = "aniIi")]
    AniIi,
    #[serde(other)]
    Other,
}

/// Every field of every member; the member is chosen by `__typename` at the end,
/// so the object is read once, in any key order, without buffering.
#[derive(Default)]
struct AnyMember {
    typename: Option<String>,
    datetime: Option<DateTime<Utc>>,
    from: Option<String>,
    destination: Option<String>,
    status: Option<String>,
    charge: Option<Decimal>,
    r#type: Option<String>,
    from_number: Option<String>,
    to_number: Option<String>,
    direction: Option<String>,
    call_id: Option<String>,
    source_ani: Option<String>,
    destination_number: Option<String>,
    did_used: Option<String>,
    session_time: Option<i64>,
    called_rate: Option<Decimal>,
    call_type: Option<String>,
    ani_ii: Option<String>,
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
        let mut m = AnyMember::default();
        // Value problems are judged only once the member is known to be ours
        // (an unknown member's fields are not ours to judge); the first one
        // in key order is reported.
        let mut bad: Option<(&'static str, String)> = None;
        let mut note = |field: &'static str, e: String| {
            bad.get_or_insert((field, e));
        };
        let mut typename_bad = None;
        macro_rules! text {
            ($slot:expr, $name:literal) => {
                match map.next_value::<Text>()?.0 {
                    Ok(v) => $slot = v,
                    Err(e) => note($name, e),
                }
            };
        }
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Typename => match map.next_value::<Text>()?.0 {
                    Ok(v) => m.typename = v,
                    Err(e) => typename_bad = Some(e),
                },
                Field::Datetime => match map.next_value::<DatetimeText>()?.0 {
                    Ok(t) => m.datetime = t,
                    Err(e) => note("datetime", e),
                },
                Field::Charge => {
                    let raw: &RawValue = map.next_value()?;
                    match money(raw) {
                        Ok(v) => m.charge = v,
                        Err(e) => note("charge", e),
                    }
                }
                Field::CalledRate => {
                    let raw: &RawValue = map.next_value()?;
                    match money(raw) {
                        Ok(v) => m.called_rate = v,
                        Err(e) => note("calledRate", e),
                    }
                }
                Field::SessionTime => {
                    let raw: &RawValue = map.next_value()?;
                    match raw_text(raw).map(|t| parse_integer(&t)).transpose() {
                        Ok(v) => m.session_time = v,
                        Err(e) => note("sessionTime", e.to_string()),
                    }
                }
                Field::From => text!(m.from, "from"),
                Field::Destination => text!(m.destination, "destination"),
                Field::Status => text!(m.status, "status"),
                Field::Type => text!(m.r#type, "type"),
                Field::FromNumber => text!(m.from_number, "fromNumber"),
                Field::ToNumber => text!(m.to_number, "toNumber"),
                Field::Direction => text!(m.direction, "direction"),
                Field::CallId => text!(m.call_id, "callId"),
                Field::SourceAni => text!(m.source_ani, "sourceAni"),
                Field::DestinationNumber => text!(m.destination_number, "destinationNumber"),
                Field::DidUsed => text!(m.did_used, "didUsed"),
                Field::CallType => text!(m.call_type, "callType"),
                Field::AniIi => text!(m.ani_ii, "aniIi"),
                Field::Other => {
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
        let typename = m.typename.take().unwrap_or_default();
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
        let Some(datetime) = m.datetime else {
            return Ok(Verdict::Bad {
                typename,
                field: "datetime",
                message: "missing or null".into(),
            });
        };
        Ok(Verdict::Known(match kind {
            RecordKind::Api => Cdr::Api(ApiCdr {
                datetime,
                from: m.from,
                destination: m.destination,
                status: m.status,
                charge: m.charge,
                r#type: m.r#type,
            }),
            RecordKind::Message => Cdr::Message(MessageCdr {
                datetime,
                from_number: m.from_number,
                to_number: m.to_number,
                direction: m.direction,
                status: m.status,
                charge: m.charge,
                r#type: m.r#type,
            }),
            RecordKind::Voice => Cdr::Voice(VoiceCdr {
                datetime,
                call_id: m.call_id,
                source_ani: m.source_ani,
                destination_number: m.destination_number,
                did_used: m.did_used,
                session_time: m.session_time,
                status: m.status,
                called_rate: m.called_rate,
                charge: m.charge,
                call_type: m.call_type,
                ani_ii: m.ani_ii,
            }),
        }))
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

/// A string or null; another JSON value is kept as the message that says so.
struct Text(Result<Option<String>, String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Ok(Some(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Ok(Some(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(Ok(None)))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(Ok(None)))
            }
            reject_other_values!(|m| Text(Err(m)), "expected a string or null");
        }
        d.deserialize_any(V)
    }
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
