//! The scanner against the serde decoder: on every body the scanner takes, the
//! two pages are identical (decimal scales included); the answers the service
//! sends, in any JSON layout, are taken.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::decode;
use crate::record::{ApiCdr, Cdr, MessageCdr, Value, VoiceCdr};
use crate::response::{Page, decode_with_serde};
use crate::schema::RecordKind;

/// How a body is written.
#[derive(Debug, Clone)]
struct Style {
    /// Whitespace around every token.
    spaced: bool,
    /// Money as JSON strings (else numbers).
    money_strings: bool,
    /// Member keys rotated by this much.
    rotate: usize,
    /// Strings written with `\u` escapes for every non-ASCII or quote character.
    unicode_escapes: bool,
    /// Datetimes with a `+02:00` offset instead of `Z`.
    offsets: bool,
    /// Extra keys the decoder must skip, at every level but the members.
    extra_keys: bool,
    next_cursor: Option<String>,
    limit: Option<u32>,
    export_link: Option<String>,
}

fn json_string(s: &str, unicode_escapes: bool) -> String {
    if !unicode_escapes {
        return serde_json::to_string(s).expect("a string serialises");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    out.push('"');
    out
}

fn datetime_text(t: &DateTime<Utc>, offsets: bool) -> String {
    if offsets {
        let east = FixedOffset::east_opt(7200).expect("offset");
        t.with_timezone(&east)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    } else {
        crate::format_datetime(t)
    }
}

fn member(r: &Cdr, style: &Style) -> String {
    let kind = r.kind();
    let mut fields = vec![(
        "__typename".to_string(),
        json_string(kind.typename(), false),
    )];
    for (i, c) in kind.columns().iter().enumerate() {
        let value = match r.value(i) {
            Value::Null => "null".to_string(),
            Value::Timestamp(t) => json_string(&datetime_text(&t, style.offsets), false),
            Value::Decimal(d) if style.money_strings => format!("\"{d}\""),
            Value::Decimal(d) => d.to_string(),
            Value::Int64(n) => n.to_string(),
            Value::Str(s) => json_string(s, style.unicode_escapes),
        };
        fields.push((c.graphql.to_string(), value));
    }
    let n = fields.len();
    fields.rotate_left(style.rotate % n);
    object(&fields, style)
}

fn object(fields: &[(String, String)], style: &Style) -> String {
    let sp = if style.spaced { " \n\t" } else { "" };
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{sp}\"{k}\"{sp}:{sp}{v}{sp}"))
        .collect();
    format!("{{{sp}{}{sp}}}", body.join(","))
}

fn body(records: &[Cdr], style: &Style) -> String {
    let sp = if style.spaced { "\r\n " } else { "" };
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map_or("null".to_string(), |s| json_string(s, false))
    };
    let extra = (
        "extensions".to_string(),
        r#"{"cost":[1,2.5e3,-0,true,false,null,{"a":"\u00e9\n"}],"x":{}}"#.to_string(),
    );
    let mut info = vec![("nextCursor".to_string(), opt(&style.next_cursor))];
    if let Some(l) = style.limit {
        info.push(("limit".to_string(), l.to_string()));
    }
    if style.extra_keys {
        info.push(extra.clone());
    }
    let members: Vec<String> = records.iter().map(|r| member(r, style)).collect();
    let mut page = vec![
        ("paginationInfo".to_string(), object(&info, style)),
        (
            "cdrs".to_string(),
            format!("[{sp}{}{sp}]", members.join(&format!(",{sp}"))),
        ),
    ];
    if style.export_link.is_some() {
        page.insert(0, ("exportLink".to_string(), opt(&style.export_link)));
    }
    if style.extra_keys {
        page.push(extra.clone());
    }
    let mut data = vec![("cdrRecords".to_string(), object(&page, style))];
    let mut top = Vec::new();
    if style.extra_keys {
        data.insert(0, ("__typename".to_string(), "\"Query\"".to_string()));
        top.push(extra);
    }
    top.push(("data".to_string(), object(&data, style)));
    format!("{sp}{}{sp}", object(&top, style))
}

/// Pages are equal, and so are their debug forms (which show decimal scales).
fn same(fast: &Page, slow: &Page) -> bool {
    fast == slow && format!("{fast:?}") == format!("{slow:?}")
}

