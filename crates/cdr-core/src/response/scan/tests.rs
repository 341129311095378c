//! The scanner against the serde decoder: on every body the scanner takes, the
//! two pages are identical (decimal scales included); the answers the service
//! sends, in any JSON layout, are taken, also when they hold members of
//! unknown type, members of another kind and values that cannot be stored.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::{decode, lexer};
use crate::field::{Slot, Value};
use crate::record::{Cdr, RecordKind};
use crate::response::MAX_TEXT_BYTES;
use crate::response::envelope::decode_with_serde;
use crate::response::page::Page;
use crate::schema::ColumnType;
use write::{Element, Style, body, body_of, written};

mod write;

/// JSON values that a column of each type cannot hold.
fn bad_values(ty: ColumnType) -> &'static [&'static str] {
    match ty {
        ColumnType::Timestamp => &[
            r#""2026-13-01T00:00:00Z""#,
            r#""yesterday""#,
            "1762000000",
            "null",
            "{}",
        ],
        ColumnType::Decimal => &[
            r#""N/A""#,
            "0.123456789012",
            r#""12345678901234567890123456789""#,
            "1e40",
            "true",
            "[]",
        ],
        ColumnType::Int64 => &[r#""1.5""#, "1.5", r#""abc""#, "99999999999999999999"],
        ColumnType::Utf8 => &["42", "true", r#"{"a":"\"b\""}"#, "[1,null]"],
    }
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
        // Any amount a money column holds (up to 10 decimals); others are
        // written by `Element::Corrupt`.
        1 => (any::<i64>(), 0u32..=10).prop_map(|(m, s)| Some(Decimal::new(m, s))),
    ]
}

/// A value of a field, as a strategy makes it.
#[derive(Debug, Clone)]
enum Given {
    Timestamp(DateTime<Utc>),
    Decimal(Option<Decimal>),
    Int64(Option<i64>),
    Text(Option<String>),
}

fn given(ty: ColumnType) -> BoxedStrategy<Given> {
    match ty {
        ColumnType::Timestamp => datetime().prop_map(Given::Timestamp).boxed(),
        ColumnType::Decimal => money().prop_map(Given::Decimal).boxed(),
        ColumnType::Int64 => proptest::option::of(any::<i64>())
            .prop_map(Given::Int64)
            .boxed(),
        ColumnType::Utf8 => text().prop_map(Given::Text).boxed(),
    }
}

/// Any record of `kind`: a value for every column the table declares.
fn record(kind: RecordKind) -> BoxedStrategy<Cdr> {
    let columns: Vec<_> = kind.columns().iter().map(|c| given(c.ty)).collect();
    columns
        .prop_map(move |values| {
            let mut r = Cdr::empty(kind);
            for (i, value) in values.into_iter().enumerate() {
                match (r.slot(i).expect("a column"), value) {
                    (Slot::Timestamp(s), Given::Timestamp(v)) => *s = v,
                    (Slot::Decimal(s), Given::Decimal(v)) => *s = v,
                    (Slot::Int64(s), Given::Int64(v)) => *s = v,
                    (Slot::Utf8(s), Given::Text(v)) => *s = v.map(Into::into),
                    (slot, value) => panic!("{value:?} for {slot:?}"),
                }
            }
            r
        })
        .boxed()
}

fn kind() -> impl Strategy<Value = RecordKind> {
    prop_oneof![
        Just(RecordKind::Api),
        Just(RecordKind::Message),
        Just(RecordKind::Voice)
    ]
}

fn records() -> impl Strategy<Value = Vec<Cdr>> {
    kind().prop_flat_map(|k| prop::collection::vec(record(k), 0..12))
}

/// The records of an earlier page, to be reused for a page of `k`: of the
/// same kind (whose fields are filled anew) or of any.
fn spare(k: RecordKind) -> impl Strategy<Value = Vec<Cdr>> {
    prop_oneof![prop::collection::vec(record(k), 0..12), records()]
}

/// The longest text of a case: the default, or a limit so small that many
/// texts pass it.
fn max_text() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(MAX_TEXT_BYTES), 1 => 0usize..40]
}

