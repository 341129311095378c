//! The Parquet [`Encoder`]: typed Arrow builders per column, a record batch
//! every [`BATCH_ROWS`] rows, an [`ArrowWriter`] over a buffer that
//! [`Encoder::take_ready`] drains.

use std::mem;
use std::ops::Range;

use arrow_array::builder::{
    Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use cdr_core::{Cdr, Column, ColumnType, MONEY_PRECISION, SCHEMA_VERSION};
use cdr_sink_api::{ColumnSet, EncodeError, Encoder};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

use crate::convert::{Cell, cell, format_error};
use crate::options::ParquetOptions;
use crate::schema::{DECIMAL_SCALE, TIMESTAMP_TZ, arrow_schema};

/// Rows collected in the column builders before they become one record batch
/// for the writer, and rows per data page. Small next to a row group, so the
/// builders, the uncompressed pages and the compressor's workspace (sized by
/// the page) add little to the encoder's memory: 4096 rows instead of 8192
/// cut the archiver's peak RSS by about 4 MB (SMS) and 9 MB (VOICE) at four
/// units, with files of the same size; 2048 cost CPU and saved nothing more.
pub const BATCH_ROWS: usize = 4096;

/// Text bytes collected in the builders before a batch is written early, so
/// that very long text cannot grow the builders without bound.
const BATCH_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// Key-value metadata keys written into every file's footer.
pub const METADATA_RECORD_KIND: &str = "cdr.record_kind";
/// See [`METADATA_RECORD_KIND`].
pub const METADATA_SCHEMA_VERSION: &str = "cdr.schema_version";

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

/// The typed builder of one column.
#[derive(Debug)]
enum Builder {
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder),
    Int64(Int64Builder),
    Utf8(StringBuilder),
}

impl Builder {
    fn new(ty: ColumnType, rows: usize) -> Result<Builder, EncodeError> {
        Ok(match ty {
            ColumnType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(TIMESTAMP_TZ),
            ),
            ColumnType::Decimal => Builder::Decimal(
                Decimal128Builder::with_capacity(rows)
                    .with_precision_and_scale(MONEY_PRECISION, DECIMAL_SCALE)
                    .map_err(format_error)?,
            ),
            ColumnType::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Utf8 => Builder::Utf8(StringBuilder::with_capacity(rows, 0)),
        })
    }

    /// Appends rows `range` of a staged column of this builder's type.
    fn extend(&mut self, column: &Staged<'_>, range: Range<usize>) -> Result<(), EncodeError> {
        match (self, column) {
            (Builder::Timestamp(b), Staged::Timestamp(v)) => b.extend(v[range].iter().copied()),
            (Builder::Decimal(b), Staged::Decimal(v)) => b.extend(v[range].iter().copied()),
            (Builder::Int64(b), Staged::Int64(v)) => b.extend(v[range].iter().copied()),
            (Builder::Utf8(b), Staged::Utf8(v)) => b.extend(v[range].iter().copied()),
            (b, _) => {
                return Err(format_error(format!(
                    "internal: staged values do not fit a {b:?} builder"
                )));
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Utf8(b) => Arc::new(b.finish()),
        }
    }

    /// Unencoded bytes per row, text excluded.
    fn fixed_width(&self) -> usize {
        match self {
            Builder::Timestamp(_) | Builder::Int64(_) => 8,
            Builder::Decimal(_) => 16,
            Builder::Utf8(_) => 4,
        }
    }
}

/// One column of the records of an [`Encoder::encode`] call, converted and
/// checked before anything is appended (calls are all-or-nothing).
enum Staged<'a> {
    Timestamp(Vec<Option<i64>>),
    Decimal(Vec<Option<i128>>),
    Int64(Vec<Option<i64>>),
    Utf8(Vec<Option<&'a str>>),
}

