//! The Rust types a record field may have, each with the column type it is
//! stored as, and typed access to one field: [`Value`] to read it (encoders),
//! [`Slot`] to write it (decoders). A new kind of field (a nullable
//! timestamp, say) is a new [`FieldType`] here and one more arm in each
//! decoder; a new field of a known type needs nothing here.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::schema::{Column, ColumnType};

/// A borrowed, typed cell value, in the logical types of [`crate::ColumnType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Timestamp(DateTime<Utc>),
    Decimal(Decimal),
    Int64(i64),
    Str(&'a str),
}

/// One field of a record, to be written by a decoder: the variant says the
/// column type, and so which value may go in.
#[derive(Debug)]
pub(crate) enum Slot<'a> {
    /// A required instant.
    Timestamp(&'a mut DateTime<Utc>),
    Decimal(&'a mut Option<Decimal>),
    Int64(&'a mut Option<i64>),
    Utf8(&'a mut Option<crate::Text>),
}

impl Slot<'_> {
    /// Sets a nullable field to null; `false` for a required one, which
    /// cannot be.
    pub(crate) fn clear(self) -> bool {
        match self {
            Slot::Timestamp(_) => return false,
            Slot::Decimal(v) => *v = None,
            Slot::Int64(v) => *v = None,
            Slot::Utf8(v) => *v = None,
        }
        true
    }
}

/// A Rust type a record field may have.
pub(crate) trait FieldType {
    /// The column type it is stored as.
    const COLUMN_TYPE: ColumnType;
    /// Whether it may be null (an `Option`).
    const NULLABLE: bool;
    /// The value of a field not yet read.
    fn empty() -> Self;
    fn value(&self) -> Value<'_>;
    fn slot(&mut self) -> Slot<'_>;
}

impl FieldType for DateTime<Utc> {
    const COLUMN_TYPE: ColumnType = ColumnType::Timestamp;
    const NULLABLE: bool = false;
    fn empty() -> Self {
        DateTime::UNIX_EPOCH
    }
    #[inline]
    fn value(&self) -> Value<'_> {
        Value::Timestamp(*self)
    }
    #[inline]
    fn slot(&mut self) -> Slot<'_> {
        Slot::Timestamp(self)
    }
}

impl FieldType for Option<Decimal> {
    const COLUMN_TYPE: ColumnType = ColumnType::Decimal;
    const NULLABLE: bool = true;
    fn empty() -> Self {
        None
    }
    #[inline]
    fn value(&self) -> Value<'_> {
        self.map_or(Value::Null, Value::Decimal)
    }
    #[inline]
    fn slot(&mut self) -> Slot<'_> {
        Slot::Decimal(self)
    }
}

impl FieldType for Option<i64> {
    const COLUMN_TYPE: ColumnType = ColumnType::Int64;
    const NULLABLE: bool = true;
    fn empty() -> Self {
        None
    }
    #[inline]
    fn value(&self) -> Value<'_> {
        self.map_or(Value::Null, Value::Int64)
    }
    #[inline]
    fn slot(&mut self) -> Slot<'_> {
        Slot::Int64(self)
    }
}

impl FieldType for Option<crate::Text> {
    const COLUMN_TYPE: ColumnType = ColumnType::Utf8;
    const NULLABLE: bool = true;
    fn empty() -> Self {
        None
    }
    #[inline]
    fn value(&self) -> Value<'_> {
        self.as_deref().map_or(Value::Null, Value::Str)
    }
    #[inline]
    fn slot(&mut self) -> Slot<'_> {
        Slot::Utf8(self)
    }
}

/// The column of a field of type `T` named `field` in Rust (the snake_case
/// column name; a raw identifier's `r#` is dropped) and `graphql` in the API.
pub(crate) const fn column<T: FieldType>(graphql: &'static str, field: &'static str) -> Column {
    Column {
        graphql,
        name: without_raw_prefix(field),
        ty: T::COLUMN_TYPE,
        nullable: T::NULLABLE,
    }
}

/// `type` for `r#type`.
const fn without_raw_prefix(name: &'static str) -> &'static str {
    match name.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(s) => s,
            Err(_) => name,
        },
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_identifiers_name_their_columns_without_prefix() {
        assert_eq!(without_raw_prefix("r#type"), "type");
        assert_eq!(without_raw_prefix("from_number"), "from_number");
        assert_eq!(without_raw_prefix("r"), "r");
    }
}
