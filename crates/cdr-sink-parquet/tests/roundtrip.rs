//! Records written as Parquet and read back with the parquet crate's Arrow
//! reader equal the input, and the file's schema is cdr-core's.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use cdr_core::chrono::{DateTime, Utc};
use cdr_core::rust_decimal::Decimal;
use cdr_core::{
    ApiCdr, Cdr, MONEY_PRECISION, MONEY_SCALE, MessageCdr, RecordKind, Selection, VoiceCdr,
};
use cdr_sink_api::{ColumnSet, Format};
use cdr_sink_parquet::{ParquetFormat, ParquetOptions, parquet_row_count};
use cdr_testkit::records::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{LogicalType, TimeUnit as ParquetTimeUnit, Type as PhysicalType};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const PARQUET: Limits = Limits {
    nanos_step: 1000,
    max_scale: MONEY_SCALE,
    min_text: 0,
};

/// Encodes `records` into one file, taking ready bytes after every call.
fn write(options: ParquetOptions, columns: ColumnSet, records: &[Cdr]) -> Vec<u8> {
    let mut encoder = ParquetFormat::new(options).encoder(columns).unwrap();
    let mut file = Vec::new();
    for chunk in records.chunks(1000) {
        encoder.encode(chunk).unwrap();
        file.extend(encoder.take_ready());
    }
    file.extend(encoder.finish().unwrap());
    assert_eq!(encoder.rows(), records.len() as u64);
    file
}

fn read_batches(file: Vec<u8>) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// The decimal `units` x 10^-`scale`, dropping trailing zeros when the value
/// needs more significant digits than rust_decimal's 96-bit mantissa has.
fn decimal(mut units: i128, mut scale: u32) -> Decimal {
    loop {
        match Decimal::try_from_i128_with_scale(units, scale) {
            Ok(d) => return d,
            Err(e) if scale == 0 || units % 10 != 0 => panic!("{units}e-{scale}: {e}"),
            Err(_) => {
                units /= 10;
                scale -= 1;
            }
        }
    }
}

/// One row of a batch, read by column name; missing columns read as null.
struct Row<'a> {
    batch: &'a RecordBatch,
    row: usize,
}

impl Row<'_> {
    fn column(&self, name: &str) -> Option<&Arc<dyn Array>> {
        self.batch
            .column_by_name(name)
            .filter(|c| c.is_valid(self.row))
    }
    fn text(&self, name: &str) -> Option<cdr_core::Text> {
        self.column(name)
            .map(|c| c.as_string::<i32>().value(self.row).into())
    }
    fn money(&self, name: &str) -> Option<Decimal> {
        self.column(name).map(|c| {
            let units = c.as_primitive::<Decimal128Type>().value(self.row);
            decimal(units, MONEY_SCALE)
        })
    }
    fn int(&self, name: &str) -> Option<i64> {
        self.column(name)
            .map(|c| c.as_primitive::<Int64Type>().value(self.row))
    }
    fn datetime(&self) -> DateTime<Utc> {
        let micros = self
            .column("datetime")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>()
            .value(self.row);
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    fn cdr(&self, kind: RecordKind) -> Cdr {
        match kind {
            RecordKind::Api => Cdr::Api(ApiCdr {
                datetime: self.datetime(),
                from: self.text("from"),
                destination: self.text("destination"),
                status: self.text("status"),
                charge: self.money("charge"),
                r#type: self.text("type"),
            }),
            RecordKind::Message => Cdr::Message(MessageCdr {
                datetime: self.datetime(),
                from_number: self.text("from_number"),
                to_number: self.text("to_number"),
                direction: self.text("direction"),
                status: self.text("status"),
                charge: self.money("charge"),
                r#type: self.text("type"),
            }),
            RecordKind::Voice => Cdr::Voice(VoiceCdr {
                datetime: self.datetime(),
                call_id: self.text("call_id"),
                source_ani: self.text("source_ani"),
                destination_number: self.text("destination_number"),
                did_used: self.text("did_used"),
                session_time: self.int("session_time"),
                status: self.text("status"),
                called_rate: self.money("called_rate"),
                charge: self.money("charge"),
                call_type: self.text("call_type"),
                ani_ii: self.text("ani_ii"),
            }),
        }
    }
}

fn read(kind: RecordKind, file: Vec<u8>) -> Vec<Cdr> {
    let mut out = Vec::new();
    for batch in read_batches(file) {
        for row in 0..batch.num_rows() {
            out.push(Row { batch: &batch, row }.cdr(kind));
        }
    }
    out
}

fn round_trip(kind: RecordKind, records: &[Cdr]) {
    let file = write(ParquetOptions::default(), ColumnSet::all(kind), records);
    assert_eq!(
        parquet_row_count(Bytes::from(file.clone())).unwrap(),
        records.len() as u64
    );
    let back = read(kind, file);
    assert_eq!(back.len(), records.len());
    for (n, (got, want)) in back.iter().zip(records).enumerate() {
        assert_eq!(got, want, "{kind} record {n}");
    }
}

