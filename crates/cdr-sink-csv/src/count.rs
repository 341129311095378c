//! Counting the data rows of a CSV file, for checks after writing.

use std::io::Read;

/// Why a CSV file's rows could not be counted.
#[derive(Debug, thiserror::Error)]
#[error("not a readable CSV file: {0}")]
pub struct CountError(#[from] csv::Error);

/// The number of data rows (records after the header) of the CSV file read
/// from `reader`. Quoted fields may span lines; every row must have as many
/// fields as the header, and the text must be well-formed CSV. An empty input
/// has no rows.
pub fn count_rows(reader: impl Read) -> Result<u64, CountError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while csv.read_byte_record(&mut record)? {
        rows += 1;
    }
    Ok(rows)
}
