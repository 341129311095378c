//! Decoding of `cdrRecords` responses: the GraphQL envelope (`data` / `errors`),
//! the union decoded by `__typename`, money without floats, and the
//! classification of GraphQL errors.
//!
//! A page is decoded into three lists: the records of the member the query
//! asked for, the members of unknown type ([`UnknownMember`]), and the bad
//! records ([`BadRecord`]): known members with a value that cannot be read or
//! stored, or of another member than the one asked for. Neither fails the
//! page; only a body that is not a `cdrRecords` answer does.
//!
//! Two decoders share the work. A scanner ([`scan`]) reads the answers the
//! service sends in one pass over the body, parsing values where they lie and
//! copying only the text that becomes record fields. An element it does not
//! take (an unknown member, a bad value, unusual JSON) is decoded by the
//! element decoder below, and a body it does not take (GraphQL errors,
//! unusual envelopes) by the serde decoder, which accepts every valid answer
//! and words the errors. Both read money from the JSON text, never through
//! `f64`, and both judge elements with the same code.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::record::{ApiCdr, Cdr, MessageCdr, VoiceCdr};
use crate::schema::{RecordKind, check_money};
use crate::secret::ExportLink;

mod scan;

/// A union member whose `__typename` this version does not know (a product
/// added after it was written). It is not an error of the page: its records
/// cannot be stored, and the caller decides what that means for its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMember {
    /// Position in the page's `cdrs` list.
    pub index: usize,
    /// The `__typename` the server sent (empty when it sent none).
    pub typename: String,
}

/// A record of a known member that cannot be stored as it is: a value that
/// cannot be read (a charge of `"N/A"`, a datetime that is not RFC 3339, a
/// `sessionTime` that is not a whole number), money that does not fit the
/// archive's columns ([`check_money`]), or a member other than the one the
/// query asked for. It is not an error of the page: the caller decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Position in the page's `cdrs` list.
    pub index: usize,
    /// The `__typename` the server sent (empty when it was not a string).
    pub typename: String,
    /// The GraphQL field at fault, or `__typename` for a wrong member.
    pub field: String,
    /// What is wrong, in a short sentence.
    pub message: String,
    /// The element's JSON text, as the server sent it.
    pub raw: String,
}

/// One decoded page of `cdrRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R = Cdr> {
    /// Records of the member the query asked for, in server order.
    pub records: Vec<R>,
    /// Members of unknown type.
    pub unknown: Vec<UnknownMember>,
    /// Records that cannot be stored as they are.
    pub bad: Vec<BadRecord>,
    /// `paginationInfo.nextCursor`; `None` ends the pagination.
    pub next_cursor: Option<String>,
    /// `paginationInfo.limit` as the server echoed it.
    pub limit: Option<u32>,
    /// `exportLink`, when selected.
    pub export_link: Option<ExportLink>,
}

