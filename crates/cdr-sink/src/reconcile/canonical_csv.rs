//! The provider's CSV export of a window read back into records as it
//! streams by, and hashed: never stored, with memory independent of the
//! window's size (one row at a time, each cell at most a bounded length).
//!
//! The export is RFC 4180 text: a header of field names (GraphQL names, or
//! the archive's snake_case ones), then one row per record. CR, LF and CRLF
//! each end a row, and blank lines are no rows, as every CSV reader (and the
//! export's row counter, `CsvLines`) reads them; a quote opens a quoted field
//! only at the field's start. Each row becomes a [`Cdr`] by
//! [`Cdr::from_text`], the GraphQL decoders' rules, so that a record from the
//! export and the same record from a query have one canonical form and one
//! content hash:
//!
//! - a text column: an empty cell is a null, a quoted empty cell (`""`) the
//!   empty text; other columns: an empty cell is a null, quoted or not;
//! - datetimes in RFC 3339 with `Z` or an offset and any fraction, decimals
//!   exactly (`1.50` and `1.5` hash alike, as they do from GraphQL), whole
//!   numbers.
//!
//! A header that does not name exactly the columns of the record kind, a row
//! with another number of fields, text after a closing quote or text that is
//! not UTF-8 is a malformed export ([`CsvError`]); a body that ends inside a
//! row was cut ([`CsvError::EndedInsideRow`]). A well-formed row whose value
//! cannot be stored (what `--on-bad-record quarantine` keeps aside when
//! archiving) is counted apart, with the first one's position and reason.

use cdr_core::{Cdr, ColumnType, MAX_TEXT_BYTES, RecordKind};

use crate::content::{ContentHash, HashVersion};

/// The longest header field read; no column name comes near it.
const MAX_HEADER_FIELD: usize = 256;
/// The most fields a header may have (a record kind has at most 63 columns).
const MAX_HEADER_FIELDS: usize = 64;

/// Why an export's text is not a CSV of the records asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The header does not name the record kind's columns, once each.
    #[error("its header {0}")]
    Header(String),
    /// A row is not well-formed CSV of the header's fields.
    #[error("row {row} {message}")]
    Row { row: u64, message: String },
    /// The body ended inside a row (or a quoted field): it was cut.
    #[error("the body ended inside row {row}")]
    EndedInsideRow { row: u64 },
}

/// What an export held: the records that can be stored (counted and hashed)
/// and those that cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportContent {
    /// Count and content hash of the records that can be stored.
    pub hash: ContentHash,
    /// Rows whose values cannot be stored.
    pub unstorable: u64,
    /// The first of them: its row and why (server text, sanitized).
    pub first_unstorable: Option<String>,
}

impl ExportContent {
    /// Nothing read yet; hashes of `version`.
    pub fn new(version: HashVersion) -> ExportContent {
        ExportContent {
            hash: ContentHash::of_version(version),
            unstorable: 0,
            first_unstorable: None,
        }
    }

    /// Records that can be stored.
    pub fn records(&self) -> u64 {
        self.hash.records()
    }
}

/// Where the reader is in the CSV grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field (or of a row).
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: its end, or the first of
    /// a doubled quote.
    AfterQuote,
}

/// One field of the row being read: where its bytes are in the row's buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    quoted: bool,
    /// Its whole length; more than was kept when it passed the limit.
    len: usize,
}