/// Text of exactly `len` bytes of UTF-8, with two-byte characters (six bytes
/// each when written with escapes) among ASCII ones.
fn text_of(len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() + 2 <= len {
        s.push(if s.len().is_multiple_of(7) { 'é' } else { 'a' });
    }
    while s.len() < len {
        s.push('z');
    }
    s
}

/// Elements of a page of `k` whose text fields hold up to `max_text` bytes.
fn any_element(k: RecordKind, max_text: usize) -> BoxedStrategy<Element> {
    let others: Vec<RecordKind> = RecordKind::ALL.into_iter().filter(|o| *o != k).collect();
    let columns = k.columns().len();
    let texts: Vec<usize> = (0..columns)
        .filter(|&i| k.columns()[i].ty == ColumnType::Utf8)
        .collect();
    prop_oneof![
        8 => record(k).prop_map(Element::Record),
        1 => (
            "[A-Z][a-z]{1,6}(Cdr)?".prop_filter("a member this version knows", |n| {
                RecordKind::from_typename(n).is_none()
            }),
            any::<bool>(),
        )
            .prop_map(|(typename, fields)| Element::Unknown { typename, fields }),
        1 => prop::sample::select(others)
            .prop_flat_map(record)
            .prop_map(Element::Foreign),
        2 => (record(k), 0..columns, any::<prop::sample::Index>()).prop_map(
            move |(record, column, pick)| {
                let values = bad_values(k.columns()[column].ty);
                Element::Corrupt {
                    record,
                    column,
                    raw: values[pick.index(values.len())],
                }
            }
        ),
        // A text one byte short of the limit, at it, or past it.
        1 => (record(k), prop::sample::select(texts), 0usize..4).prop_map(
            move |(mut record, column, over)| {
                if let Some(Slot::Utf8(text)) = record.slot(column) {
                    *text = Some(text_of((max_text + over).saturating_sub(1)).into());
                }
                Element::Record(record)
            }
        ),
    ]
    .boxed()
}

/// A page's kind, its text limit and elements of every sort.
fn elements() -> impl Strategy<Value = (RecordKind, usize, Vec<Element>)> {
    (kind(), max_text()).prop_flat_map(|(k, max)| {
        (
            Just(k),
            Just(max),
            prop::collection::vec(any_element(k, max), 0..12),
        )
    })
}

/// What a page of `elements` must hold: records, unknown members (index,
/// typename) and bad records (index, field).
type Expected = (Vec<Cdr>, Vec<(usize, String)>, Vec<(usize, String)>);

fn expected(elements: &[Element], style: &Style, max_text: usize) -> Expected {
    let mut out: Expected = Default::default();
    for (i, e) in elements.iter().enumerate() {
        match e {
            Element::Record(r) => match bad_field(r, style, max_text, None) {
                Some(field) => out.2.push((i, field)),
                None => out.0.push(r.clone()),
            },
            Element::Unknown { typename, .. } => out.1.push((i, typename.clone())),
            Element::Foreign(_) => out.2.push((i, "__typename".into())),
            Element::Corrupt {
                record,
                column,
                raw,
            } => {
                let field = bad_field(record, style, max_text, Some((*column, raw)));
                out.2.push((i, field.expect("a corrupt record is bad")));
            }
        }
    }
    out
}

/// The field a bad record of ours is reported by, if it is bad: the first
/// in key order of the corrupt value and the texts longer than `max_text`;
/// else a required field that is null.
fn bad_field(
    r: &Cdr,
    style: &Style,
    max_text: usize,
    corrupt: Option<(usize, &str)>,
) -> Option<String> {
    let columns = r.kind().columns();
    let is_bad = |i: usize| match corrupt {
        // A null where a value is required is not a value that cannot be
        // read: it is reported only when no value is bad.
        Some((column, raw)) if column == i => raw != "null" || columns[i].nullable,
        _ => matches!(r.value(i), Value::Str(s) if s.len() > max_text),
    };
    let in_key_order = written(r, style, corrupt)
        .into_iter()
        .filter_map(|(i, ..)| i);
    let missing = corrupt
        .filter(|&(i, raw)| raw == "null" && !columns[i].nullable)
        .map(|(i, _)| i);
    in_key_order
        .into_iter()
        .find(|&i| is_bad(i))
        .or(missing)
        .map(|i| columns[i].graphql.to_string())
}