impl<R> Page<R> {
    /// Number of union elements in the page: records, unknown members and
    /// bad records.
    pub fn len(&self) -> usize {
        self.records.len() + self.unknown.len() + self.bad.len()
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

/// Phrases that say the token is missing, expired or refused, in the
/// wordings servers use (`tsg-api.md`, "Assumed"), matched in lowercase
/// messages and in codes with `_` read as a space.
const UNAUTHORIZED_PHRASES: [&str; 15] = [
    "unauthorized",
    "unauthenticated",
    "not authenticated",
    "authentication required",
    "authentication failed",
    "must be logged in",
    "not logged in",
    "login required",
    "jwt expired",
    "jwt malformed",
    "invalid jwt",
    "token expired",
    "expired token",
    "invalid token",
    "token is invalid",
];

/// Words for a credential and for what went wrong with it: a message with
/// one of each ("the bearer token has been revoked") blames the token.
const CREDENTIALS: [&str; 4] = ["token", "jwt", "bearer", "credential"];
const CREDENTIAL_STATES: [&str; 7] = [
    "expired",
    "invalid",
    "revoked",
    "malformed",
    "missing",
    "not valid",
    "required",
];
/// Messages that mention a token without meaning a credential: GraphQL
/// syntax errors ("Unexpected token") and page tokens.
const NOT_CREDENTIALS: [&str; 5] = [
    "syntax error",
    "unexpected token",
    "cursor",
    "page token",
    "pagination",
];

/// Whether a message or code blames the token.
fn blames_token(text: &str) -> bool {
    if UNAUTHORIZED_PHRASES.iter().any(|p| text.contains(p)) {
        return true;
    }
    !NOT_CREDENTIALS.iter().any(|p| text.contains(p))
        && CREDENTIALS.iter().any(|p| text.contains(p))
        && CREDENTIAL_STATES.iter().any(|p| text.contains(p))
}

impl GraphQlError {
    /// `extensions.code`, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.get("code")?.as_str()
    }

    /// Classifies this error from its code and message. Wordings of a
    /// refused token come first: "invalid token" blames the token, not the
    /// request, although it says "invalid".
    pub fn class(&self) -> ErrorClass {
        let code = self
            .code()
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace(['_', '-'], " ");
        let msg = self.message.to_ascii_lowercase();
        let has = |needle: &str| code.contains(needle) || msg.contains(needle);
        if blames_token(&code)
            || blames_token(&msg)
            || has("forbidden") && (msg.contains("token") || code.contains("token"))
        {
            ErrorClass::Unauthorized
        } else if has("bad user input")
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
    /// The body is not JSON: cut short, or not JSON at all (an HTML page of a
    /// proxy, say). Asking again may give a whole answer.
    #[error("undecodable response: {message}")]
    Decode { message: String },
    /// The body is JSON, but not of the shape of a `cdrRecords` answer (no
    /// `paginationInfo`, a `cdrs` element that is not an object, ...); the
    /// message names the JSON path. The same answer would come again.
    #[error("unexpected response: {message}")]
    Shape { message: String },
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

/// Decodes a `cdrRecords` response body of a query for records of member
/// `expected` (see [`CdrType::record_kind`](crate::CdrType::record_kind)).
///
/// ```
/// use cdr_core::RecordKind;
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null,"limit":10},
///   "cdrs":[{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.0040"},
///           {"__typename":"RcsCdr"},
///           {"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"N/A"}]}}}"#;
/// let page = cdr_core::decode_page(body, RecordKind::Message).unwrap();
/// assert_eq!(page.records.len(), 1);
/// assert_eq!(page.unknown[0].typename, "RcsCdr");
/// assert_eq!((page.bad[0].index, page.bad[0].field.as_str()), (2, "charge"));
/// assert_eq!(page.next_cursor, None);
/// ```
pub fn decode_page(body: &[u8], expected: RecordKind) -> Result<Page, ResponseError> {
    decode_page_reusing(body, expected, Vec::new())
}

/// Decodes a `cdrRecords` response body like [`decode_page`], reusing the
/// allocations of `spare`: records of an earlier page that are no longer
/// needed. Their vector holds the new records and their strings the new text,
/// so that a stream of pages hardly allocates once it runs. The page is the
/// same as [`decode_page`]'s.
///
/// ```
/// use cdr_core::RecordKind;
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},
///   "cdrs":[{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","status":"sent"}]}}}"#;
/// let first = cdr_core::decode_page(body, RecordKind::Message)?;
/// let again = cdr_core::decode_page_reusing(body, RecordKind::Message, first.records.clone())?;
/// assert_eq!(again, first);
/// # Ok::<(), cdr_core::ResponseError>(())
/// ```
pub fn decode_page_reusing(
    body: &[u8],
    expected: RecordKind,
    spare: Vec<Cdr>,
) -> Result<Page, ResponseError> {
    // The scanner takes the answers the service sends; whatever it does not
    // take, serde decodes or rejects with a message that names the problem.
    if let Ok(text) = std::str::from_utf8(body)
        && let Some(page) = scan::decode(text, expected, spare)
    {
        return Ok(page);
    }
    decode_with_serde(body, expected)
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

/// A serde error as a [`ResponseError`]: a body that is not JSON (or is cut
/// short) is [`ResponseError::Decode`], JSON of another shape
/// [`ResponseError::Shape`].
fn serde_error(e: &serde_json::Error) -> ResponseError {
    let message = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data => ResponseError::Shape { message },
        _ => ResponseError::Decode { message },
    }
}

/// The general decoder: every body [`decode_page`] accepts, and the errors.
fn decode_with_serde(body: &[u8], expected: RecordKind) -> Result<Page, ResponseError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| serde_error(&e))?;
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
    let mut page = Page {
        records: Vec::with_capacity(body.cdrs.len()),
        unknown: Vec::new(),
        bad: Vec::new(),
        next_cursor: body.pagination_info.next_cursor,
        limit: body.pagination_info.limit,
        export_link: body.export_link.map(ExportLink::new),
    };
    for (index, raw) in body.cdrs.iter().enumerate() {
        let member =
            decode_member(raw.get(), index, expected).map_err(|message| ResponseError::Shape {
                message: format!("data.cdrRecords.cdrs[{index}]: {message}"),
            })?;
        page.push(member);
    }
    Ok(page)
}

