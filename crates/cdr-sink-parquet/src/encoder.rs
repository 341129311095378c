//! The Parquet [`Encoder`]: records staged into the column builders of
//! [`crate::batch`], a record batch every [`BATCH_ROWS`] rows for an
//! [`ArrowWriter`] (set up by [`crate::properties`]) over a buffer that
//! [`Encoder::take_ready`] drains, and the file's size estimate.

use std::mem;
use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use cdr_core::Cdr;
use cdr_sink_api::{ColumnSet, EncodeError, Encoder};
use parquet::arrow::ArrowWriter;

use crate::batch::{BATCH_ROWS, BATCH_TEXT_BYTES, ColumnBuffer, Staged, buffers, row_text, stage};
use crate::convert::format_error;
use crate::options::ParquetOptions;
use crate::schema::arrow_schema;

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
        let props = options.writer_properties(&columns);
        let writer =
            ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).map_err(format_error)?;
        let buffers = buffers(&columns, BATCH_ROWS)?;
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