/// Reads an export body fed in chunks of any size.
#[derive(Debug)]
pub struct ExportReader {
    kind: RecordKind,
    /// For each field position of a row, the column it holds; known once
    /// the header was read.
    order: Option<Vec<usize>>,
    state: State,
    /// The bytes of the row's fields so far (each kept up to the limit).
    bytes: Vec<u8>,
    fields: Vec<Field>,
    /// The field being read: its start in `bytes`, whether it was quoted,
    /// its length so far.
    current: Field,
    /// Whether a row has begun that no line break has ended yet.
    open: bool,
    /// The first bytes of the body, until it is known whether they are a
    /// byte-order mark.
    head: Option<Vec<u8>>,
    /// Data rows ended so far.
    rows: u64,
    content: ExportContent,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl ExportReader {
    /// A reader of an export of `kind` records, adding to `content` (what
    /// earlier parts of the same window held, or nothing).
    pub fn new(kind: RecordKind, content: ExportContent) -> ExportReader {
        ExportReader {
            kind,
            order: None,
            state: State::FieldStart,
            bytes: Vec::new(),
            fields: Vec::new(),
            current: Field {
                start: 0,
                end: 0,
                quoted: false,
                len: 0,
            },
            open: false,
            head: Some(Vec::new()),
            rows: 0,
            content,
        }
    }

    /// Reads the next bytes of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        let Some(mut head) = self.head.take() else {
            return self.feed_csv(chunk);
        };
        // A byte-order mark before the header is no part of it.
        let take = (BOM.len() - head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
        if head.len() < BOM.len() && BOM.starts_with(&head) {
            self.head = Some(head);
            return Ok(());
        }
        if head != BOM {
            self.feed_csv(&head)?;
        }
        self.feed_csv(&chunk[take..])
    }

    /// The end of the body: what it held. A body that ends inside a data
    /// row was cut; a header without its line break is whole (an export of
    /// no records), and so is an empty body.
    pub fn finish(mut self) -> Result<ExportContent, CsvError> {
        if let Some(head) = self.head.take()
            && head != BOM
        {
            self.feed_csv(&head)?;
        }
        if self.state == State::Quoted || (self.open && self.order.is_some()) {
            return Err(CsvError::EndedInsideRow { row: self.rows + 1 });
        }
        if self.open {
            self.end_field()?;
            self.end_row()?;
        }
        Ok(self.content)
    }

    fn feed_csv(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        for &b in chunk {
            match (self.state, b) {
                (State::Quoted, b'"') => self.state = State::AfterQuote,
                (State::Quoted, _) => self.push(b),
                (State::AfterQuote, b'"') => {
                    self.push(b'"');
                    self.state = State::Quoted;
                }
                (State::FieldStart, b'"') => {
                    self.open = true;
                    self.current.quoted = true;
                    self.state = State::Quoted;
                }
                (_, b',') => {
                    self.open = true;
                    self.end_field()?;
                }
                (_, b'\n' | b'\r') => {
                    // A line break that ends no row (a blank line, the LF of
                    // a CRLF) is skipped.
                    if self.open {
                        self.end_field()?;
                        self.end_row()?;
                    }
                }
                (State::AfterQuote, _) => {
                    return Err(self.row_error(format!(
                        "has text after the closing quote of field {}",
                        self.fields.len() + 1
                    )));
                }
                (State::FieldStart | State::Unquoted, _) => {
                    self.open = true;
                    self.state = State::Unquoted;
                    self.push(b);
                }
            }
        }
        Ok(())
    }

