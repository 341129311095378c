//! Records written as CSV and read back with the csv crate's reader equal
//! the input.

use cdr_core::{
    ApiCdr, Cdr, MessageCdr, RecordKind, Selection, VoiceCdr, parse_datetime, parse_decimal,
    parse_integer,
};
use cdr_sink_api::{ColumnSet, Format};
use cdr_sink_csv::{CsvFormat, count_rows};
use cdr_testkit::records::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const CSV: Limits = Limits {
    nanos_step: 1,
    max_scale: 28,
    // An empty cell reads back as "" whether it was null or the empty string.
    min_text: 1,
};

fn write(columns: ColumnSet, records: &[Cdr]) -> Vec<u8> {
    let mut encoder = CsvFormat::new().encoder(columns).unwrap();
    let mut file = Vec::new();
    for chunk in records.chunks(1000) {
        encoder.encode(chunk).unwrap();
        file.extend(encoder.take_ready());
    }
    file.extend(encoder.finish().unwrap());
    assert_eq!(encoder.rows(), records.len() as u64);
    assert_eq!(encoder.size_estimate(), file.len() as u64);
    file
}

/// One row, read by column name; missing columns and empty cells are null.
struct Row<'a> {
    header: &'a csv::StringRecord,
    record: csv::StringRecord,
}

impl Row<'_> {
    fn cell(&self, name: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h == name)?;
        self.record.get(i).filter(|s| !s.is_empty())
    }
    fn text(&self, name: &str) -> Option<cdr_core::Text> {
        self.cell(name).map(Into::into)
    }
    fn money(&self, name: &str) -> Option<cdr_core::rust_decimal::Decimal> {
        self.cell(name).map(|s| parse_decimal(s).unwrap())
    }
    fn int(&self, name: &str) -> Option<i64> {
        self.cell(name).map(|s| parse_integer(s).unwrap())
    }
    fn datetime(&self) -> cdr_core::chrono::DateTime<cdr_core::chrono::Utc> {
        let text = self.cell("datetime").unwrap();
        assert!(text.ends_with('Z'), "{text} is not in UTC");
        parse_datetime(text).unwrap()
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

/// The header and the records of a CSV file.
fn read(kind: RecordKind, file: &[u8]) -> (Vec<String>, Vec<Cdr>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(file);
    let header = reader.headers().unwrap().clone();
    let records = reader
        .records()
        .map(|r| {
            Row {
                header: &header,
                record: r.unwrap(),
            }
            .cdr(kind)
        })
        .collect();
    (header.iter().map(str::to_string).collect(), records)
}

fn round_trip(kind: RecordKind, records: &[Cdr]) {
    let file = write(ColumnSet::all(kind), records);
    assert_eq!(count_rows(&file[..]).unwrap(), records.len() as u64);
    let (header, back) = read(kind, &file);
    let names: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
    assert_eq!(header, names);
    assert_eq!(back.len(), records.len());
    for (n, (got, want)) in back.iter().zip(records).enumerate() {
        assert_eq!(got, want, "{kind} record {n}");
        // Decimals keep their scale too (0.00350 is not written as 0.0035).
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
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
fn full_precision_timestamps_and_wide_decimals_round_trip() {
    let records: Vec<Cdr> = [
        (
            "2026-11-01T00:00:00.123456789Z",
            "0.0000000000000000000000000001",
        ),
        ("2026-11-01T00:00:00.1Z", "79228162514264337593543950335"),
        ("2016-12-31T23:59:60.5Z", "-7.9228162514264337593543950335"),
    ]
    .into_iter()
    .map(|(time, money)| {
        let Cdr::Api(a) = all_null(RecordKind::Api, t(time)) else {
            unreachable!()
        };
        Cdr::Api(ApiCdr {
            charge: Some(dec(money)),
            ..a
        })
    })
    .collect();
    round_trip(RecordKind::Api, &records);
}

#[test]
fn empty_file_has_a_header_and_no_rows() {
    for kind in RecordKind::ALL {
        let file = write(ColumnSet::all(kind), &[]);
        assert_eq!(count_rows(&file[..]).unwrap(), 0);
        let (header, records) = read(kind, &file);
        assert_eq!(header.len(), kind.columns().len());
        assert!(records.is_empty());
    }
}

#[test]
fn selected_columns_are_written_in_selection_order() {
    let selection = Selection::all()
        .narrow(RecordKind::Voice, &["charge", "callId", "sessionTime"])
        .unwrap();
    let records = samples(RecordKind::Voice, 100);
    let file = write(ColumnSet::selected(RecordKind::Voice, &selection), &records);
    let (header, back) = read(RecordKind::Voice, &file);
    assert_eq!(header, ["datetime", "charge", "call_id", "session_time"]);
    for (got, want) in back.iter().zip(&records) {
        let (Cdr::Voice(got), Cdr::Voice(want)) = (got, want) else {
            unreachable!()
        };
        assert_eq!(
            (got.datetime, &got.call_id, got.session_time, got.charge),
            (want.datetime, &want.call_id, want.session_time, want.charge)
        );
        assert_eq!((&got.status, &got.source_ani), (&None, &None));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_records_round_trip((kind, records) in arb_batch(CSV)) {
        let file = write(ColumnSet::all(kind), &records);
        prop_assert_eq!(count_rows(&file[..]).unwrap(), records.len() as u64);
        let back = read(kind, &file).1;
        prop_assert_eq!(format!("{back:?}"), format!("{records:?}"));
        prop_assert_eq!(back, records);
    }
}
