//! The Arrow schema of a [`ColumnSet`], derived from cdr-core's column schema.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdr_core::{Column, ColumnType, MONEY_PRECISION, MONEY_SCALE};
use cdr_sink_api::ColumnSet;

// Arrow's Decimal128 holds at most 38 digits; the casts below are exact.
const _: () = assert!(MONEY_PRECISION <= 38 && MONEY_SCALE <= MONEY_PRECISION as u32);

/// Scale of money columns, as Arrow wants it.
pub(crate) const DECIMAL_SCALE: i8 = MONEY_SCALE as i8;

/// Time zone of timestamp columns: values are UTC instants.
pub const TIMESTAMP_TZ: &str = "UTC";

/// The Arrow type of a column: `Timestamp(Microsecond, "UTC")`,
/// `Decimal128(MONEY_PRECISION, MONEY_SCALE)`, `Int64` or `Utf8`.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Timestamp => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from(TIMESTAMP_TZ)))
        }
        ColumnType::Decimal => DataType::Decimal128(MONEY_PRECISION, DECIMAL_SCALE),
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Utf8 => DataType::Utf8,
    }
}

/// The Arrow field of a column: its snake_case name, type and nullability.
pub fn arrow_field(column: &Column) -> Field {
    Field::new(column.name, arrow_type(column.ty), column.nullable)
}

/// The Arrow schema of the files written for `columns`, fields in
/// [`ColumnSet`] order.
pub fn arrow_schema(columns: &ColumnSet) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(_, c)| arrow_field(c))
            .collect::<Vec<_>>(),
    ))
}