fn datetime() -> impl Strategy<Value = DateTime<Utc>> {
    // 1990 to 2100, at whole seconds, milli-, micro- or nanoseconds.
    (
        631_152_000i64..4_102_444_800,
        0u32..1_000_000_000,
        0usize..4,
    )
        .prop_map(|(s, n, p)| {
            let nanos = [0, n / 1_000_000 * 1_000_000, n / 1000 * 1000, n][p];
            DateTime::from_timestamp(s, nanos).expect("in range")
        })
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => "\\+1[2-9][0-9]{9}".prop_map(Some),
        2 => any::<String>().prop_map(Some),
        1 => "[a-z \"\\\\,\n\r\t/é東📞]{0,12}".prop_map(Some),
    ]
}

fn money() -> impl Strategy<Value = Option<Decimal>> {
    prop_oneof![
        1 => Just(None),
        4 => (-10_000_000i64..10_000_000, 0u32..6).prop_map(|(m, s)| Some(Decimal::new(m, s))),
        1 => (any::<i64>(), 0u32..20).prop_map(|(m, s)| Some(Decimal::new(m, s))),
    ]
}

fn record(kind: RecordKind) -> BoxedStrategy<Cdr> {
    match kind {
        RecordKind::Api => (datetime(), text(), text(), text(), money(), text())
            .prop_map(|(datetime, from, destination, status, charge, r#type)| {
                Cdr::Api(ApiCdr {
                    datetime,
                    from,
                    destination,
                    status,
                    charge,
                    r#type,
                })
            })
            .boxed(),
        RecordKind::Message => (datetime(), text(), text(), text(), text(), money(), text())
            .prop_map(
                |(datetime, from_number, to_number, direction, status, charge, r#type)| {
                    Cdr::Message(MessageCdr {
                        datetime,
                        from_number,
                        to_number,
                        direction,
                        status,
                        charge,
                        r#type,
                    })
                },
            )
            .boxed(),
        RecordKind::Voice => (
            (datetime(), text(), text(), text(), text()),
            proptest::option::of(any::<i64>()),
            (text(), money(), money(), text(), text()),
        )
            .prop_map(
                |(
                    (datetime, call_id, source_ani, destination_number, did_used),
                    session_time,
                    (status, called_rate, charge, call_type, ani_ii),
                )| {
                    Cdr::Voice(VoiceCdr {
                        datetime,
                        call_id,
                        source_ani,
                        destination_number,
                        did_used,
                        session_time,
                        status,
                        called_rate,
                        charge,
                        call_type,
                        ani_ii,
                    })
                },
            )
            .boxed(),
    }
}

fn records() -> impl Strategy<Value = Vec<Cdr>> {
    prop_oneof![
        Just(RecordKind::Api),
        Just(RecordKind::Message),
        Just(RecordKind::Voice)
    ]
    .prop_flat_map(|k| prop::collection::vec(record(k), 0..12))
}

