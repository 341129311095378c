//! The statistics of an add action: `numRecords`, and `nullCount`,
//! `minValues` and `maxValues` of `datetime`, as an Arrow struct in the
//! layout of the kernel's add-file schema.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, StructArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Fields, SchemaRef};
use chrono::{DateTime, Utc};

use crate::error::DeltaError;

/// The column whose statistics each file's add action carries.
pub const STATS_COLUMN: &str = "datetime";

/// Statistics of one file of `rows` records whose `datetime` values lie in
/// `[min, max]`; `tight` when those are the file's own minimum and maximum
/// (a window of one file), not a window's bounds shared by its files. A
/// schema without `datetime` gets `numRecords` alone.
pub(crate) fn file_stats(
    schema: &SchemaRef,
    rows: u64,
    min: Option<DateTime<Utc>>,
    max: Option<DateTime<Utc>>,
    tight: bool,
) -> Result<StructArray, DeltaError> {
    let rows = i64::try_from(rows).map_err(|_| DeltaError::Unexpected("more rows than i64"))?;
    let mut fields = vec![Field::new("numRecords", DataType::Int64, true)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![rows]))];
    if let Ok(field) = schema.field_with_name(STATS_COLUMN) {
        let ty = field.data_type().clone();
        let one = |name: &str, ty: DataType, array: ArrayRef| {
            let inner = Fields::from(vec![Field::new(STATS_COLUMN, ty, true)]);
            let s = StructArray::new(inner.clone(), vec![array], None);
            (
                Field::new(name, DataType::Struct(inner), true),
                Arc::new(s) as ArrayRef,
            )
        };
        let micros = |t: Option<DateTime<Utc>>| -> ArrayRef {
            let a = TimestampMicrosecondArray::from(vec![t.map(|t| t.timestamp_micros())]);
            match &ty {
                DataType::Timestamp(_, Some(tz)) => Arc::new(a.with_timezone(tz.clone())),
                _ => Arc::new(a),
            }
        };
        let nulls = one(
            "nullCount",
            DataType::Int64,
            Arc::new(Int64Array::from(vec![0])),
        );
        let lows = one("minValues", ty.clone(), micros(min));
        let highs = one("maxValues", ty.clone(), micros(max));
        for (f, c) in [nulls, lows, highs] {
            fields.push(f);
            columns.push(c);
        }
    }
    fields.push(Field::new("tightBounds", DataType::Boolean, true));
    columns.push(Arc::new(BooleanArray::from(vec![tight])));
    let stats = StructArray::try_new(Fields::from(fields), columns, None)
        .map_err(|_| DeltaError::Unexpected("statistics columns of unequal length"))?;
    debug_assert_eq!(stats.len(), 1);
    Ok(stats)
}