impl Page {
    fn push(&mut self, member: Member) {
        match member {
            Member::Known(r) => self.records.push(r),
            Member::Unknown(m) => self.unknown.push(m),
            Member::Bad(b) => self.bad.push(b),
        }
    }
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
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<Data<'a>>,
    errors: Option<Vec<GraphQlError>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "cdrRecords", borrow)]
    cdr_records: Option<PageBody<'a>>,
}

/// `paginationInfo`, its `nextCursor` and `cdrs` are required: a page that
/// lacks them must not pass for the last page (pagination ends only on an
/// explicit `nextCursor: null`). The elements of `cdrs` are kept as text and
/// decoded one by one, so that a bad one is reported with its own text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageBody<'a> {
    export_link: Option<String>,
    pagination_info: PaginationInfo,
    #[serde(borrow)]
    cdrs: Vec<&'a RawValue>,
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

/// What one element of `cdrs` is.
#[allow(clippy::large_enum_variant)] // built once per element and moved straight out
pub(crate) enum Member {
    Known(Cdr),
    Unknown(UnknownMember),
    Bad(BadRecord),
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_datetime;

    fn page_of(kind: RecordKind, cdrs: &str) -> Result<Page, ResponseError> {
        let body = format!(
            r#"{{"data":{{"cdrRecords":{{"exportLink":"https://x/export?sig=abc","paginationInfo":{{"nextCursor":"c2","limit":100}},"cdrs":[{cdrs}]}}}}}}"#
        );
        decode_page(body.as_bytes(), kind)
    }