#[test]
fn edge_cases_round_trip_for_every_kind() {
    for kind in RecordKind::ALL {
        round_trip(kind, &edge_cases(kind));
    }
}

#[test]
fn samples_round_trip_for_every_kind() {
    for kind in RecordKind::ALL {
        round_trip(kind, &samples(kind, 25_000));
    }
}

#[test]
fn long_text_round_trips() {
    // Values of several MB make batches end on text size, not row count.
    let long = "x€,\"\n".repeat(600 * 1024);
    let same = t("2026-11-01T00:00:00.000123Z");
    let records: Vec<Cdr> = (0..12)
        .map(|i| {
            let Cdr::Message(m) = all_null(RecordKind::Message, same) else {
                unreachable!()
            };
            Cdr::Message(MessageCdr {
                status: Some(format!("{i}{long}").into()),
                ..m
            })
        })
        .collect();
    round_trip(RecordKind::Message, &records);
}

#[test]
fn empty_file_is_valid() {
    for kind in RecordKind::ALL {
        let file = write(ParquetOptions::default(), ColumnSet::all(kind), &[]);
        assert_eq!(parquet_row_count(Bytes::from(file.clone())).unwrap(), 0);
        assert!(read(kind, file).is_empty());
    }
}

#[test]
fn schema_is_cdr_cores() {
    for kind in RecordKind::ALL {
        let file = write(ParquetOptions::default(), ColumnSet::all(kind), &[]);
        let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file)).unwrap();

        // The Arrow schema.
        let schema = builder.schema();
        assert_eq!(schema.fields().len(), kind.columns().len());
        for (field, column) in schema.fields().iter().zip(kind.columns()) {
            assert_eq!(field.name(), column.name);
            assert_eq!(field.is_nullable(), column.nullable, "{}", column.name);
            let want = match column.ty {
                cdr_core::ColumnType::Timestamp => {
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                }
                cdr_core::ColumnType::Decimal => {
                    DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE as i8)
                }
                cdr_core::ColumnType::Int64 => DataType::Int64,
                cdr_core::ColumnType::Utf8 => DataType::Utf8,
            };
            assert_eq!(field.data_type(), &want, "{}", column.name);
        }

        // The Parquet schema, which engines that ignore the Arrow schema read.
        let parquet = builder.parquet_schema();
        assert_eq!(parquet.num_columns(), kind.columns().len());
        for (n, column) in kind.columns().iter().enumerate() {
            let leaf = parquet.column(n);
            assert_eq!(leaf.name(), column.name);
            assert_eq!(leaf.self_type().is_optional(), column.nullable);
            let want = match column.ty {
                cdr_core::ColumnType::Timestamp => (
                    PhysicalType::INT64,
                    Some(LogicalType::timestamp(true, ParquetTimeUnit::MICROS)),
                ),
                cdr_core::ColumnType::Decimal => (
                    PhysicalType::FIXED_LEN_BYTE_ARRAY,
                    Some(LogicalType::decimal(
                        MONEY_SCALE as i32,
                        i32::from(MONEY_PRECISION),
                    )),
                ),
                cdr_core::ColumnType::Int64 => (PhysicalType::INT64, None),
                cdr_core::ColumnType::Utf8 => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
            };
            let got = (leaf.physical_type(), leaf.logical_type_ref().cloned());
            assert_eq!(got, want, "{}", column.name);
        }

        // The footer says what the file holds.
        let kv = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap();
        let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        assert_eq!(get("cdr.record_kind").as_deref(), Some(kind.typename()));
        assert_eq!(
            get("cdr.schema_version"),
            Some(cdr_core::SCHEMA_VERSION.to_string())
        );
    }
}

#[test]
fn selected_columns_are_written_in_selection_order() {
    let selection = Selection::all()
        .narrow(RecordKind::Voice, &["charge", "callId", "sessionTime"])
        .unwrap();
    let columns = ColumnSet::selected(RecordKind::Voice, &selection);
    let records = samples(RecordKind::Voice, 100);
    let file = write(ParquetOptions::default(), columns, &records);
    let batches = read_batches(file.clone());
    let names: Vec<_> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["datetime", "charge", "call_id", "session_time"]);

    let back = read(RecordKind::Voice, file);
    for (got, want) in back.iter().zip(&records) {
        let Cdr::Voice(want) = want else {
            unreachable!()
        };
        let want = Cdr::Voice(VoiceCdr {
            datetime: want.datetime,
            call_id: want.call_id.clone(),
            session_time: want.session_time,
            charge: want.charge,
            ..match all_null(RecordKind::Voice, want.datetime) {
                Cdr::Voice(v) => v,
                _ => unreachable!(),
            }
        });
        assert_eq!(got, &want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_records_round_trip((kind, records) in arb_batch(PARQUET)) {
        let file = write(ParquetOptions::default(), ColumnSet::all(kind), &records);
        prop_assert_eq!(read(kind, file), records);
    }
}
