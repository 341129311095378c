//! How files are written: the Parquet writer's properties for a column set
//! (compression, row groups, small pages, statistics, dictionaries and
//! compression per column) and the key-value metadata every footer carries.

use cdr_core::{Column, ColumnType, SCHEMA_VERSION};
use cdr_sink_api::ColumnSet;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::options::ParquetOptions;

/// Key-value metadata keys written into every file's footer.
pub const METADATA_RECORD_KIND: &str = "cdr.record_kind";
/// See [`METADATA_RECORD_KIND`].
pub const METADATA_SCHEMA_VERSION: &str = "cdr.schema_version";

/// Rows per data page. Small next to a row group, so the uncompressed pages
/// and the compressor's workspace (sized by the page) add little to the
/// encoder's memory: 4096 rows instead of 8192 cut the archiver's peak RSS by
/// about 4 MB (SMS) and 9 MB (VOICE) at four units, with files of the same
/// size; 2048 cost CPU and saved nothing more. A multiple of
/// [`BATCH_ROWS`](crate::BATCH_ROWS), since the writer ends a page only
/// between batches.
pub const PAGE_ROWS: usize = 4096;

/// Columns whose values are nearly unique per record: phone numbers and call
/// ids.
const NEARLY_UNIQUE: [&str; 8] = [
    "from",
    "destination",
    "from_number",
    "to_number",
    "call_id",
    "source_ani",
    "destination_number",
    "did_used",
];

/// Whether a column is worth a dictionary. A dictionary stores each distinct
/// value once and the rows as small indices: it shrinks text columns of few
/// distinct values (statuses, directions, types) and small integers before
/// compression. Nearly unique text (phone numbers, call ids) and instants gain
/// nothing from one, yet every value is hashed and looked up, and the writer
/// gives the dictionary up anyway once it outgrows its page. Money is 16 bytes
/// per value, whose dictionary lookups cost more than they save once pages are
/// compressed (about 2% of file size, a fifth of the encoder's time without
/// compression, measured on the simulator's pages). These are written plain.
fn dictionary_pays(column: &Column) -> bool {
    match column.ty {
        ColumnType::Utf8 => !NEARLY_UNIQUE.contains(&column.name),
        ColumnType::Int64 => true,
        ColumnType::Timestamp | ColumnType::Decimal => false,
    }
}

/// Whether a column's pages are worth compressing: not those of a
/// dictionary column, whose pages hold small integers already packed into a
/// few bits each, which zstd shrinks by a few percent at best (VOICE files
/// grow by 1.8% without it, SMS files by 1.2%). Every compressed column costs
/// the writer a zstd compressor and a decompressor it never uses (together
/// about 240 KB resident per column of every open file), so four of VOICE's
/// eleven columns go uncompressed and four units hold 3.8 MB less (measured
/// with `examples/memory.rs`).
fn compression_pays(column: &Column) -> bool {
    !dictionary_pays(column)
}

impl ParquetOptions {
    /// The Parquet writer's properties that [`ParquetEncoder`](crate::ParquetEncoder)s
    /// write files of `columns` with: per-column dictionaries, compression and
    /// statistics, row-group limits, page size and the footer's key-value
    /// metadata. An [`ArrowWriter`](parquet::arrow::ArrowWriter) given these
    /// and the batches of [`record_batch`](crate::record_batch) (at most
    /// [`BATCH_ROWS`](crate::BATCH_ROWS) rows each) writes the same bytes as
    /// an encoder given the same records.
    ///
    /// ```
    /// use cdr_core::{Cdr, MessageCdr, RecordKind, parse_datetime};
    /// use cdr_sink_api::ColumnSet;
    /// use cdr_sink_parquet::{ParquetOptions, arrow_schema, parquet_row_count, record_batch};
    /// use parquet::arrow::ArrowWriter;
    ///
    /// let columns = ColumnSet::all(RecordKind::Message);
    /// let sms = Cdr::Message(MessageCdr {
    ///     datetime: parse_datetime("2026-11-01T00:00:00Z")?,
    ///     from_number: Some("15551230000".into()),
    ///     to_number: None,
    ///     direction: Some("outbound".into()),
    ///     status: None,
    ///     charge: None,
    ///     r#type: Some("SMS".into()),
    /// });
    /// let props = ParquetOptions::default().writer_properties(&columns);
    /// let mut writer = ArrowWriter::try_new(Vec::new(), arrow_schema(&columns), Some(props))?;
    /// writer.write(&record_batch(&columns, &[sms])?)?;
    /// let file = writer.into_inner()?;
    /// assert_eq!(parquet_row_count(file.into())?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer_properties(&self, columns: &ColumnSet) -> WriterProperties {
        let mut props = WriterProperties::builder();
        for (_, column) in columns.iter() {
            if !dictionary_pays(column) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(column.name), false);
            }
            if !compression_pays(column) {
                props = props.set_column_compression(
                    ColumnPath::from(column.name),
                    parquet::basic::Compression::UNCOMPRESSED,
                );
            }
            if NEARLY_UNIQUE.contains(&column.name) {
                // Min and max of random phone numbers or call ids span
                // everything, so they never let a reader skip a page, yet
                // every value is compared twice to keep them.
                props = props.set_column_statistics_enabled(
                    ColumnPath::from(column.name),
                    EnabledStatistics::None,
                );
            }
        }
        props
            .set_compression(self.compression.to_parquet())
            .set_max_row_group_row_count(Some(self.row_group_rows.get()))
            .set_max_row_group_bytes(self.row_group_bytes.map(|b| b.get()))
            .set_statistics_enabled(EnabledStatistics::Page)
            // Small pages: each page is compressed as it fills, so the writer
            // holds little uncompressed data, the size estimate rests on
            // compressed bytes early in a file, and readers that skip pages by
            // their statistics skip finer.
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_key_value_metadata(Some(vec![
                KeyValue::new(
                    METADATA_RECORD_KIND.to_string(),
                    columns.kind().typename().to_string(),
                ),
                KeyValue::new(
                    METADATA_SCHEMA_VERSION.to_string(),
                    SCHEMA_VERSION.to_string(),
                ),
            ]))
            .build()
    }
}
