//! Decoding of `cdrRecords` responses: the GraphQL envelope (`data` / `errors`),
//! the union decoded by `__typename`, money without floats, and the
//! classification of GraphQL errors.
//!
//! Two decoders share the work. A scanner ([`scan`]) reads the answers the
//! service sends in one pass over the body, parsing values where they lie and
//! copying only the text that becomes record fields. Anything it does not
//! take (GraphQL errors, unknown members, unusual JSON, bad values) goes to
//! the serde decoder below, which accepts every valid answer and words the
//! errors. Both read money from the JSON text, never through `f64`.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::record::{
    ApiCdr, Cdr, MessageCdr, ValueError, VoiceCdr, parse_datetime, parse_decimal, parse_integer,
};
use crate::schema::RecordKind;
use crate::secret::ExportLink;

mod scan;

/// A union member whose `__typename` this version does not know. It is not an
/// error: the caller counts or skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMember {
    /// Position in the page's `cdrs` list.
    pub index: usize,
    /// The `__typename` the server sent (empty when it sent none).
    pub typename: String,
}

/// One decoded page of `cdrRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R = Cdr> {
    /// Records of known union members, in server order.
    pub records: Vec<R>,
    /// Members of unknown type, skipped.
    pub unknown: Vec<UnknownMember>,
    /// `paginationInfo.nextCursor`; `None` ends the pagination.
    pub next_cursor: Option<String>,
    /// `paginationInfo.limit` as the server echoed it.
    pub limit: Option<u32>,
    /// `exportLink`, when selected.
    pub export_link: Option<ExportLink>,
}

impl<R> Page<R> {
    /// Number of union elements in the page, known or not.
    pub fn len(&self) -> usize {
        self.records.len() + self.unknown.len()
    }

    /// Whether the page holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What kind of failure a GraphQL `errors` array reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token is missing, expired or refused: log in again.
    Unauthorized,
    /// The query or one of its arguments is invalid: change the request.
    InvalidArgument,
    /// Anything else the server reported.
    Other,
}

/// One entry of a GraphQL `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphQlError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub path: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl GraphQlError {
    /// `extensions.code`, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.get("code")?.as_str()
    }

    /// Classifies this error from its code and message.
    pub fn class(&self) -> ErrorClass {
        let code = self.code().unwrap_or("").to_ascii_lowercase();
        let msg = self.message.to_ascii_lowercase();
        let has = |needle: &str| code.contains(needle) || msg.contains(needle);
        if has("unauthorized")
            || has("unauthenticated")
            || has("forbidden") && msg.contains("token")
        {
            ErrorClass::Unauthorized
        } else if has("bad_user_input")
            || has("validation")
            || has("invalid")
            || has("argument")
            || has("unknown field")
            || has("unknown type")
            || has("cannot query field")
            || has("must be")
            || has("parse")
        {
            ErrorClass::InvalidArgument
        } else {
            ErrorClass::Other
        }
    }
}

/// The `errors` array of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphQlErrors(pub Vec<GraphQlError>);

impl GraphQlErrors {
    /// The most actionable class among the errors: unauthorized first, then
    /// invalid argument, then other.
    pub fn class(&self) -> ErrorClass {
        let classes: Vec<ErrorClass> = self.0.iter().map(GraphQlError::class).collect();
        if classes.contains(&ErrorClass::Unauthorized) {
            ErrorClass::Unauthorized
        } else if classes.contains(&ErrorClass::InvalidArgument) {
            ErrorClass::InvalidArgument
        } else {
            ErrorClass::Other
        }
    }
}

impl fmt::Display for GraphQlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(empty errors array)");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&e.message)?;
            if let Some(code) = e.code() {
                write!(f, " [{code}]")?;
            }
        }
        Ok(())
    }
}