fn style() -> impl Strategy<Value = Style> {
    (
        (any::<bool>(), any::<bool>(), 0usize..12, any::<bool>()),
        (any::<bool>(), any::<bool>()),
        (
            proptest::option::of("[A-Za-z0-9_-]{1,40}"),
            proptest::option::of(any::<u32>()),
            proptest::option::of(proptest::option::of("https://x/e\\?sig=[a-f0-9]{8}")),
        ),
    )
        .prop_map(
            |(
                (spaced, money_strings, rotate, unicode_escapes),
                (offsets, extra_keys),
                (next_cursor, limit, export_link),
            )| Style {
                spaced,
                money_strings,
                rotate,
                unicode_escapes,
                offsets,
                extra_keys,
                next_cursor,
                limit,
                // `Some(None)`: the key with null; `None`: no key.
                export_link: export_link.map(|l| l.unwrap_or_default()),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_scanner_takes_service_answers_and_agrees_with_serde(
        records in records(),
        other in records(),
        style in style(),
    ) {
        let text = body(&records, &style);
        let slow = decode_with_serde(text.as_bytes());
        let slow = slow.map_err(|e| TestCaseError::fail(format!("serde: {e}\n{text}")))?;
        let fast = decode(&text, Vec::new());
        prop_assert!(fast.is_some(), "the scanner gave up on\n{}", text);
        let fast = fast.expect("checked");
        prop_assert!(same(&fast, &slow), "{:?}\n!=\n{:?}\n{}", fast, slow, text);
        prop_assert_eq!(&fast.records, &records);
        // The cursor read ahead is the page's, when it can be read ahead.
        let peeked = super::peek_next_cursor(text.as_bytes());
        prop_assert!(peeked.is_none() || peeked == fast.next_cursor, "{:?} {:?}", peeked, fast.next_cursor);
        if !style.spaced && !style.extra_keys {
            prop_assert_eq!(&peeked, &fast.next_cursor);
        }
        // Reusing the records of another page changes nothing.
        let spare = decode(&body(&other, &style), Vec::new()).map(|p| p.records).unwrap_or_default();
        let reused = decode(&text, spare);
        prop_assert!(reused.as_ref().is_some_and(|r| same(r, &slow)), "{:?}\n!=\n{:?}", reused, slow);
    }

    #[test]
    fn what_the_scanner_takes_serde_takes_alike(
        records in records(),
        style in style(),
        at in any::<prop::sample::Index>(),
        len in 0usize..4,
        insert in prop::sample::select(vec![
            "", "\"", "\\", ",", ":", "{", "}", "[", "]", "null", "0", "-", ".", "e",
            "\"x\":1,", "\u{1}", " ", "é", "\\u12", "\\ud800",
        ]),
    ) {
        let text = body(&records, &style);
        let cut = at.index(text.len() + 1);
        let mut cut = cut;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut end = (cut + len).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let mutated = format!("{}{}{}", &text[..cut], insert, &text[end..]);
        if let Some(fast) = decode(&mutated, Vec::new()) {
            match decode_with_serde(mutated.as_bytes()) {
                Ok(slow) => prop_assert!(same(&fast, &slow), "{:?}\n!=\n{:?}\n{}", fast, slow, mutated),
                Err(e) => prop_assert!(false, "the scanner took what serde refuses ({e}):\n{mutated}"),
            }
        }
    }
}

fn check(body: &str, taken: bool) {
    let fast = decode(body, Vec::new());
    assert_eq!(fast.is_some(), taken, "{body}");
    if let Some(fast) = fast {
        let slow = decode_with_serde(body.as_bytes()).expect("serde takes it too");
        assert!(same(&fast, &slow), "{fast:?} != {slow:?}");
    }
}

#[test]
fn what_the_scanner_leaves_to_serde() {
    let page = |cdrs: &str| {
        format!(
            r#"{{"data":{{"cdrRecords":{{"paginationInfo":{{"nextCursor":null}},"cdrs":[{cdrs}]}}}}}}"#
        )
    };
    let sms = r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.0040"}"#;
    check(&page(sms), true);
    check(&page(""), true);
    // Unknown members, unknown or repeated fields, fields of another member.
    check(
        &page(r#"{"__typename":"FaxCdr","datetime":"2026-11-01T00:00:00Z"}"#),
        false,
    );
    check(&page(r#"{"datetime":"2026-11-01T00:00:00Z"}"#), false);
    check(&page(&sms.replace("\"charge\"", "\"pages\"")), false);
    check(&page(&sms.replace("}", r#","charge":"1"}"#)), false);
    check(&page(&sms.replace("charge", "callId")), false);
    // Values that do not parse, and nulls where a value is required.
    check(&page(&sms.replace("0.0040", "abc")), false);
    check(
        &page(&sms.replace("\"2026-11-01T00:00:00Z\"", "null")),
        false,
    );
    check(&page(&sms.replace("\"MessageCdr\"", "null")), false);
    // Other forms of values are read as serde reads them.
    check(&page(&sms.replace("\"0.0040\"", "4.0e-3")), true);
    check(&page(&sms.replace("\"0.0040\"", "\" -0.0040\"")), true);
    check(&page(&sms.replace("\"0.0040\"", "-0.00")), true);
    check(&page(&sms.replace("Z\"", "+05:30\"")), true);
    check(&page(&sms.replace("00Z", "60Z")), true);
    check(&page(&sms.replace("00Z", "00.1234567891Z")), true);
    // GraphQL errors, missing parts, trailing text.
    check(r#"{"data":null,"errors":[{"message":"x"}]}"#, false);
    check(
        r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[]}},"errors":[]}"#,
        false,
    );
    check(r#"{"data":{"cdrRecords":{"cdrs":[]}}}"#, false);
    check(
        r#"{"data":{"cdrRecords":{"paginationInfo":{},"cdrs":[]}}}"#,
        false,
    );
    check(
        r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":null}}}"#,
        false,
    );
    check(&format!("{} x", page("")), false);
    check(&format!("{} \n", page("")), true);
    // Duplicate keys are refused by serde's derived decoders.
    check(
        r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null,"nextCursor":"a"},"cdrs":[]}}}"#,
        false,
    );
}

#[test]
fn keys_are_listed_in_field_order() {
    for (i, (f, key)) in super::KEYS.iter().enumerate() {
        assert_eq!(*f as usize, i, "{key}");
        assert_eq!(super::field_of(key), Some(*f));
    }
}