impl<'a> Staged<'a> {
    fn new(b: &ColumnBuffer, records: &'a [Cdr]) -> Result<Staged<'a>, EncodeError> {
        Ok(match b.column.ty {
            ColumnType::Timestamp => Staged::Timestamp(values(b, records, |c| match c {
                Cell::Timestamp(t) => Some(t),
                _ => None,
            })?),
            ColumnType::Decimal => Staged::Decimal(values(b, records, |c| match c {
                Cell::Decimal(d) => Some(d),
                _ => None,
            })?),
            ColumnType::Int64 => Staged::Int64(values(b, records, |c| match c {
                Cell::Int64(i) => Some(i),
                _ => None,
            })?),
            ColumnType::Utf8 => Staged::Utf8(values(b, records, |c| match c {
                Cell::Str(s) => Some(s),
                _ => None,
            })?),
        })
    }
}

/// The values of column `b` of every record, converted and checked; `pick`
/// takes the value out of a cell of the column's type.
fn values<'a, T>(
    b: &ColumnBuffer,
    records: &'a [Cdr],
    pick: impl Fn(Cell<'a>) -> Option<T>,
) -> Result<Vec<Option<T>>, EncodeError> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        out.push(match cell(b.column, r.value(b.index))? {
            Cell::Null => None,
            c => Some(pick(c).ok_or_else(|| {
                format_error(format!("internal: {c:?} in a {:?} column", b.column.ty))
            })?),
        });
    }
    Ok(out)
}

/// Every value of `records` for the columns of `buffers`, converted column by
/// column, or the reason one cannot be.
fn stage<'a>(
    columns: &ColumnSet,
    buffers: &[ColumnBuffer],
    records: &'a [Cdr],
) -> Result<Vec<Staged<'a>>, EncodeError> {
    if let Some(r) = records.iter().find(|r| r.kind() != columns.kind()) {
        return Err(EncodeError::WrongKind {
            expected: columns.kind(),
            got: r.kind(),
        });
    }
    buffers.iter().map(|b| Staged::new(b, records)).collect()
}

/// The records as one Arrow record batch with the schema of
/// [`arrow_schema`]`(columns)`, built with the encoder's typed builders and
/// checks (exact decimals, whole microseconds): Arrow data for embedders that
/// want no file.
///
/// ```
/// use cdr_core::{Cdr, MessageCdr, RecordKind, parse_datetime, parse_decimal};
/// use cdr_sink_api::ColumnSet;
///
/// let sms = Cdr::Message(MessageCdr {
///     datetime: parse_datetime("2026-11-01T00:00:00.000001Z")?,
///     from_number: Some("+15551234567".into()),
///     to_number: None,
///     direction: Some("outbound".into()),
///     status: Some("delivered".into()),
///     charge: Some(parse_decimal("0.0035")?),
///     r#type: Some("SMS".into()),
/// });
/// let batch = cdr_sink_parquet::record_batch(&ColumnSet::all(RecordKind::Message), &[sms])?;
/// assert_eq!((batch.num_rows(), batch.num_columns()), (1, 7));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn record_batch(columns: &ColumnSet, records: &[Cdr]) -> Result<RecordBatch, EncodeError> {
    if columns.is_empty() {
        return Err(format_error("no columns are selected; select at least one"));
    }
    let mut buffers = columns
        .iter()
        .map(|(index, column)| {
            Ok(ColumnBuffer {
                index,
                column,
                builder: Builder::new(column.ty, records.len())?,
            })
        })
        .collect::<Result<Vec<_>, EncodeError>>()?;
    let staged = stage(columns, &buffers, records)?;
    // Arrow text offsets are 32-bit: one column holds less than 2 GiB.
    for column in &staged {
        if let Staged::Utf8(v) = column {
            let text: usize = v.iter().map(|s| s.map_or(0, str::len)).sum();
            if i32::try_from(text).is_err() {
                return Err(format_error(format!(
                    "{text} bytes of text in one column do not fit one Arrow batch; pass fewer records"
                )));
            }
        }
    }
    let arrays = buffers
        .iter_mut()
        .zip(&staged)
        .map(|(b, column)| {
            b.builder.extend(column, 0..records.len())?;
            Ok(b.builder.finish())
        })
        .collect::<Result<Vec<_>, EncodeError>>()?;
    RecordBatch::try_new(arrow_schema(columns), arrays).map_err(format_error)
}