/// A response that is not a usable page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The server answered with an `errors` array.
    #[error("the server reported: {0}")]
    GraphQl(GraphQlErrors),
    /// The body is not the JSON we expect; `message` names the JSON path.
    #[error("undecodable response: {message}")]
    Decode { message: String },
    /// Valid JSON but no `data.cdrRecords` and no `errors`.
    #[error("response holds neither data.cdrRecords nor errors")]
    MissingData,
}

impl ResponseError {
    /// The GraphQL error class, if this is a GraphQL error.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            ResponseError::GraphQl(e) => Some(e.class()),
            _ => None,
        }
    }
}

/// Decodes a `cdrRecords` response body.
///
/// ```
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null,"limit":10},
///   "cdrs":[{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.0040"}]}}}"#;
/// let page = cdr_core::decode_page(body).unwrap();
/// assert_eq!(page.records.len(), 1);
/// assert_eq!(page.next_cursor, None);
/// ```
pub fn decode_page(body: &[u8]) -> Result<Page, ResponseError> {
    decode_page_reusing(body, Vec::new())
}

/// Decodes a `cdrRecords` response body like [`decode_page`], reusing the
/// allocations of `spare`: records of an earlier page that are no longer
/// needed. Their vector holds the new records and their strings the new text,
/// so that a stream of pages hardly allocates once it runs. The page is the
/// same as [`decode_page`]'s.
///
/// ```
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},
///   "cdrs":[{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","status":"sent"}]}}}"#;
/// let first = cdr_core::decode_page(body)?;
/// let again = cdr_core::decode_page_reusing(body, first.records.clone())?;
/// assert_eq!(again, first);
/// # Ok::<(), cdr_core::ResponseError>(())
/// ```
pub fn decode_page_reusing(body: &[u8], spare: Vec<Cdr>) -> Result<Page, ResponseError> {
    // The scanner takes the answers the service sends; whatever it does not
    // take, serde decodes or rejects with a message that names the problem.
    if let Ok(text) = std::str::from_utf8(body)
        && let Some(page) = scan::decode(text, spare)
    {
        return Ok(page);
    }
    decode_with_serde(body)
}

/// The `paginationInfo.nextCursor` of a response body, read from its start
/// without decoding the records, when the body begins as the service's
/// answers do (`data.cdrRecords` with `paginationInfo` before `cdrs`) and
/// names a next cursor. It is a hint, e.g. to send the next request while
/// this page is decoded: the decoded page ([`decode_page`]) is what counts.
///
/// ```
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":"abc","limit":2},"cdrs":[]}}}"#;
/// assert_eq!(cdr_core::peek_next_cursor(body).as_deref(), Some("abc"));
/// assert_eq!(cdr_core::peek_next_cursor(br#"{"data":null}"#), None);
/// ```
pub fn peek_next_cursor(body: &[u8]) -> Option<String> {
    scan::peek_next_cursor(body)
}

/// The general decoder: every body [`decode_page`] accepts, and the errors.
fn decode_with_serde(body: &[u8]) -> Result<Page, ResponseError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| ResponseError::Decode {
        message: e.to_string(),
    })?;
    let has_page = env.data.as_ref().is_some_and(|d| d.cdr_records.is_some());
    if let Some(errors) = env.errors
        && (!errors.is_empty() || !has_page)
    {
        return Err(ResponseError::GraphQl(GraphQlErrors(errors)));
    }
    let body = env
        .data
        .and_then(|d| d.cdr_records)
        .ok_or(ResponseError::MissingData)?;
    let Members { records, unknown } = body.cdrs;
    let info = body.pagination_info;
    Ok(Page {
        records,
        unknown,
        next_cursor: info.next_cursor,
        limit: info.limit,
        export_link: body.export_link.map(ExportLink::new),
    })
}

/// Decodes only the `errors` array of a body, if it has one (for non-200 answers).
pub fn decode_errors(body: &[u8]) -> Option<GraphQlErrors> {
    #[derive(Deserialize)]
    struct OnlyErrors {
        errors: Option<Vec<GraphQlError>>,
    }
    serde_json::from_slice::<OnlyErrors>(body)
        .ok()?
        .errors
        .map(GraphQlErrors)
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<Data>,
    errors: Option<Vec<GraphQlError>>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "cdrRecords")]
    cdr_records: Option<PageBody>,
}

