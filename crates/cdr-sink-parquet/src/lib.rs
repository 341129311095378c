//! `cdr-sink-parquet`: the Parquet [`Format`] for CDRs.
//!
//! What it is: a [`ParquetFormat`] whose encoders turn [`Cdr`]s of one record
//! kind into a Parquet file, built from typed Arrow columns (no JSON or serde
//! bridge). The schema comes from cdr-core's column schema through the
//! [`ColumnSet`]:
//!
//! | cdr-core type | Arrow type | Parquet type |
//! |---|---|---|
//! | `Timestamp` | `Timestamp(Microsecond, "UTC")` | `INT64 TIMESTAMP(MICROS, isAdjustedToUTC)` |
//! | `Decimal` | `Decimal128(38, 10)` | `FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38, 10)` |
//! | `Int64` | `Int64` | `INT64` |
//! | `Utf8` | `Utf8` | `BYTE_ARRAY STRING` |
//!
//! Column names are the snake_case [`Column::name`](cdr_core::Column)s and
//! nullability is as in the schema (`datetime` is required). Values that the
//! types cannot hold exactly are an [`EncodeError::Value`] naming the column,
//! never rounded or truncated: a decimal with more than
//! [`MONEY_SCALE`](cdr_core::MONEY_SCALE) non-zero decimal places or more than
//! 28 integer digits, a timestamp with sub-microsecond precision or on a leap
//! second.
//!
//! Files are zstd-compressed (level 1) with page-level statistics (not for
//! phone numbers and call ids, whose minimum and maximum never let a reader
//! skip anything), and hold row groups of at most
//! [`ParquetOptions::row_group_rows`] rows (64 Ki by default) and
//! [`ParquetOptions::row_group_bytes`] estimated encoded bytes (1 MiB by
//! default). Memory per encoder is bounded by one row group: bytes come out
//! through [`Encoder::take_ready`] as each row group completes. Each file's
//! footer carries the record kind and schema version as key-value metadata.
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
//! This crate is public API: encode records from any source into Parquet files
//! with it (the `encode` example); `cdr-sink` writes its Parquet files through
//! it.
//!
//! # Example
//!
//! ```
//! use cdr_core::{Cdr, MessageCdr, RecordKind, parse_datetime, parse_decimal};
//! use cdr_sink_api::{ColumnSet, Format};
//! use cdr_sink_parquet::{ParquetFormat, ParquetOptions, parquet_row_count};
//!
//! let format = ParquetFormat::new(ParquetOptions::default());
//! let mut encoder = format.encoder(ColumnSet::all(RecordKind::Message))?;
//! let records: Vec<Cdr> = (0..3)
//!     .map(|i| {
//!         Ok(Cdr::Message(MessageCdr {
//!             datetime: parse_datetime(&format!("2026-11-01T00:00:0{i}Z"))?,
//!             from_number: Some("15551230000".into()),
//!             to_number: Some("15557650000".into()),
//!             direction: Some("outbound".into()),
//!             status: Some("delivered".into()),
//!             charge: Some(parse_decimal("0.00350")?),
//!             r#type: Some("SMS".into()),
//!         }))
//!     })
//!     .collect::<Result<_, cdr_core::ValueError>>()?;
//! encoder.encode(&records)?;
//!
//! let mut file = encoder.take_ready();
//! file.extend(encoder.finish()?);
//! assert_eq!(encoder.rows(), 3);
//! assert_eq!(encoder.size_estimate(), file.len() as u64);
//! assert_eq!(parquet_row_count(file.into())?, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod convert;
mod encoder;
mod options;
mod properties;
mod read;
mod schema;

use cdr_sink_api::{ColumnSet, EncodeError, Encoder, Format};

#[cfg(doc)]
use cdr_core::Cdr;

pub use batch::{BATCH_ROWS, record_batch};
pub use convert::MAX_TEXT_BYTES;
pub use encoder::ParquetEncoder;
pub use options::{
    Compression, DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL,
    InvalidZstdLevel, ParquetOptions, ZstdLevel,
};
pub use properties::{METADATA_RECORD_KIND, METADATA_SCHEMA_VERSION, PAGE_ROWS};
pub use read::{ParquetRowCounter, ReadError, parquet_row_count};
pub use schema::{TIMESTAMP_TZ, arrow_field, arrow_schema, arrow_type};

/// The Parquet file format.
#[derive(Debug, Clone, Default)]
pub struct ParquetFormat {
    options: ParquetOptions,
}

impl ParquetFormat {
    /// A format writing files as `options` say.
    pub fn new(options: ParquetOptions) -> ParquetFormat {
        ParquetFormat { options }
    }

    /// The options files are written with.
    pub fn options(&self) -> &ParquetOptions {
        &self.options
    }

    /// Like [`Format::encoder`], with the concrete encoder type.
    pub fn parquet_encoder(&self, columns: ColumnSet) -> Result<ParquetEncoder, EncodeError> {
        ParquetEncoder::new(&self.options, columns)
    }
}

impl Format for ParquetFormat {
    fn name(&self) -> &'static str {
        "parquet"
    }

    fn extension(&self) -> &'static str {
        "parquet"
    }

    fn content_type(&self) -> &'static str {
        "application/vnd.apache.parquet"
    }

    fn encoder(&self, columns: ColumnSet) -> Result<Box<dyn Encoder>, EncodeError> {
        Ok(Box::new(self.parquet_encoder(columns)?))
    }

    fn row_counter(&self) -> Box<dyn cdr_sink_api::RowCounter> {
        Box::new(read::ParquetRowCounter::default())
    }
}