/// Text bytes of each of `rows` staged rows.
fn row_text(staged: &[Staged<'_>], rows: usize) -> Vec<usize> {
    let mut text = vec![0; rows];
    for column in staged {
        if let Staged::Utf8(v) = column {
            for (t, s) in text.iter_mut().zip(v) {
                *t += s.map_or(0, str::len);
            }
        }
    }
    text
}

#[derive(Debug)]
struct ColumnBuffer {
    /// Index into `RecordKind::columns`, what `Cdr::value` takes.
    index: usize,
    column: &'static Column,
    builder: Builder,
}

#[derive(Debug)]
enum State {
    Open(Box<ArrowWriter<Vec<u8>>>),
    /// The writer failed; its message is repeated to every later call.
    Failed(String),
    Finished,
}

/// Encodes the records of one Parquet file.
///
/// Records go into typed Arrow builders; every [`BATCH_ROWS`] rows they
/// become a record batch for the Parquet writer, which keeps the pages of the
/// current row group in memory and writes them out when the group is full.
/// [`Encoder::take_ready`] hands out what has been written, so memory is
/// bounded by one row group plus one batch, never by the file.
///
/// Each [`Encoder::encode`] call is all-or-nothing: every record is checked
/// before any is appended, so a rejected call leaves the file as it was. If
/// the Parquet writer itself fails, every later call returns that error.
///
/// [`Encoder::size_estimate`] never decreases while records are added. Once a
/// row group is finished it counts the bytes written plus the remaining rows
/// at the bytes per row of the finished groups, which is close to the final
/// size. Within the first row group it relies on the writer's estimate, which
/// counts part of the data before compression and so is pessimistic (up to a
/// few times the compressed size of that group). After [`Encoder::finish`]
/// it is the exact file size.
#[derive(Debug)]
pub struct ParquetEncoder {
    columns: ColumnSet,
    schema: SchemaRef,
    buffers: Vec<ColumnBuffer>,
    state: State,
    /// Rows in the builders, not yet given to the writer.
    pending_rows: usize,
    /// Text bytes in the builders.
    pending_text: usize,
    /// Unencoded bytes per pending row, text excluded.
    row_width: usize,
    rows: u64,
    /// Bytes handed out by `take_ready` and `finish`.
    handed_out: u64,
    /// The largest size estimate so far, which keeps estimates monotonic.
    estimate: u64,
}

impl ParquetEncoder {
    pub(crate) fn new(
        options: &ParquetOptions,
        columns: ColumnSet,
    ) -> Result<ParquetEncoder, EncodeError> {
        if columns.is_empty() {
            return Err(format_error("no columns are selected; select at least one"));
        }
        let schema = arrow_schema(&columns);
        let mut props = WriterProperties::builder();
        for (_, column) in columns.iter() {
            if !dictionary_pays(column) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(column.name), false);
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
        let props = props
            .set_compression(options.compression.to_parquet())
            .set_max_row_group_row_count(Some(options.row_group_rows.get()))
            .set_max_row_group_bytes(options.row_group_bytes.map(|b| b.get()))
            .set_statistics_enabled(EnabledStatistics::Page)
            // Pages of at most one batch: each page is compressed as it
            // fills, so the writer holds little uncompressed data, the size
            // estimate rests on compressed bytes early in a file, and readers
            // that skip pages by their statistics skip finer.
            .set_data_page_row_count_limit(BATCH_ROWS)
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
            .build();
        let writer =
            ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).map_err(format_error)?;
        let buffers = columns
            .iter()
            .map(|(index, column)| {
                Ok(ColumnBuffer {
                    index,
                    column,
                    builder: Builder::new(column.ty, BATCH_ROWS)?,
                })
            })
            .collect::<Result<Vec<_>, EncodeError>>()?;
        let row_width = buffers.iter().map(|b| b.builder.fixed_width()).sum();
        let mut encoder = ParquetEncoder {
            columns,
            schema,
            buffers,
            state: State::Open(Box::new(writer)),
            pending_rows: 0,
            pending_text: 0,
            row_width,
            rows: 0,
            handed_out: 0,
            estimate: 0,
        };
        encoder.estimate = encoder.current_estimate();
        Ok(encoder)
    }

    /// The columns this encoder writes.
    pub fn columns(&self) -> &ColumnSet {
        &self.columns
    }

    /// Bytes held in memory now: the writer's in-progress row group, its
    /// output not yet taken, and the unencoded rows in the builders.
    pub fn memory_size(&self) -> u64 {
        match &self.state {
            State::Open(w) => (w.memory_size() + w.inner().len() + self.pending_bytes()) as u64,
            State::Failed(_) | State::Finished => 0,
        }
    }

    fn pending_bytes(&self) -> usize {
        self.pending_rows * self.row_width + self.pending_text
    }

    fn writer(&mut self) -> Result<&mut ArrowWriter<Vec<u8>>, EncodeError> {
        match &mut self.state {
            State::Open(w) => Ok(w),
            State::Failed(m) => Err(format_error(m.clone())),
            State::Finished => Err(EncodeError::Finished),
        }
    }

    /// Keeps the writer's error for every later call, and returns it.
    fn fail(&mut self, e: EncodeError) -> EncodeError {
        self.state = State::Failed(e.to_string());
        e
    }

    /// Every value of `records`, converted column by column, or the reason
    /// one cannot be; nothing is appended yet.
    fn stage<'a>(&self, records: &'a [Cdr]) -> Result<Vec<Staged<'a>>, EncodeError> {
        stage(&self.columns, &self.buffers, records)
    }

    /// Appends rows `range` of staged columns to the builders.
    fn append(&mut self, staged: &[Staged<'_>], range: Range<usize>) -> Result<(), EncodeError> {
        for (b, column) in self.buffers.iter_mut().zip(staged) {
            b.builder.extend(column, range.clone())?;
        }
        let rows = range.len();
        self.pending_rows += rows;
        self.rows += rows as u64;
        Ok(())
    }

    /// Gives the builders' rows to the writer as one record batch.
    fn write_batch(&mut self) -> Result<(), EncodeError> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let arrays = self
            .buffers
            .iter_mut()
            .map(|b| b.builder.finish())
            .collect();
        self.pending_rows = 0;
        self.pending_text = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(format_error);
        let written = batch.and_then(|batch| self.writer()?.write(&batch).map_err(format_error));
        written.map_err(|e| self.fail(e))
    }

    /// The file size so far: bytes written, plus the rows not yet in a
    /// finished row group at the bytes per row of the finished ones. Before
    /// the first row group is finished, the writer's own estimate of its
    /// in-progress group stands in; it counts some data uncompressed, so it
    /// errs on the large side.
    fn current_estimate(&self) -> u64 {
        let State::Open(w) = &self.state else {
            return self.handed_out;
        };
        let written = w.bytes_written() as u64;
        let flushed_rows: i64 = w.flushed_row_groups().iter().map(|g| g.num_rows()).sum();
        let unflushed_rows = (w.in_progress_rows() + self.pending_rows) as u64;
        if let Ok(flushed_rows @ 1..) = u64::try_from(flushed_rows) {
            return written + unflushed_rows.saturating_mul(written) / flushed_rows;
        }
        let in_progress = w.in_progress_size() as u64;
        let pending = match w.in_progress_rows() as u64 {
            0 => self.pending_bytes() as u64,
            rows => (self.pending_rows as u64).saturating_mul(in_progress) / rows,
        };
        written + in_progress + pending
    }
}

