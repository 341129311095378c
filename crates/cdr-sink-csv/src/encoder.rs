//! The CSV [`Encoder`].

use std::io::Write;
use std::mem;

use cdr_core::chrono::{DateTime, Utc};
use cdr_core::{Cdr, Value, format_datetime};
use cdr_sink_api::{ColumnSet, EncodeError, Encoder};

/// Writes `text` as one RFC 4180 field: as is when that is unambiguous,
/// otherwise in double quotes with inner quotes doubled.
///
/// Quoted are fields with a comma, quote, CR or LF; fields with leading or
/// trailing whitespace (which some readers trim); and the empty string, which
/// becomes `""` so that readers that can tell it apart from a null (an empty
/// cell) do. Non-ASCII text is written as UTF-8, unquoted.
pub fn write_text_field(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let needs_quotes = bytes.is_empty()
        || bytes
            .iter()
            .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || bytes.first().is_some_and(|b| b.is_ascii_whitespace())
        || bytes.last().is_some_and(|b| b.is_ascii_whitespace());
    if !needs_quotes {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for part in text.split_inclusive('"') {
        out.extend_from_slice(part.as_bytes());
        if part.ends_with('"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// Encodes the records of one CSV file: a header row of the snake_case column
/// names, then one line per record, each ending with LF.
///
/// Timestamps are RFC 3339 in UTC with every non-zero fractional digit
/// ([`format_datetime`]); decimals keep their own scale (`0.00350`); integers
/// are plain; a null is an empty cell. Each [`Encoder::encode`] call is
/// all-or-nothing, and its output waits in a buffer until
/// [`Encoder::take_ready`].
#[derive(Debug)]
pub struct CsvEncoder {
    columns: ColumnSet,
    /// Indices into `RecordKind::columns`, in output order.
    indices: Vec<usize>,
    buf: Vec<u8>,
    rows: u64,
    handed_out: u64,
    finished: bool,
    /// The last timestamp written and its text: records come ordered by
    /// datetime and often share one, so most rows reuse it.
    last_timestamp: Option<(DateTime<Utc>, String)>,
}

impl CsvEncoder {
    pub(crate) fn new(columns: ColumnSet) -> Result<CsvEncoder, EncodeError> {
        if columns.is_empty() {
            return Err(EncodeError::Format {
                format: "csv",
                message: "no columns are selected; select at least one".into(),
            });
        }
        let mut buf = Vec::new();
        for (n, (_, column)) in columns.iter().enumerate() {
            if n > 0 {
                buf.push(b',');
            }
            write_text_field(&mut buf, column.name);
        }
        buf.push(b'\n');
        Ok(CsvEncoder {
            indices: columns.iter().map(|(i, _)| i).collect(),
            columns,
            buf,
            rows: 0,
            handed_out: 0,
            finished: false,
            last_timestamp: None,
        })
    }

    /// The columns this encoder writes.
    pub fn columns(&self) -> &ColumnSet {
        &self.columns
    }

    fn write_record(&mut self, r: &Cdr) -> std::io::Result<()> {
        let CsvEncoder {
            indices,
            buf,
            last_timestamp,
            ..
        } = self;
        for (n, &index) in indices.iter().enumerate() {
            if n > 0 {
                buf.push(b',');
            }
            match r.value(index) {
                Value::Null => {}
                Value::Str(s) => write_text_field(buf, s),
                Value::Timestamp(t) => match last_timestamp {
                    Some((last, text)) if *last == t => buf.extend_from_slice(text.as_bytes()),
                    _ => {
                        let text = format_datetime(&t);
                        buf.extend_from_slice(text.as_bytes());
                        *last_timestamp = Some((t, text));
                    }
                },
                Value::Decimal(d) => write!(buf, "{d}")?,
                Value::Int64(i) => write!(buf, "{i}")?,
            }
        }
        buf.push(b'\n');
        Ok(())
    }
}

impl Encoder for CsvEncoder {
    fn encode(&mut self, records: &[Cdr]) -> Result<(), EncodeError> {
        if self.finished {
            return Err(EncodeError::Finished);
        }
        let expected = self.columns.kind();
        if let Some(r) = records.iter().find(|r| r.kind() != expected) {
            return Err(EncodeError::WrongKind {
                expected,
                got: r.kind(),
            });
        }
        let start = self.buf.len();
        for r in records {
            if let Err(e) = self.write_record(r) {
                self.buf.truncate(start);
                return Err(EncodeError::Format {
                    format: "csv",
                    message: e.to_string(),
                });
            }
        }
        self.rows += records.len() as u64;
        Ok(())
    }

    fn take_ready(&mut self) -> Vec<u8> {
        let ready = mem::take(&mut self.buf);
        self.handed_out += ready.len() as u64;
        ready
    }

    fn finish(&mut self) -> Result<Vec<u8>, EncodeError> {
        if self.finished {
            return Err(EncodeError::Finished);
        }
        self.finished = true;
        Ok(self.take_ready())
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn size_estimate(&self) -> u64 {
        self.handed_out + self.buf.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        let mut out = Vec::new();
        write_text_field(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quoting() {
        for (text, want) in [
            ("plain", "plain"),
            ("", r#""""#),
            ("a,b", r#""a,b""#),
            (r#"say "hi""#, r#""say ""hi""""#),
            ("\"", r#""""""#),
            ("line1\nline2", "\"line1\nline2\""),
            ("cr\r\nlf", "\"cr\r\nlf\""),
            (" padded", r#"" padded""#),
            ("tab\t", "\"tab\t\""),
            ("inner space", "inner space"),
            ("Zürich 東京 🙂", "Zürich 東京 🙂"),
            ("+15551230000", "+15551230000"),
        ] {
            assert_eq!(field(text), want, "{text:?}");
        }
    }
}
