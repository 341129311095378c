//! Counting the lines of CSV text as it streams by, for export downloads: how
//! many records a body held, and whether it ended inside one (a body cut
//! short). Unlike [`CsvRowCounter`](crate::CsvRowCounter) it checks nothing
//! and never fails: an export's text is the server's, and is stored as sent.

/// Counts CSV records (line breaks outside quotes) in a stream of chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvLines {
    in_quotes: bool,
    rows: u64,
    /// Whether bytes were seen since the last record's line break.
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
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    self.rows += 1;
                    self.open_line = false;
                    continue;
                }
                _ => {}
            }
            self.open_line = true;
        }
    }

    /// Records ended by a line break so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the text so far ends inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.in_quotes
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
}