    /// The most bytes a field is kept with: a text column's limit, or a
    /// header name's.
    fn field_limit(&self) -> usize {
        if self.order.is_some() {
            MAX_TEXT_BYTES
        } else {
            MAX_HEADER_FIELD
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.current.len += 1;
        if self.current.len <= self.field_limit() {
            self.bytes.push(b);
        }
    }

    fn row_error(&self, message: String) -> CsvError {
        if self.order.is_none() {
            CsvError::Header(message)
        } else {
            CsvError::Row {
                row: self.rows + 1,
                message,
            }
        }
    }

    fn end_field(&mut self) -> Result<(), CsvError> {
        match &self.order {
            Some(order) if self.fields.len() >= order.len() => {
                return Err(self.row_error(format!(
                    "has more than the {} fields of the header",
                    order.len()
                )));
            }
            None if self.fields.len() >= MAX_HEADER_FIELDS => {
                return Err(self.row_error(format!("has more than {MAX_HEADER_FIELDS} fields")));
            }
            _ => {}
        }
        self.current.end = self.bytes.len();
        self.fields.push(self.current);
        self.current = Field {
            start: self.bytes.len(),
            end: self.bytes.len(),
            quoted: false,
            len: 0,
        };
        self.state = State::FieldStart;
        Ok(())
    }

    fn text(&self, f: &Field) -> Result<&str, CsvError> {
        std::str::from_utf8(&self.bytes[f.start..f.end])
            .map_err(|_| self.row_error("holds text that is not UTF-8".into()))
    }

    fn end_row(&mut self) -> Result<(), CsvError> {
        let outcome = match self.order.is_some() {
            false => self.header(),
            true => self.record(),
        };
        self.bytes.clear();
        self.fields.clear();
        self.current.start = 0;
        self.current.end = 0;
        self.open = false;
        self.state = State::FieldStart;
        outcome
    }

    /// The header: each field names one column of the kind, and each column
    /// is named once.
    fn header(&mut self) -> Result<(), CsvError> {
        let columns = self.kind.columns();
        let mut order = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let name = self.text(f)?.trim();
            let shown = || cdr_core::sanitize(name, &[]);
            if f.len > MAX_HEADER_FIELD {
                return Err(CsvError::Header(format!(
                    "has a field name of {} bytes",
                    f.len
                )));
            }
            let Some(i) = self.kind.column_index(name) else {
                return Err(CsvError::Header(format!(
                    "names `{}`, which is no field of {}",
                    shown(),
                    self.kind
                )));
            };
            if order.contains(&i) {
                return Err(CsvError::Header(format!(
                    "names `{}` twice",
                    columns[i].graphql
                )));
            }
            order.push(i);
        }
        let missing: Vec<&str> = (0..columns.len())
            .filter(|i| !order.contains(i))
            .map(|i| columns[i].graphql)
            .collect();
        if !missing.is_empty() {
            return Err(CsvError::Header(format!(
                "lacks {}: cdr-sink compares every field of {}",
                missing.join(", "),
                self.kind
            )));
        }
        self.order = Some(order);
        Ok(())
    }

    /// A data row: its cells into a record, hashed, or counted as one that
    /// cannot be stored.
    fn record(&mut self) -> Result<(), CsvError> {
        let row = self.rows + 1;
        let columns = self.kind.columns();
        if self.fields.len() != columns.len() {
            return Err(CsvError::Row {
                row,
                message: format!(
                    "has {} fields where the header has {}",
                    self.fields.len(),
                    columns.len()
                ),
            });
        }
        let order = self.order.as_deref().unwrap_or_default();
        let mut cells: Vec<Option<&str>> = vec![None; columns.len()];
        let mut too_long = None;
        for (f, &i) in self.fields.iter().zip(order) {
            if f.len > MAX_TEXT_BYTES {
                // Only its first bytes were kept: a value too long to store.
                too_long.get_or_insert((i, f.len));
                continue;
            }
            let text = self.text(f)?;
            let empty_is_null = !f.quoted || columns[i].ty != ColumnType::Utf8;
            cells[i] = (!text.is_empty() || !empty_is_null).then_some(text);
        }
        let outcome = match too_long {
            Some((i, len)) => Err(format!(
                "`{}`: a text of {len} bytes, longer than the limit of {MAX_TEXT_BYTES} bytes",
                columns[i].graphql
            )),
            None => Cdr::from_text(self.kind, &cells, MAX_TEXT_BYTES).map_err(|e| e.to_string()),
        };
        self.rows = row;
        match outcome {
            Ok(record) => self.content.hash.add(&record),
            Err(why) => {
                self.content.unstorable += 1;
                if self.content.first_unstorable.is_none() {
                    self.content.first_unstorable =
                        Some(format!("row {row}: {}", cdr_core::sanitize(&why, &[])));
                }
            }
        }
        Ok(())
    }
}

/// Reads a whole body at once (for tests and small bodies).
pub fn read_all(
    kind: RecordKind,
    version: HashVersion,
    body: &[u8],
) -> Result<ExportContent, CsvError> {
    let mut reader = ExportReader::new(kind, ExportContent::new(version));
    reader.feed(body)?;
    reader.finish()
}

#[cfg(test)]
mod tests;