/// `paginationInfo`, its `nextCursor` and `cdrs` are required: a page that
/// lacks them must not pass for the last page (pagination ends only on an
/// explicit `nextCursor: null`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageBody {
    export_link: Option<String>,
    pagination_info: PaginationInfo,
    cdrs: Members,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaginationInfo {
    #[serde(deserialize_with = "present")]
    next_cursor: Option<String>,
    limit: Option<u32>,
}

/// Deserializes an `Option` whose key must be present (a missing key is an
/// error, `null` is `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// The `cdrs` list, decoded element by element with the index in error paths.
#[derive(Default)]
struct Members {
    records: Vec<Cdr>,
    unknown: Vec<UnknownMember>,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of CDR union members")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Members, A::Error> {
                let mut out = Members {
                    records: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1000)),
                    unknown: Vec::new(),
                };
                let mut index = 0usize;
                while let Some(m) = seq.next_element_seed(MemberSeed { index })? {
                    match m {
                        Member::Known(r) => out.records.push(r),
                        Member::Unknown(typename) => {
                            out.unknown.push(UnknownMember { index, typename })
                        }
                    }
                    index += 1;
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

#[allow(clippy::large_enum_variant)] // built once per element and moved straight out
enum Member {
    Known(Cdr),
    Unknown(String),
}

struct MemberSeed {
    index: usize,
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

fn field_error<E: de::Error>(index: usize, field: &str, msg: impl fmt::Display) -> E {
    E::custom(format_args!("data.cdrRecords.cdrs[{index}].{field}: {msg}"))
}

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Member;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a CDR object at data.cdrRecords.cdrs[{}]", self.index)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member, A::Error> {
        let i = self.index;
        let mut m = AnyMember::default();
        // Value errors are raised only once the member is known to be ours: an
        // unknown member's fields are not ours to judge.
        let mut bad: Option<(&'static str, ValueError)> = None;
        let mut note = |field: &'static str, e: ValueError| {
            bad.get_or_insert((field, e));
        };
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Typename => m.typename = map.next_value()?,
                Field::Datetime => {
                    if let Some(DatetimeText(t)) = map.next_value::<Option<DatetimeText>>()? {
                        m.datetime = t.map_err(|e| note("datetime", e)).ok();
                    }
                }
                Field::Charge => {
                    let raw: &RawValue = map.next_value()?;
                    m.charge = money(raw).map_err(|e| note("charge", e)).ok().flatten();
                }
                Field::CalledRate => {
                    let raw: &RawValue = map.next_value()?;
                    m.called_rate = money(raw).map_err(|e| note("calledRate", e)).ok().flatten();
                }
                Field::SessionTime => {
                    let raw: &RawValue = map.next_value()?;
                    m.session_time = match raw_text(raw) {
                        None => None,
                        Some(t) => parse_integer(&t).map_err(|e| note("sessionTime", e)).ok(),
                    };
                }
                Field::From => m.from = map.next_value()?,
                Field::Destination => m.destination = map.next_value()?,
                Field::Status => m.status = map.next_value()?,
                Field::Type => m.r#type = map.next_value()?,
                Field::FromNumber => m.from_number = map.next_value()?,
                Field::ToNumber => m.to_number = map.next_value()?,
                Field::Direction => m.direction = map.next_value()?,
                Field::CallId => m.call_id = map.next_value()?,
                Field::SourceAni => m.source_ani = map.next_value()?,
                Field::DestinationNumber => m.destination_number = map.next_value()?,
                Field::DidUsed => m.did_used = map.next_value()?,
                Field::CallType => m.call_type = map.next_value()?,
                Field::AniIi => m.ani_ii = map.next_value()?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let typename = m.typename.take().unwrap_or_default();
        let Some(kind) = RecordKind::from_typename(&typename) else {
            return Ok(Member::Unknown(typename));
        };
        if let Some((field, e)) = bad {
            return Err(field_error(i, field, e));
        }
        let datetime = m
            .datetime
            .ok_or_else(|| field_error(i, "datetime", "missing or null"))?;
        Ok(Member::Known(match kind {
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

/// A datetime string, parsed without copying; the parse result is kept so that
/// the caller can add the JSON path to the error.
struct DatetimeText(Result<DateTime<Utc>, ValueError>);

impl<'de> Deserialize<'de> for DatetimeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DatetimeText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 datetime string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DatetimeText, E> {
                Ok(DatetimeText(parse_datetime(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads a money value from the raw JSON text: a number or a string, never via f64.
fn money(raw: &RawValue) -> Result<Option<Decimal>, ValueError> {
    raw_text(raw).map(|t| parse_decimal(&t)).transpose()
}

/// The text of a scalar JSON value: `None` for null, the unescaped content for a
/// string, the literal for a number.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_datetime;

    fn page(cdrs: &str) -> Result<Page, ResponseError> {
        let body = format!(
            r#"{{"data":{{"cdrRecords":{{"exportLink":"https://x/export?sig=abc","paginationInfo":{{"nextCursor":"c2","limit":100}},"cdrs":[{cdrs}]}}}}}}"#
        );
        decode_page(body.as_bytes())
    }

    #[test]
    fn message_cdr_with_string_money_and_nulls() {
        let p = page(r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00.25+01:00","fromNumber":"+15551234567","toNumber":null,"direction":"outbound","status":"delivered","charge":"0.00350","type":"sms","extra":{"nested":[1,2]}}"#).unwrap();
        assert_eq!(p.next_cursor.as_deref(), Some("c2"));
        assert_eq!(p.limit, Some(100));
        assert!(p.export_link.is_some());
        let Cdr::Message(m) = &p.records[0] else {
            panic!("not a message: {:?}", p.records[0]);
        };
        assert_eq!(
            m.datetime,
            parse_datetime("2026-10-31T23:00:00.25Z").unwrap()
        );
        assert_eq!(m.from_number.as_deref(), Some("+15551234567"));
        assert_eq!(m.to_number, None);
        assert_eq!(m.charge.unwrap().to_string(), "0.00350");
        assert_eq!(m.r#type.as_deref(), Some("sms"));
    }

    #[test]
    fn voice_cdr_with_number_money_exact() {
        // 0.1 is not representable in f64; the decimal must still be exactly 0.1.
        let p = page(r#"{"datetime":"2026-11-01T00:00:00Z","__typename":"VoiceCdr","callId":"abc","sourceAni":"15550001","destinationNumber":"15550002","didUsed":null,"sessionTime":61,"status":"ANSWERED","calledRate":0.1,"charge":1234567890.12345,"callType":"outbound","aniIi":null}"#).unwrap();
        let Cdr::Voice(v) = &p.records[0] else {
            panic!("not voice")
        };
        assert_eq!(v.called_rate.unwrap().to_string(), "0.1");
        assert_eq!(v.charge.unwrap().to_string(), "1234567890.12345");
        assert_eq!(v.session_time, Some(61));
        assert_eq!(v.did_used, None);
        assert_eq!(v.ani_ii, None);
    }

    #[test]
    fn api_cdr_and_unknown_members() {
        let p = page(r#"{"__typename":"ApiCdr","datetime":"2026-11-01T00:00:00Z","from":"a","destination":"b","status":"ok","charge":null,"type":"lookup"},{"__typename":"FaxCdr","datetime":"2026-11-01T00:00:00Z","pages":3},{"datetime":"x"}"#).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.unknown[0],
            UnknownMember {
                index: 1,
                typename: "FaxCdr".into()
            }
        );
        // A member without __typename is unknown too; its fields are not trusted.
        assert_eq!(p.unknown[1].index, 2);
        let Cdr::Api(a) = &p.records[0] else { panic!() };
        assert_eq!(a.charge, None);
        assert_eq!(a.from.as_deref(), Some("a"));
    }

    #[test]
    fn bad_values_name_their_json_path() {
        let e = page(r#"{"__typename":"ApiCdr","datetime":"2026-11-01T00:00:00Z"},{"__typename":"ApiCdr","datetime":"2026-11-01T00:00:00Z","charge":"abc"}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cdrs[1].charge"), "{msg}");
        let e = page(r#"{"__typename":"VoiceCdr","datetime":"2026-13-01T00:00:00Z"}"#).unwrap_err();
        assert!(e.to_string().contains("cdrs[0].datetime"), "{e}");
        let e = page(r#"{"__typename":"VoiceCdr","datetime":null}"#).unwrap_err();
        assert!(e.to_string().contains("cdrs[0].datetime: missing"), "{e}");
        let e = page(
            r#"{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z","sessionTime":"1.5"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("sessionTime"), "{e}");
    }

    #[test]
    fn a_page_without_pagination_info_or_cdrs_is_not_the_last_page() {
        for body in [
            r#"{"data":{"cdrRecords":{}}}"#,
            r#"{"data":{"cdrRecords":{"cdrs":[]}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{},"cdrs":[]}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null}}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":null}}}"#,
        ] {
            let e = decode_page(body.as_bytes()).unwrap_err();
            assert!(matches!(e, ResponseError::Decode { .. }), "{body}: {e:?}");
        }
        let last = decode_page(
            br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[]}}}"#,
        );
        assert_eq!(last.unwrap().next_cursor, None);
    }

    #[test]
    fn truncated_body_is_a_decode_error() {
        let e = decode_page(br#"{"data":{"cdrRecords":{"cdrs":[{"__typename":"Api"#).unwrap_err();
        assert!(matches!(e, ResponseError::Decode { .. }), "{e:?}");
    }

    #[test]
    fn errors_array_is_an_error_even_with_200() {
        let body = br#"{"data":null,"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#;
        let e = decode_page(body).unwrap_err();
        assert_eq!(e.class(), Some(ErrorClass::Unauthorized));
        let body =
            br#"{"data":null,"errors":[{"message":"Invalid value for argument \"limit\""}]}"#;
        assert_eq!(
            decode_page(body).unwrap_err().class(),
            Some(ErrorClass::InvalidArgument)
        );
        let body = br#"{"data":null,"errors":[{"message":"Internal server error"}]}"#;
        assert_eq!(
            decode_page(body).unwrap_err().class(),
            Some(ErrorClass::Other)
        );
        assert_eq!(
            decode_page(br#"{"data":null}"#).unwrap_err(),
            ResponseError::MissingData
        );
    }

    #[test]
    fn error_classification_table() {
        let check = |msg: &str, code: Option<&str>, want: ErrorClass| {
            let e = GraphQlError {
                message: msg.into(),
                path: None,
                extensions: code.map(|c| {
                    let mut m = serde_json::Map::new();
                    m.insert("code".into(), c.into());
                    m
                }),
            };
            assert_eq!(e.class(), want, "{msg} {code:?}");
        };
        check("Unauthorized", None, ErrorClass::Unauthorized);
        check(
            "You must be logged in",
            Some("UNAUTHENTICATED"),
            ErrorClass::Unauthorized,
        );
        check(
            "Unknown field \"foo\" on type \"ApiCdr\"",
            None,
            ErrorClass::InvalidArgument,
        );
        check(
            "limit must be between 1 and 1000",
            None,
            ErrorClass::InvalidArgument,
        );
        check("oops", Some("BAD_USER_INPUT"), ErrorClass::InvalidArgument);
        check("database timeout", None, ErrorClass::Other);
    }

    #[test]
    fn decode_errors_reads_401_bodies() {
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        let e = decode_errors(body).unwrap();
        assert_eq!(e.0[0].message, "Invalid email or password.");
        assert!(decode_errors(b"<html>502</html>").is_none());
    }
}
