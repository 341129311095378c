//! `cdr-sink-csv`: the CSV [`Format`] for CDRs, and a row counter.
//!
//! What it is: a [`CsvFormat`] whose encoders turn [`Cdr`]s of one record kind
//! into an RFC 4180 CSV file, UTF-8 without a byte-order mark:
//!
//! - a header row of the snake_case column names
//!   ([`Column::name`](cdr_core::Column)), in [`ColumnSet`] order;
//! - timestamps as RFC 3339 in UTC with `Z`, keeping every non-zero fractional
//!   digit ([`format_datetime`](cdr_core::format_datetime), e.g.
//!   `2026-11-01T00:00:00.123456Z`);
//! - decimals exactly, at their own scale (`0.00350` stays `0.00350`);
//!   integers as plain digits;
//! - a null as an empty cell, and the empty string as `""`;
//! - fields with a comma, double quote, CR, LF or leading/trailing whitespace
//!   in double quotes, inner quotes doubled;
//! - every row (the header too) ends with a single LF (`\n`), not CRLF: the
//!   query engines and CSV readers it is written for all accept LF, and it is
//!   what Unix tools expect. Line breaks inside quoted text are kept as they are.
//!
//! [`count_rows`] counts the data rows of such a file, with quoted line breaks;
//! [`CsvLines`] counts the records of CSV text streaming by (an export
//! download), checking nothing.
//!
//! What it is not: it knows nothing of where bytes go (destinations), of
//! GraphQL or HTTP, and does no I/O.
//!
//! # Which crates to embed
//!
//! The public API for embedders is `cdr-core` (the model), `cdr-transport` (the
//! API client), `cdr-sink-api` (the `Format` and `Destination` traits),
//! `cdr-sink-parquet` and `cdr-sink-csv` (the formats), `cdr-sink-local` and
//! `cdr-sink-s3` (the destinations) and `cdr-sink` (the archiver as a library).
//! Tools not meant for embedding: `cdr-sim` (the simulator, usable in
//! embedders' tests), `cdr-testkit` and `cdr-fuzz` (this workspace's test
//! support) and `xtask` (its build tasks). Programs to copy are the examples of
//! `cdr-transport` (`stream`), `cdr-sink-parquet` (`encode`) and `cdr-sink`
//! (`library`).
//!
//! This crate is public API: encode records from any source into CSV files with
//! it; `cdr-sink` writes its CSV files through it.
//!
//! # Example
//!
//! ```
//! use cdr_core::{Cdr, MessageCdr, RecordKind, parse_datetime, parse_decimal};
//! use cdr_sink_api::{ColumnSet, Format};
//! use cdr_sink_csv::{CsvFormat, count_rows};
//!
//! let mut encoder = CsvFormat::new().encoder(ColumnSet::all(RecordKind::Message))?;
//! let records: Vec<Cdr> = (0..3)
//!     .map(|i| {
//!         Ok(Cdr::Message(MessageCdr {
//!             datetime: parse_datetime(&format!("2026-11-01T00:00:0{i}Z"))?,
//!             from_number: Some("15551230000".into()),
//!             to_number: None,
//!             direction: Some("outbound".into()),
//!             status: Some("delivered, late".into()),
//!             charge: Some(parse_decimal("0.00350")?),
//!             r#type: Some("SMS".into()),
//!         }))
//!     })
//!     .collect::<Result<_, cdr_core::ValueError>>()?;
//! encoder.encode(&records)?;
//!
//! let mut file = encoder.take_ready();
//! file.extend(encoder.finish()?);
//! let text = String::from_utf8(file)?;
//! assert_eq!(
//!     text.lines().take(2).collect::<Vec<_>>(),
//!     [
//!         "datetime,from_number,to_number,direction,status,charge,type",
//!         "2026-11-01T00:00:00Z,15551230000,,outbound,\"delivered, late\",0.00350,SMS",
//!     ]
//! );
//! assert_eq!(count_rows(text.as_bytes())?, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod count;
mod encoder;
mod lines;

use cdr_sink_api::{ColumnSet, EncodeError, Encoder, Format};

#[cfg(doc)]
use cdr_core::Cdr;

pub use count::{CountError, CsvRowCounter, count_rows};
pub use encoder::{CsvEncoder, write_text_field};
pub use lines::CsvLines;

/// The CSV file format.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct CsvFormat;

impl CsvFormat {
    /// The format, as described in the [crate] documentation.
    pub fn new() -> CsvFormat {
        CsvFormat
    }

    /// Like [`Format::encoder`], with the concrete encoder type.
    pub fn csv_encoder(&self, columns: ColumnSet) -> Result<CsvEncoder, EncodeError> {
        CsvEncoder::new(columns)
    }
}

impl Format for CsvFormat {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn extension(&self) -> &'static str {
        "csv"
    }

    fn content_type(&self) -> &'static str {
        "text/csv; charset=utf-8"
    }

    fn encoder(&self, columns: ColumnSet) -> Result<Box<dyn Encoder>, EncodeError> {
        Ok(Box::new(self.csv_encoder(columns)?))
    }

    fn row_counter(&self) -> Box<dyn cdr_sink_api::RowCounter> {
        Box::new(CsvRowCounter::new())
    }
}