fn found(page: &Page) -> Expected {
    (
        page.records.clone(),
        page.unknown
            .iter()
            .map(|u| (u.index, u.typename.clone()))
            .collect(),
        page.bad
            .iter()
            .map(|b| (b.index, b.field.clone()))
            .collect(),
    )
}

fn style() -> impl Strategy<Value = Style> {
    (
        (any::<bool>(), any::<bool>(), 0usize..12, any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (
            proptest::option::of("[A-Za-z0-9_-]{1,40}"),
            proptest::option::of(any::<u32>()),
            proptest::option::of(proptest::option::of("https://x/e\\?sig=[a-f0-9]{8}")),
        ),
    )
        .prop_map(
            |(
                (spaced, money_strings, rotate, unicode_escapes),
                (offsets, extra_keys, omit_nulls),
                (next_cursor, limit, export_link),
            )| Style {
                spaced,
                money_strings,
                rotate,
                unicode_escapes,
                offsets,
                omit_nulls,
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
        ((kind, max_text, elements), other) in elements().prop_flat_map(|e| {
            let k = e.0;
            (Just(e), spare(k))
        }),
        style in style(),
    ) {
        let text = body_of(&elements, &style);
        let slow = decode_with_serde(text.as_bytes(), kind, max_text);
        let slow = slow.map_err(|e| TestCaseError::fail(format!("serde: {e}\n{text}")))?;
        let fast = decode(&text, kind, max_text, Vec::new());
        prop_assert!(fast.is_some(), "the scanner gave up on\n{}", text);
        let fast = fast.expect("checked");
        prop_assert!(same(&fast, &slow), "{:?}\n!=\n{:?}\n{}", fast, slow, text);
        prop_assert_eq!(found(&fast), expected(&elements, &style, max_text), "{}", text);
        // A bad record carries its element's own text; its message is short,
        // whatever the value.
        for b in &fast.bad {
            prop_assert!(text.contains(&b.raw), "{:?}", b);
            prop_assert!(b.raw.starts_with('{') && b.raw.ends_with('}'), "{:?}", b);
            prop_assert!(b.message.len() <= 204, "{:?}", b);
            if b.message.contains("longer than the limit") {
                let limit = format!("the limit of {max_text} bytes");
                prop_assert!(b.message.ends_with(&limit), "{:?}", b);
            }
        }
        // The cursor read ahead is the page's, when it can be read ahead.
        let peeked = super::peek_next_cursor(text.as_bytes());
        prop_assert!(peeked.is_none() || peeked == fast.next_cursor, "{:?} {:?}", peeked, fast.next_cursor);
        if !style.spaced && !style.extra_keys {
            prop_assert_eq!(&peeked, &fast.next_cursor);
        }
        // Reusing the records of another page changes nothing.
        let other_kind = other.first().map_or(kind, Cdr::kind);
        let spare = decode(&body(&other, &style), other_kind, MAX_TEXT_BYTES, Vec::new())
            .map(|p| p.records)
            .unwrap_or_default();
        let reused = decode(&text, kind, max_text, spare);
        prop_assert!(reused.as_ref().is_some_and(|r| same(r, &slow)), "{:?}\n!=\n{:?}", reused, slow);
    }

    #[test]
    fn what_the_scanner_takes_serde_takes_alike(
        (kind, max_text, elements) in elements(),
        style in style(),
        at in any::<prop::sample::Index>(),
        len in 0usize..4,
        insert in prop::sample::select(vec![
            "", "\"", "\\", ",", ":", "{", "}", "[", "]", "null", "0", "-", ".", "e",
            "\"x\":1,", "\u{1}", " ", "é", "\\u12", "\\ud800",
        ]),
    ) {
        let text = body_of(&elements, &style);
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
        if let Some(fast) = decode(&mutated, kind, max_text, Vec::new()) {
            match decode_with_serde(mutated.as_bytes(), kind, max_text) {
                Ok(slow) => prop_assert!(same(&fast, &slow), "{:?}\n!=\n{:?}\n{}", fast, slow, mutated),
                Err(e) => prop_assert!(false, "the scanner took what serde refuses ({e}):\n{mutated}"),
            }
        }
    }
}

/// Whether the scanner takes `body` of a message page; when it does, serde
/// decodes it alike. Returns the page.
fn check(body: &str, taken: bool) -> Option<Page> {
    let fast = decode(body, RecordKind::Message, MAX_TEXT_BYTES, Vec::new());
    assert_eq!(fast.is_some(), taken, "{body}");
    let fast = fast?;
    let slow = decode_with_serde(body.as_bytes(), RecordKind::Message, MAX_TEXT_BYTES)
        .expect("serde takes it too");
    assert!(same(&fast, &slow), "{fast:?} != {slow:?}");
    Some(fast)
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
    // Elements that are not plain records of ours are taken, element by
    // element: unknown members, unknown or repeated fields, fields of another
    // member, values that do not parse or fit, nulls where a value is
    // required, members of another kind.
    let counts = |body: String| {
        let p = check(&body, true).expect("taken");
        (p.records.len(), p.unknown.len(), p.bad.len())
    };
    assert_eq!(
        counts(page(r#"{"__typename":"FaxCdr","datetime":"x"}"#)),
        (0, 1, 0)
    );
    assert_eq!(
        counts(page(r#"{"datetime":"2026-11-01T00:00:00Z"}"#)),
        (0, 1, 0)
    );
    assert_eq!(
        counts(page(&sms.replace("\"charge\"", "\"pages\""))),
        (1, 0, 0)
    );
    assert_eq!(
        counts(page(&sms.replace("}", r#","charge":"1"}"#))),
        (1, 0, 0)
    );
    assert_eq!(counts(page(&sms.replace("charge", "callId"))), (1, 0, 0));
    assert_eq!(counts(page(&sms.replace("0.0040", "abc"))), (0, 0, 1));
    assert_eq!(
        counts(page(&sms.replace("0.0040", "0.00000000001"))),
        (0, 0, 1)
    );
    assert_eq!(
        counts(page(&sms.replace("\"2026-11-01T00:00:00Z\"", "null"))),
        (0, 0, 1)
    );
    assert_eq!(
        counts(page(&sms.replace("\"MessageCdr\"", "null"))),
        (0, 1, 0)
    );
    assert_eq!(
        counts(page(&sms.replace("MessageCdr", "VoiceCdr"))),
        (0, 0, 1)
    );
    assert_eq!(
        counts(page(&format!(
            "{sms}, {{\"__typename\":\"RcsCdr\"}} ,{sms}"
        ))),
        (2, 1, 0)
    );
    // An element that is not an object is not a page the scanner takes.
    check(&page("null"), false);
    check(&page(&format!("{sms},[]")), false);
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
fn fields_not_given_are_null_also_over_a_spare_record() {
    let page = |cdrs: &str| {
        format!(
            r#"{{"data":{{"cdrRecords":{{"paginationInfo":{{"nextCursor":null}},"cdrs":[{cdrs}]}}}}}}"#
        )
    };
    let full = page(
        r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","fromNumber":"+15550001","status":"sent","charge":"0.5","type":"SMS"}"#,
    );
    let narrow = page(r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:01Z"}"#);
    let spare = decode(&full, RecordKind::Message, MAX_TEXT_BYTES, Vec::new()).expect("taken");
    let fresh = decode(&narrow, RecordKind::Message, MAX_TEXT_BYTES, Vec::new()).expect("taken");
    let reused =
        decode(&narrow, RecordKind::Message, MAX_TEXT_BYTES, spare.records).expect("taken");
    assert_eq!(reused, fresh);
    let Cdr::Message(m) = &reused.records[0] else {
        panic!("{reused:?}")
    };
    assert_eq!((&m.from_number, &m.status, m.charge), (&None, &None, None));
}

proptest! {
    /// Short comparisons agree with `==` at every length, for equal
    /// strings and for strings that differ in one byte anywhere.
    #[test]
    fn short_comparisons_agree_with_slice_equality(
        a in proptest::collection::vec(any::<u8>(), 0..48),
        flip in any::<prop::sample::Index>(),
        other_len in 0usize..48,
    ) {
        prop_assert!(lexer::short_eq(&a, &a.clone()));
        if !a.is_empty() {
            let mut b = a.clone();
            b[flip.index(a.len())] ^= 1;
            prop_assert!(!lexer::short_eq(&a, &b));
        }
        let c = vec![0u8; other_len];
        prop_assert_eq!(lexer::short_eq(&a, &c), a == c);
    }
}
