//! Decoding of `cdrRecords` responses: the GraphQL envelope (`data` / `errors`),
//! the union decoded by `__typename`, money without floats, and the
//! classification of GraphQL errors.
//!
//! A page is decoded into three lists: the records of the member the query
//! asked for, the members of unknown type ([`UnknownMember`]), and the bad
//! records ([`BadRecord`]): known members with a value that cannot be read or
//! stored (text longer than [`MAX_TEXT_BYTES`] included), or of another
//! member than the one asked for. Neither fails the page; only a body that
//! is not a `cdrRecords` answer does. [`PageDecoder`] sets the text limit.
//!
//! Two decoders share the work. A scanner ([`scan`]) reads the answers the
//! service sends in one pass over the body, parsing values where they lie and
//! copying only the text that becomes record fields. An element it does not
//! take (an unknown member, a bad value, unusual JSON) is decoded by the
//! element decoder ([`element`]), and a body it does not take (GraphQL
//! errors, unusual envelopes) by the serde decoder ([`envelope`]), which
//! accepts every valid answer and words the errors. Both read money from the
//! JSON text, never through `f64`, and both judge elements with the same code.
//!
//! Modules, each using only those listed before it: [`page`] (what a page
//! holds), [`errors`] (GraphQL errors and their classification),
//! [`element`], [`envelope`], [`scan`]; this module only chooses between the
//! decoders.

mod element;
mod envelope;
mod errors;
mod page;
mod scan;

pub use errors::{ErrorClass, GraphQlError, GraphQlErrors, ResponseError, decode_errors};
pub use page::{BadRecord, Page, UnknownMember};

use crate::record::Cdr;
use crate::record::RecordKind;
use envelope::decode_with_serde;

/// The longest text a string field of a record may hold unless the caller
/// sets another limit ([`PageDecoder::with_max_text_bytes`]): 64 KiB of
/// UTF-8. The service sends short values (numbers, statuses, ids); a longer
/// one makes its record a [`BadRecord`], so that a server that sends
/// megabytes in one field cannot fill the archive (or memory) with them.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Decodes the answers to a query for records of one member, with limits on
/// what one record may hold. [`decode_page`] and [`decode_page_reusing`] are
/// its defaults.
///
/// ```
/// use cdr_core::{PageDecoder, RecordKind};
/// let body = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},
///   "cdrs":[{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","status":"delivered to the handset"}]}}}"#;
/// let decoder = PageDecoder::new(RecordKind::Message).with_max_text_bytes(16);
/// let page = decoder.decode(body)?;
/// assert_eq!(page.bad[0].field, "status");
/// assert_eq!(page.bad[0].message, "a text of 24 bytes, longer than the limit of 16 bytes");
/// # Ok::<(), cdr_core::ResponseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageDecoder {
    expected: RecordKind,
    max_text: usize,
}

impl PageDecoder {
    /// A decoder of pages of records of member `expected` (see
    /// [`CdrType::record_kind`](crate::CdrType::record_kind)), with text
    /// fields of up to [`MAX_TEXT_BYTES`].
    pub const fn new(expected: RecordKind) -> PageDecoder {
        PageDecoder {
            expected,
            max_text: MAX_TEXT_BYTES,
        }
    }

    /// The same decoder with text fields of up to `bytes` bytes of UTF-8
    /// (as decoded, escapes resolved): a record with a longer one is a
    /// [`BadRecord`] naming the field.
    pub const fn with_max_text_bytes(self, bytes: usize) -> PageDecoder {
        PageDecoder {
            max_text: bytes,
            ..self
        }
    }

    /// The member asked for.
    pub const fn expected(&self) -> RecordKind {
        self.expected
    }

    /// The longest text a field may hold, in bytes.
    pub const fn max_text_bytes(&self) -> usize {
        self.max_text
    }

    /// Decodes a `cdrRecords` response body, as [`decode_page`] does.
    pub fn decode(&self, body: &[u8]) -> Result<Page, ResponseError> {
        self.decode_reusing(body, Vec::new())
    }

    /// Decodes a `cdrRecords` response body into the allocations of `spare`,
    /// as [`decode_page_reusing`] does.
    pub fn decode_reusing(&self, body: &[u8], spare: Vec<Cdr>) -> Result<Page, ResponseError> {
        // The scanner takes the answers the service sends; whatever it does
        // not take, serde decodes or rejects with a message that names the
        // problem.
        if let Ok(text) = std::str::from_utf8(body)
            && let Some(page) = scan::decode(text, self.expected, self.max_text, spare)
        {
            return Ok(page);
        }
        decode_with_serde(body, self.expected, self.max_text)
    }
}

/// Decodes a `cdrRecords` response body of a query for records of member
/// `expected` (see [`CdrType::record_kind`](crate::CdrType::record_kind)),
/// with text fields of up to [`MAX_TEXT_BYTES`] ([`PageDecoder`] sets
/// another limit).
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
    PageDecoder::new(expected).decode(body)
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
    PageDecoder::new(expected).decode_reusing(body, spare)
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
            // A field of another member is read by its type too.
            (
                sms("callId", "42"),
                "callId",
                "expected a string or null, got a number",
            ),
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
    fn a_text_longer_than_the_limit_makes_its_record_bad() {
        let sms = |status: &str| {
            format!(
                r#"{{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","status":"{status}","charge":"0.5"}}"#
            )
        };
        let p = page(&sms(&"x".repeat(MAX_TEXT_BYTES + 1))).unwrap();
        assert_eq!((p.records.len(), p.bad[0].field.as_str()), (0, "status"));
        assert_eq!(
            p.bad[0].message,
            "a text of 65537 bytes, longer than the limit of 65536 bytes"
        );
        assert_eq!(
            page(&sms(&"x".repeat(MAX_TEXT_BYTES)))
                .unwrap()
                .records
                .len(),
            1
        );
        // Another limit, counted in bytes of the text, escapes resolved.
        let decoder = PageDecoder::new(RecordKind::Message).with_max_text_bytes(4);
        for (status, kept) in [
            ("abcd", true),
            ("abcde", false),
            ("éé", true),
            ("ééé", false),
            (r"\u00e9\u00e9", true),
            (r"\u00e9\u00e9a", false),
            (r"a\nb\tc", false),
        ] {
            let body = format!(
                r#"{{"data":{{"cdrRecords":{{"paginationInfo":{{"nextCursor":null}},"cdrs":[{}]}}}}}}"#,
                sms(status)
            );
            let p = decoder.decode(body.as_bytes()).unwrap();
            assert_eq!(p.records.len() == 1, kept, "{status}: {p:?}");
        }
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
}
