//! Records into typed Arrow columns: a builder per column, and the staging
//! that converts and checks every value of a call before any is appended, so
//! that each call is all-or-nothing. [`record_batch`] builds one batch
//! directly; the encoder keeps builders across calls.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use cdr_core::{Cdr, Column, ColumnType, MONEY_PRECISION};
use cdr_sink_api::{ColumnSet, EncodeError};

use crate::convert::{Cell, cell, format_error};
use crate::schema::{DECIMAL_SCALE, TIMESTAMP_TZ, arrow_schema};

/// Rows collected in the column builders before they become one record batch
/// for the writer. The writer copies a batch's values into the pages it is
/// filling, so the builders are a second copy of the newest rows: batches of
/// about one API page keep that copy small. 1024 instead of 4096 rows cut the
/// encoders' resident memory by about 2.7 MB at four VOICE units (measured
/// with `examples/memory.rs`), with files of the same size.
pub const BATCH_ROWS: usize = 1024;

/// Text bytes collected in the builders before a batch is written early, so
/// that very long text cannot grow the builders without bound.
pub(crate) const BATCH_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// The typed builder of one column.
#[derive(Debug)]
pub(crate) enum Builder {
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
    pub(crate) fn extend(
        &mut self,
        column: &Staged<'_>,
        range: Range<usize>,
    ) -> Result<(), EncodeError> {
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

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Utf8(b) => Arc::new(b.finish()),
        }
    }

    /// Unencoded bytes per row, text excluded.
    pub(crate) fn fixed_width(&self) -> usize {
        match self {
            Builder::Timestamp(_) | Builder::Int64(_) => 8,
            Builder::Decimal(_) => 16,
            Builder::Utf8(_) => 4,
        }
    }
}

/// One column of the records of an [`Encoder::encode`](cdr_sink_api::Encoder::encode) call, converted and
/// checked before anything is appended (calls are all-or-nothing).
pub(crate) enum Staged<'a> {
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
pub(crate) fn stage<'a>(
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
/// [`arrow_schema()`]`(columns)`, built with the encoder's typed builders and
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
    let mut buffers = buffers(columns, records.len())?;
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
pub(crate) fn row_text(staged: &[Staged<'_>], rows: usize) -> Vec<usize> {
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

/// One selected column and its builder.
#[derive(Debug)]
pub(crate) struct ColumnBuffer {
    /// Index into `RecordKind::columns`, what `Cdr::value` takes.
    pub index: usize,
    pub column: &'static Column,
    pub builder: Builder,
}

/// A buffer per column of `columns`, each builder with room for `rows` rows.
pub(crate) fn buffers(columns: &ColumnSet, rows: usize) -> Result<Vec<ColumnBuffer>, EncodeError> {
    columns
        .iter()
        .map(|(index, column)| {
            Ok(ColumnBuffer {
                index,
                column,
                builder: Builder::new(column.ty, rows)?,
            })
        })
        .collect()
}