    fn page(cdrs: &str) -> Result<Page, ResponseError> {
        page_of(RecordKind::Message, cdrs)
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
        let p = page_of(RecordKind::Voice, r#"{"datetime":"2026-11-01T00:00:00Z","__typename":"VoiceCdr","callId":"abc","sourceAni":"15550001","destinationNumber":"15550002","didUsed":null,"sessionTime":61,"status":"ANSWERED","calledRate":0.1,"charge":1234567890.12345,"callType":"outbound","aniIi":null}"#).unwrap();
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
    fn unknown_members_are_named_and_listed_beside_the_records() {
        let p = page_of(RecordKind::Api, r#"{"__typename":"ApiCdr","datetime":"2026-11-01T00:00:00Z","from":"a","destination":"b","status":"ok","charge":null,"type":"lookup"},{"__typename":"RcsCdr"},{"__typename":"FaxCdr","datetime":"x","pages":3,"charge":"N/A"},{"datetime":"x"},{"__typename":null}"#).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.len(), 5);
        assert!(
            p.bad.is_empty(),
            "an unknown member's fields are not judged"
        );
        let unknown: Vec<(usize, &str)> = p
            .unknown
            .iter()
            .map(|u| (u.index, u.typename.as_str()))
            .collect();
        // A member without a (string) __typename is unknown too, named "".
        assert_eq!(
            unknown,
            [(1, "RcsCdr"), (2, "FaxCdr"), (3, ""), (4, "")],
            "{p:?}"
        );
        let Cdr::Api(a) = &p.records[0] else { panic!() };
        assert_eq!(a.charge, None);
        assert_eq!(a.from.as_deref(), Some("a"));
    }

    /// Decodes one element of a message page that must be bad, and returns
    /// its field and message; the page's other record is kept.
    fn bad(element: &str) -> (String, String) {
        let good =
            r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.5"}"#;
        let p = page(&format!("{good},{element},{good}"))
            .unwrap_or_else(|e| panic!("{element}: the page failed: {e}"));
        assert_eq!(p.records.len(), 2, "{element}: {p:?}");
        assert_eq!(p.bad.len(), 1, "{element}: {p:?}");
        let b = &p.bad[0];
        assert_eq!(b.index, 1);
        assert_eq!(b.raw, element, "the element's own text");
        (b.field.clone(), b.message.clone())
    }

    #[test]
    fn bad_values_are_reported_beside_the_records_not_as_errors() {
        let sms = |field: &str, value: &str| {
            format!(
                r#"{{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","{field}":{value}}}"#
            )
        };
        for (element, field, needle) in [
            (sms("charge", r#""N/A""#), "charge", "invalid decimal `N/A`"),
            (sms("charge", "true"), "charge", "invalid decimal"),
            (
                sms("charge", r#"{"amount":1}"#),
                "charge",
                "invalid decimal",
            ),
            (
                sms("charge", "0.123456789012"),
                "charge",
                "0.123456789012 has more than 10 decimal places",
            ),
            (
                sms("charge", r#""-12345678901234567890123456789""#),
                "charge",
                "more than 28 digits before the decimal point",
            ),
            (sms("charge", "1e40"), "charge", "invalid decimal"),
            (
                sms("status", "42"),
                "status",
                "expected a string or null, got a number",
            ),
            (sms("toNumber", "[1]"), "toNumber", "got a list"),
            (sms("direction", "{}"), "direction", "got an object"),
            (
                r#"{"__typename":"MessageCdr","datetime":"2026-13-01T00:00:00Z"}"#.into(),
                "datetime",
                "invalid datetime `2026-13-01T00:00:00Z`",
            ),
            (
                r#"{"__typename":"MessageCdr","datetime":1762000000}"#.into(),
                "datetime",
                "got a number",
            ),
            (
                r#"{"__typename":"MessageCdr","datetime":null}"#.into(),
                "datetime",
                "missing or null",
            ),
            (
                r#"{"__typename":"MessageCdr","charge":"0.1"}"#.into(),
                "datetime",
                "missing or null",
            ),
            (
                r#"{"__typename":7,"datetime":"2026-11-01T00:00:00Z"}"#.into(),
                "__typename",
                "expected a string or null, got a number",
            ),
            // The first bad field in key order is the one reported.
            (
                r#"{"__typename":"MessageCdr","charge":"x","datetime":"y"}"#.into(),
                "charge",
                "`x`",
            ),
        ] {
            let (got_field, message) = bad(&element);
            assert_eq!(got_field, field, "{element}");
            assert!(message.contains(needle), "{element}: {message}");
        }
    }

    #[test]
    fn voice_values_that_cannot_be_stored() {
        for (value, needle) in [
            (r#""1.5""#, "invalid whole number `1.5`"),
            ("1.5", "invalid whole number"),
            (r#""61s""#, "`61s`"),
            ("99999999999999999999", "invalid whole number"),
        ] {
            let element = format!(
                r#"{{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z","sessionTime":{value}}}"#
            );
            let p = page_of(RecordKind::Voice, &element).unwrap();
            assert!(p.records.is_empty());
            assert_eq!(p.bad[0].field, "sessionTime", "{value}");
            assert!(p.bad[0].message.contains(needle), "{:?}", p.bad[0]);
        }
        let p = page_of(
            RecordKind::Voice,
            r#"{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z","calledRate":"0.00000000001"}"#,
        )
        .unwrap();
        assert_eq!(p.bad[0].field, "calledRate");
        // A whole number written as 61.0 is still a whole number.
        let p = page_of(
            RecordKind::Voice,
            r#"{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z","sessionTime":61.0}"#,
        )
        .unwrap();
        assert!(p.bad.is_empty() && p.records.len() == 1, "{p:?}");
    }

    #[test]
    fn a_known_member_of_another_kind_is_a_bad_record() {
        let voice =
            r#"{"__typename":"VoiceCdr","datetime":"2026-11-01T00:00:00Z","sessionTime":5}"#;
        let (field, message) = bad(voice);
        assert_eq!(field, "__typename");
        assert_eq!(
            message,
            "a VoiceCdr where MessageCdr records were asked for"
        );
        let p = page_of(RecordKind::Voice, voice).unwrap();
        assert_eq!((p.records.len(), p.bad.len()), (1, 0));
        // Even a bad value is reported as the wrong member first.
        let p = page(r#"{"__typename":"ApiCdr","datetime":"2026-11-01T00:00:00Z","charge":"abc"}"#)
            .unwrap();
        assert_eq!(p.bad[0].typename, "ApiCdr");
        assert_eq!(p.bad[0].field, "__typename");
    }

    #[test]
    fn long_values_are_cut_in_messages_but_kept_in_the_raw_text() {
        let long = "9".repeat(500);
        let element = format!(
            r#"{{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"{long}x"}}"#
        );
        let p = page(&element).unwrap();
        assert!(p.bad[0].message.len() <= 204, "{}", p.bad[0].message);
        assert!(p.bad[0].message.ends_with('…'));
        assert_eq!(p.bad[0].raw, element);
    }

    #[test]
    fn a_page_without_pagination_info_or_cdrs_is_not_the_last_page() {
        for body in [
            r#"{"data":{"cdrRecords":{}}}"#,
            r#"{"data":{"cdrRecords":{"cdrs":[]}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{},"cdrs":[]}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null}}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":null}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[null]}}}"#,
            r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[1,{}]}}}"#,
        ] {
            let e = decode_page(body.as_bytes(), RecordKind::Message).unwrap_err();
            assert!(matches!(e, ResponseError::Shape { .. }), "{body}: {e:?}");
        }
        let e = decode_page(
            br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[{},"x"]}}}"#,
            RecordKind::Message,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cdrs[1]"), "{e}");
        let last = decode_page(
            br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[]}}}"#,
            RecordKind::Message,
        );
        assert_eq!(last.unwrap().next_cursor, None);
    }

    #[test]
    fn a_body_that_is_not_json_is_a_decode_error() {
        for body in [
            &br#"{"data":{"cdrRecords":{"cdrs":[{"__typename":"Api"#[..],
            b"<html>502 Bad Gateway</html>",
            b"",
        ] {
            let e = decode_page(body, RecordKind::Message).unwrap_err();
            assert!(matches!(e, ResponseError::Decode { .. }), "{e:?}");
        }
    }

    #[test]
    fn errors_array_is_an_error_even_with_200() {
        let body = br#"{"data":null,"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#;
        let e = decode_page(body, RecordKind::Message).unwrap_err();
        assert_eq!(e.class(), Some(ErrorClass::Unauthorized));
        let body =
            br#"{"data":null,"errors":[{"message":"Invalid value for argument \"limit\""}]}"#;
        assert_eq!(
            decode_page(body, RecordKind::Message).unwrap_err().class(),
            Some(ErrorClass::InvalidArgument)
        );
        let body = br#"{"data":null,"errors":[{"message":"Internal server error"}]}"#;
        assert_eq!(
            decode_page(body, RecordKind::Message).unwrap_err().class(),
            Some(ErrorClass::Other)
        );
        assert_eq!(
            decode_page(br#"{"data":null}"#, RecordKind::Message).unwrap_err(),
            ResponseError::MissingData
        );
    }

    #[test]
    fn error_classification_table() {
        use ErrorClass::{InvalidArgument, Other, Unauthorized};
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
        // Every wording of a refused token, before the generic "invalid" rule.
        for msg in [
            "Unauthorized",
            "unauthenticated",
            "jwt expired",
            "JWT expired at 2026-11-01T00:00:00Z",
            "Token expired",
            "token expired, please log in again",
            "Expired token",
            "Invalid token",
            "invalid token: signature mismatch",
            "Token is invalid",
            "The token is invalid or has expired",
            "Your token has been revoked",
            "invalid JWT",
            "jwt malformed",
            "Bearer token missing",
            "Invalid credentials",
            "Not authenticated",
            "Authentication required",
            "authentication failed",
            "You must be logged in",
            "unauthenticated: the token has expired, log in again",
        ] {
            check(msg, None, Unauthorized);
        }
        for code in [
            "UNAUTHENTICATED",
            "unauthenticated",
            "UNAUTHORIZED",
            "INVALID_TOKEN",
            "TOKEN_EXPIRED",
        ] {
            check("Something went wrong", Some(code), Unauthorized);
            check("Invalid argument", Some(code), Unauthorized);
        }
        check("forbidden: the token lacks a scope", None, Unauthorized);
        // The request's own faults.
        check(
            "Unknown field \"foo\" on type \"ApiCdr\"",
            None,
            InvalidArgument,
        );
        check("limit must be between 1 and 1000", None, InvalidArgument);
        check("oops", Some("BAD_USER_INPUT"), InvalidArgument);
        check(
            "Invalid value for argument \"limit\"",
            None,
            InvalidArgument,
        );
        check(
            "invalid cursor: it was modified or belongs to another query",
            None,
            InvalidArgument,
        );
        check("Invalid page token", None, InvalidArgument);
        check(
            "Syntax Error: Unexpected token \"}\", invalid input",
            None,
            InvalidArgument,
        );
        check("database timeout", None, Other);
        check("forbidden", None, Other);
    }

    #[test]
    fn decode_errors_reads_401_bodies() {
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        let e = decode_errors(body).unwrap();
        assert_eq!(e.0[0].message, "Invalid email or password.");
        assert!(decode_errors(b"<html>502</html>").is_none());
    }
}