impl Encoder for ParquetEncoder {
    fn encode(&mut self, records: &[Cdr]) -> Result<(), EncodeError> {
        self.writer()?;
        let staged = self.stage(records)?;
        let text = row_text(&staged, records.len());
        // Rows go to the builders in runs that end where a batch is due, so
        // batches end after the same rows as when rows are added one by one.
        let mut start = 0;
        while start < records.len() {
            let mut end = start;
            while end < records.len() {
                self.pending_text += text[end];
                end += 1;
                if self.pending_rows + (end - start) >= BATCH_ROWS
                    || self.pending_text >= BATCH_TEXT_BYTES
                {
                    break;
                }
            }
            self.append(&staged, start..end)?;
            if self.pending_rows >= BATCH_ROWS || self.pending_text >= BATCH_TEXT_BYTES {
                self.write_batch()?;
            }
            start = end;
        }
        self.estimate = self.estimate.max(self.current_estimate());
        Ok(())
    }

    fn take_ready(&mut self) -> Vec<u8> {
        let State::Open(w) = &mut self.state else {
            return Vec::new();
        };
        // Moves the few KB the writer buffers internally into the Vec; writing
        // to a Vec cannot fail, and if it did the bytes would come with the next call.
        let _ = w.sync();
        let ready = mem::take(w.inner_mut());
        self.handed_out += ready.len() as u64;
        ready
    }

    fn finish(&mut self) -> Result<Vec<u8>, EncodeError> {
        self.writer()?;
        self.write_batch()?;
        let State::Open(writer) = mem::replace(&mut self.state, State::Finished) else {
            return Err(EncodeError::Finished);
        };
        match writer.into_inner() {
            Ok(rest) => {
                self.handed_out += rest.len() as u64;
                self.estimate = self.handed_out;
                Ok(rest)
            }
            Err(e) => Err(self.fail(format_error(e))),
        }
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn size_estimate(&self) -> u64 {
        match self.state {
            State::Finished => self.handed_out,
            _ => self.estimate.max(self.current_estimate()),
        }
    }
}
