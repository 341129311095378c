//! Counting the records of CSV text as it streams by, for export downloads:
//! how many records a body held, and whether it ended inside one (a body cut
//! short). Unlike [`CsvRowCounter`](crate::CsvRowCounter) it checks nothing
//! and never fails: an export's text is the server's, and is stored as sent.
//!
//! Records are counted as the `csv` crate (and so `cdr-sink verify`) reads
//! them: blank lines are no records, CR, LF and CRLF each end a record, and a
//! quote opens a quoted field only at the field's start (inside a field it is
//! text). The `cdr-fuzz` target `csv_lines` checks the count against the
//! `csv` crate's.

/// Where the counter is in the CSV grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// At the start of a field (or of a record).
    #[default]
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote that ends a quoted field, or doubles one.
    AfterQuote,
}

/// Counts CSV records in a stream of chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvLines {
    state: State,
    rows: u64,
    /// Whether a record has begun that no line break has ended yet.
    open_line: bool,
}

impl CsvLines {
    /// A counter that has seen nothing.
    pub fn new() -> CsvLines {
        CsvLines::default()
    }

    /// The next bytes of the text.
    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            self.state = match (self.state, b) {
                (State::Quoted, b'"') => State::AfterQuote,
                (State::Quoted, _) => State::Quoted,
                (State::FieldStart | State::AfterQuote, b'"') => State::Quoted,
                (_, b',') => State::FieldStart,
                (_, b'\n' | b'\r') => {
                    // A line break that ends no record (a blank line, the LF
                    // of a CRLF) is skipped.
                    if self.open_line {
                        self.rows += 1;
                        self.open_line = false;
                    }
                    self.state = State::FieldStart;
                    continue;
                }
                _ => State::Unquoted,
            };
            self.open_line = true;
        }
    }

    /// Records ended by a line break so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the text so far ends inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.state == State::Quoted
    }

    /// Whether the text so far ends with a record not (yet) ended by a line
    /// break.
    pub fn open_line(&self) -> bool {
        self.open_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_outside_quotes_across_chunks() {
        let mut c = CsvLines::new();
        for chunk in [
            &b"a,\"x\n"[..],
            b"y\",1\nb,2\n",
            b"c,\"\"\"q\"\"\"\n",
            b"d,4",
        ] {
            c.feed(chunk);
        }
        assert_eq!(c.rows(), 3);
        assert!(c.open_line());
        c.feed(b"\n");
        assert_eq!(c.rows(), 4);
        assert!(!c.open_line());
    }

    fn count(text: &[u8]) -> (u64, bool, bool) {
        let mut c = CsvLines::new();
        c.feed(text);
        (c.rows(), c.open_line(), c.in_quotes())
    }

    #[test]
    fn records_are_counted_as_csv_readers_read_them() {
        // Blank lines are no records.
        assert_eq!(count(b"\n"), (0, false, false));
        assert_eq!(count(b"a\n\n\r\nb\n"), (2, false, false));
        // A lone CR ends a record, and CRLF ends one.
        assert_eq!(count(b"a\rb\r\nc"), (2, true, false));
        // A quote inside an unquoted field is text, not the start of a quote.
        assert_eq!(count(b"a\"b\nc\n"), (2, false, false));
        // A quoted field holds line breaks until it closes.
        assert_eq!(count(b"\"a\nb"), (0, true, true));
        assert_eq!(count(b"\"a\nb\""), (0, true, false));
    }
}
