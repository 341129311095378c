//! How a test writes a body: the elements of a page (records, unknown
//! members, members of another kind, corrupt values) in every layout the
//! service might use (whitespace, key order, escapes, offsets, money as
//! numbers or strings, null fields left out, extra keys).

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

use crate::field::Value;
use crate::record::Cdr;

/// One element of `cdrs` as a test writes it.
#[derive(Debug, Clone)]
pub(super) enum Element {
    /// A record of the member the query asked for.
    Record(Cdr),
    /// A member this version does not know: `__typename` alone, or with
    /// fields of its own (some of which would be bad values for a known one).
    Unknown { typename: String, fields: bool },
    /// A record of another member than the one asked for.
    Foreign(Cdr),
    /// A record with the value of column `column` replaced by JSON text that
    /// cannot be stored.
    Corrupt {
        record: Cdr,
        column: usize,
        raw: &'static str,
    },
}

/// How a body is written.
#[derive(Debug, Clone)]
pub(super) struct Style {
    /// Whitespace around every token.
    pub(super) spaced: bool,
    /// Money as JSON strings (else numbers).
    pub(super) money_strings: bool,
    /// Member keys rotated by this much.
    pub(super) rotate: usize,
    /// Strings written with `\u` escapes for every non-ASCII or quote character.
    pub(super) unicode_escapes: bool,
    /// Datetimes with a `+02:00` offset instead of `Z`.
    pub(super) offsets: bool,
    /// Null fields left out, as a narrowed selection leaves out fields.
    pub(super) omit_nulls: bool,
    /// Extra keys the decoder must skip, at every level but the members.
    pub(super) extra_keys: bool,
    pub(super) next_cursor: Option<String>,
    pub(super) limit: Option<u32>,
    pub(super) export_link: Option<String>,
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
    member_with(r, style, None)
}

/// A record's keys and values as written, each with its column (`None` for
/// `__typename`); with `corrupt`, one column's value is that JSON text.
pub(super) fn written(
    r: &Cdr,
    style: &Style,
    corrupt: Option<(usize, &str)>,
) -> Vec<(Option<usize>, String, String)> {
    let kind = r.kind();
    let mut fields = vec![(
        None,
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
        let value = match corrupt {
            Some((column, raw)) if column == i => raw.to_string(),
            _ if style.omit_nulls && value == "null" => continue,
            _ => value,
        };
        fields.push((Some(i), c.graphql.to_string(), value));
    }
    let n = fields.len();
    fields.rotate_left(style.rotate % n);
    fields
}

/// A record's object; with `corrupt`, one column's value is that JSON text.
fn member_with(r: &Cdr, style: &Style, corrupt: Option<(usize, &str)>) -> String {
    let fields: Vec<(String, String)> = written(r, style, corrupt)
        .into_iter()
        .map(|(_, k, v)| (k, v))
        .collect();
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

fn element(e: &Element, style: &Style) -> String {
    match e {
        Element::Record(r) | Element::Foreign(r) => member(r, style),
        Element::Corrupt {
            record,
            column,
            raw,
        } => member_with(record, style, Some((*column, raw))),
        Element::Unknown { typename, fields } => {
            let mut f = vec![("__typename".to_string(), json_string(typename, false))];
            if *fields {
                f.push(("datetime".into(), r#""2026-11-01T00:00:00Z""#.into()));
                f.push(("charge".into(), r#""N/A""#.into()));
                f.push(("channel".into(), r#"{"kind":["rcs"]}"#.into()));
                let n = f.len();
                f.rotate_left(style.rotate % n);
            }
            object(&f, style)
        }
    }
}

pub(super) fn body(records: &[Cdr], style: &Style) -> String {
    let elements: Vec<Element> = records.iter().cloned().map(Element::Record).collect();
    body_of(&elements, style)
}

pub(super) fn body_of(elements: &[Element], style: &Style) -> String {
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
    let members: Vec<String> = elements.iter().map(|e| element(e, style)).collect();
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
