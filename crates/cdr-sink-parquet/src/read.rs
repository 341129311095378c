//! Reading back what a file says about itself, for checks after writing.

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;

/// Why a Parquet file's footer could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are not a complete Parquet file (e.g. no footer).
    #[error("not a readable Parquet file: {0}")]
    Parquet(#[from] ParquetError),
    /// The footer contradicts itself.
    #[error("inconsistent Parquet footer: {0}")]
    Footer(String),
}

/// The number of rows of the Parquet file `bytes`, from its footer metadata
/// (no data pages are read). The file's row count must equal the sum over its
/// row groups.
pub fn parquet_row_count(bytes: Bytes) -> Result<u64, ReadError> {
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&bytes)?;
    let total = metadata.file_metadata().num_rows();
    let groups: i64 = metadata.row_groups().iter().map(|g| g.num_rows()).sum();
    if total != groups {
        return Err(ReadError::Footer(format!(
            "the file says {total} rows but its row groups hold {groups}"
        )));
    }
    u64::try_from(total).map_err(|_| ReadError::Footer(format!("negative row count {total}")))
}

/// How much of a file's end is kept to read its footer: Parquet footers of
/// this project's files are a few KiB, and this bounds the memory for any.
const TAIL: usize = 8 * 1024 * 1024;

/// Counts a Parquet file's rows from its footer, keeping only the file's
/// last bytes while it streams by.
#[derive(Debug)]
pub struct ParquetRowCounter {
    tail: Vec<u8>,
    /// The last bytes kept; [`TAIL`] but in tests.
    keep: usize,
}

impl ParquetRowCounter {
    pub fn new() -> ParquetRowCounter {
        ParquetRowCounter {
            tail: Vec::new(),
            keep: TAIL,
        }
    }
}

impl cdr_sink_api::RowCounter for ParquetRowCounter {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), cdr_sink_api::ReadError> {
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 2 * self.keep {
            let cut = self.tail.len() - self.keep;
            self.tail.drain(..cut);
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<u64, cdr_sink_api::ReadError> {
        parquet_row_count(Bytes::from(self.tail)).map_err(|e| cdr_sink_api::ReadError {
            format: "parquet",
            message: match e {
                ReadError::Parquet(p) => p.to_string(),
                ReadError::Footer(m) => format!("inconsistent footer: {m}"),
            },
        })
    }
}

impl Default for ParquetRowCounter {
    fn default() -> Self {
        ParquetRowCounter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_sink_api::{ColumnSet, Format, RowCounter};

    fn file(rows: usize) -> Vec<u8> {
        let format = crate::ParquetFormat::new(crate::ParquetOptions {
            row_group_rows: std::num::NonZeroUsize::new(1000).unwrap(),
            ..Default::default()
        });
        let mut enc = format
            .encoder(ColumnSet::all(cdr_core::RecordKind::Message))
            .unwrap();
        let start = cdr_core::parse_datetime("2026-11-01T00:00:00Z").unwrap();
        let records: Vec<cdr_core::Cdr> = (0..rows as i64)
            .map(|i| {
                cdr_core::Cdr::Message(cdr_core::MessageCdr {
                    datetime: start + cdr_core::chrono::TimeDelta::milliseconds(i * 7919),
                    // Distinct numbers, so that the file is not tiny.
                    from_number: Some(
                        format!("+1{:010}", i.wrapping_mul(2_654_435_761) % 9_999_999_999).into(),
                    ),
                    to_number: Some(
                        format!("+4{:010}", i.wrapping_mul(40_503) % 9_999_999_999).into(),
                    ),
                    direction: None,
                    status: None,
                    charge: None,
                    r#type: None,
                })
            })
            .collect();
        let mut out = Vec::new();
        for page in records.chunks(100) {
            enc.encode(page).unwrap();
            out.extend(enc.take_ready());
        }
        out.extend(enc.finish().unwrap());
        out
    }

    fn count(bytes: &[u8], chunk: usize, keep: usize) -> Result<u64, cdr_sink_api::ReadError> {
        let mut c = Box::new(ParquetRowCounter {
            tail: Vec::new(),
            keep,
        });
        for piece in bytes.chunks(chunk) {
            c.feed(piece)?;
        }
        c.finish()
    }

    #[test]
    fn rows_come_from_the_footer_in_a_bounded_tail() {
        let bytes = file(20_000);
        // Only the last 16 KiB (up to twice that) of a larger file are kept.
        assert!(bytes.len() > 4 * 16_384, "{}", bytes.len());
        assert_eq!(count(&bytes, 4096, 16_384), Ok(20_000));
        let cut = count(&bytes[..bytes.len() - 1], 4096, 16_384).unwrap_err();
        assert_eq!(cut.format, "parquet");
    }
}
