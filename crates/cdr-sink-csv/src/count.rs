//! Counting the data rows of a CSV file, for checks after writing: a push
//! parser fed the file's bytes in whatever pieces they arrive, so memory does
//! not grow with the file.

use std::io::Read;

use cdr_sink_api::{ReadError, RowCounter};
use csv_core::{ReadRecordResult, Reader};

/// Why a CSV file's rows could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error(transparent)]
    Csv(#[from] ReadError),
    #[error("reading the CSV file: {0}")]
    Io(#[from] std::io::Error),
}

/// The number of data rows (records after the header) of the CSV file read
/// from `reader`. Quoted fields may span lines; every row must have as many
/// fields as the header, and the text must be well-formed CSV. An empty input
/// has no rows.
pub fn count_rows(mut reader: impl Read) -> Result<u64, CountError> {
    let mut counter = CsvRowCounter::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        counter.feed(&buf[..n])?;
    }
    Ok(Box::new(counter).finish()?)
}

/// Counts the records of a CSV file after its header, checking that each
/// has as many fields as the header.
pub struct CsvRowCounter {
    reader: Reader,
    /// Scratch space for field text, which is not kept.
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Fields of the record being read, so far.
    fields: usize,
    /// Fields of the header, once read.
    header: Option<usize>,
    rows: u64,
    /// Records read, header included (for messages).
    records: u64,
}

impl Default for CsvRowCounter {
    fn default() -> Self {
        CsvRowCounter::new()
    }
}

impl CsvRowCounter {
    pub fn new() -> CsvRowCounter {
        CsvRowCounter {
            reader: Reader::new(),
            out: vec![0; 16 * 1024],
            ends: vec![0; 256],
            fields: 0,
            header: None,
            rows: 0,
            records: 0,
        }
    }

    fn error(message: String) -> ReadError {
        ReadError {
            format: "csv",
            message,
        }
    }

    /// Reads records from `input` (empty at the end of the file).
    fn read(&mut self, mut input: &[u8]) -> Result<bool, ReadError> {
        loop {
            let (result, nin, _, nend) =
                self.reader
                    .read_record(input, &mut self.out, &mut self.ends);
            input = &input[nin..];
            self.fields += nend;
            match result {
                // More input needed, or (at the end) none left.
                ReadRecordResult::InputEmpty => return Ok(false),
                // The field text is not kept: the buffers start over.
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => {
                    self.records += 1;
                    let fields = std::mem::take(&mut self.fields);
                    match self.header {
                        None => self.header = Some(fields),
                        Some(h) if h == fields => self.rows += 1,
                        Some(h) => {
                            return Err(Self::error(format!(
                                "record {} has {fields} fields, the header {h}",
                                self.records
                            )));
                        }
                    }
                }
                ReadRecordResult::End => return Ok(true),
            }
        }
    }
}

impl RowCounter for CsvRowCounter {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), ReadError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.read(chunk).map(|_| ())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, ReadError> {
        // An empty input tells the parser the file ended: a last record
        // without a line break is completed.
        for _ in 0..4 {
            if self.read(&[])? {
                return Ok(self.rows);
            }
        }
        Err(Self::error("the file ends inside a record".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in_pieces(text: &[u8], piece: usize) -> Result<u64, ReadError> {
        let mut c = Box::new(CsvRowCounter::new());
        for chunk in text.chunks(piece.max(1)) {
            c.feed(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn rows_are_counted_whatever_the_pieces() {
        let text = b"a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"\n3,z";
        for piece in [1, 2, 3, 5, 8, 1000] {
            assert_eq!(count_in_pieces(text, piece), Ok(3), "pieces of {piece}");
        }
        assert_eq!(count_in_pieces(b"", 4), Ok(0));
        assert_eq!(count_in_pieces(b"a,b\n", 4), Ok(0));
        let long_field = format!("a\n\"{}\"\n", "x".repeat(100_000));
        assert_eq!(count_in_pieces(long_field.as_bytes(), 777), Ok(1));
    }

    #[test]
    fn a_row_with_another_number_of_fields_is_refused() {
        let e = count_in_pieces(b"a,b\n1,2\n3\n", 3).unwrap_err();
        assert!(
            e.message.contains("record 3 has 1 fields, the header 2"),
            "{e}"
        );
    }
}
