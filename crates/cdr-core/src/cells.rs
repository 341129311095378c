//! A record from the text of its cells, as a CSV export writes them.
//!
//! Each column is read by its column type with the rules the GraphQL
//! decoders apply to the same value sent as a JSON string: RFC 3339
//! datetimes with `Z` or an offset and any fraction, exact decimals that a
//! money column holds ([`check_money`]), whole numbers (`12` or `12.0`), and
//! text of at most a given length, kept as it is. So a record exported as
//! text and the same record answered by a query are equal, value for value.

use crate::field::Slot;
use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::record::{Cdr, RecordKind};
use crate::schema::check_money;

/// Why the text of a cell cannot be stored in its column: what the GraphQL
/// decoders would report as a bad record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
#[non_exhaustive]
pub struct CellError {
    /// The column's GraphQL name.
    pub field: &'static str,
    /// Why, in the decoders' words. It may repeat the cell's text, which
    /// comes from a server: sanitize it before printing.
    pub message: String,
}

impl Cdr {
    /// A record of `kind` from the text of its cells: `cells[i]` is column
    /// `i` of [`RecordKind::columns`], `None` a null (a column past the end
    /// of `cells` is null too). Text longer than `max_text` bytes cannot be
    /// stored, as in a decoded page ([`crate::MAX_TEXT_BYTES`] there).
    ///
    /// Values are read as the GraphQL decoders read a JSON string: the
    /// datetime is required, money must fit a money column, whole numbers
    /// may be written `12.0`; text is kept as it is (an empty text is not a
    /// null).
    ///
    /// ```
    /// use cdr_core::{Cdr, MAX_TEXT_BYTES, RecordKind, Value, parse_decimal};
    /// let r = Cdr::from_text(
    ///     RecordKind::Message,
    ///     &[Some("2026-11-01T01:00:00+01:00"), Some("+15551230000"), None, Some(""),
    ///       None, Some("0.00350"), Some("SMS")],
    ///     MAX_TEXT_BYTES,
    /// )?;
    /// assert_eq!(r.value(3), Value::Str(""));
    /// assert_eq!(r.value(5), Value::Decimal(parse_decimal("0.0035").unwrap()));
    /// let bad = Cdr::from_text(RecordKind::Message, &[Some("2026-11-01T00:00:00Z"),
    ///     None, None, None, None, Some("N/A")], MAX_TEXT_BYTES).unwrap_err();
    /// assert_eq!(bad.field, "charge");
    /// # Ok::<(), cdr_core::CellError>(())
    /// ```
    pub fn from_text(
        kind: RecordKind,
        cells: &[Option<&str>],
        max_text: usize,
    ) -> Result<Cdr, CellError> {
        let mut record = Cdr::empty(kind);
        for (i, column) in kind.columns().iter().enumerate() {
            let cell = cells.get(i).copied().flatten();
            let bad = |message: String| CellError {
                field: column.graphql,
                message,
            };
            let Some(slot) = record.slot(i) else {
                continue;
            };
            let Some(text) = cell else {
                if slot.clear() {
                    continue;
                }
                return Err(bad("missing or null".into()));
            };
            match slot {
                Slot::Timestamp(v) => *v = parse_datetime(text).map_err(|e| bad(e.to_string()))?,
                Slot::Decimal(v) => {
                    let d = parse_decimal(text).map_err(|e| bad(e.to_string()))?;
                    check_money(&d).map_err(|e| bad(e.to_string()))?;
                    *v = Some(d);
                }
                Slot::Int64(v) => *v = Some(parse_integer(text).map_err(|e| bad(e.to_string()))?),
                Slot::Utf8(v) => {
                    if text.len() > max_text {
                        return Err(bad(format!(
                            "a text of {} bytes, longer than the limit of {max_text} bytes",
                            text.len()
                        )));
                    }
                    *v = Some(crate::Text::from(text));
                }
            }
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::decode_page;
    use crate::{MAX_TEXT_BYTES, Value};

    /// The same values as JSON strings in a page, for the decoder's verdict.
    fn decoded(kind: RecordKind, cells: &[Option<&str>]) -> Result<Cdr, (String, String)> {
        let mut fields = vec![format!("\"__typename\":\"{}\"", kind.typename())];
        for (c, v) in kind.columns().iter().zip(cells) {
            let value = match v {
                None => "null".to_string(),
                Some(t) => serde_json::to_string(t).unwrap(),
            };
            fields.push(format!("\"{}\":{value}", c.graphql));
        }
        let body = format!(
            r#"{{"data":{{"cdrRecords":{{"paginationInfo":{{"nextCursor":null,"limit":10}},"cdrs":[{{{}}}]}}}}}}"#,
            fields.join(",")
        );
        let page = decode_page(body.as_bytes(), kind).unwrap();
        match (page.records.first(), page.bad.first()) {
            (Some(r), _) => Ok(r.clone()),
            (None, Some(b)) => Err((b.field.clone(), b.message.clone())),
            (None, None) => panic!("neither a record nor a bad record"),
        }
    }

    #[test]
    fn text_cells_read_as_the_decoders_read_json_strings() {
        let voice = |dt: &str, session: Option<&str>, rate: Option<&str>, text: Option<&str>| {
            vec![
                Some(dt.to_string()),
                text.map(str::to_string),
                None,
                Some(String::new()),
                None,
                session.map(str::to_string),
                Some("ANSWERED".into()),
                rate.map(str::to_string),
                Some("1.50".into()),
                None,
                None,
            ]
        };
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let cases = [
            voice(
                "2026-11-01T00:00:00Z",
                Some("61"),
                Some("0.0125"),
                Some("a"),
            ),
            voice(
                "2026-11-01T02:00:00.5+02:00",
                Some("61.0"),
                None,
                Some("Zürich, \"q\"\n"),
            ),
            voice(
                "2026-11-01T00:00:00.123456789Z",
                None,
                Some("1e-5"),
                Some(" padded "),
            ),
            voice("2026-11-01T00:00:00Z", Some("61.5"), None, None),
            voice("2026-11-01T00:00:00Z", None, Some("N/A"), None),
            voice("2026-11-01T00:00:00Z", None, Some("0.123456789012"), None),
            voice("yesterday", None, None, None),
            voice("2026-11-01T00:00:00Z", None, None, Some(&long)),
        ];
        for cells in &cases {
            let refs: Vec<Option<&str>> = cells.iter().map(Option::as_deref).collect();
            let text = Cdr::from_text(RecordKind::Voice, &refs, MAX_TEXT_BYTES)
                .map_err(|e| (e.field.to_string(), e.message));
            assert_eq!(text, decoded(RecordKind::Voice, &refs), "{refs:?}");
        }
        // A null datetime is a bad record in both.
        let mut refs: Vec<Option<&str>> = cases[0].iter().map(Option::as_deref).collect();
        refs[0] = None;
        let e = Cdr::from_text(RecordKind::Voice, &refs, MAX_TEXT_BYTES).unwrap_err();
        assert_eq!(
            Err((e.field.to_string(), e.message)),
            decoded(RecordKind::Voice, &refs)
        );
    }

    #[test]
    fn missing_cells_are_null_and_empty_text_is_not() {
        let r = Cdr::from_text(
            RecordKind::Api,
            &[Some("2026-11-01T00:00:00Z"), Some("")],
            MAX_TEXT_BYTES,
        )
        .unwrap();
        assert_eq!(r.value(1), Value::Str(""));
        for i in 2..RecordKind::Api.columns().len() {
            assert_eq!(r.value(i), Value::Null);
        }
        let e = Cdr::from_text(RecordKind::Api, &[], MAX_TEXT_BYTES).unwrap_err();
        assert_eq!(
            (e.field, e.message.as_str()),
            ("datetime", "missing or null")
        );
        assert_eq!(e.to_string(), "`datetime`: missing or null");
    }
}
