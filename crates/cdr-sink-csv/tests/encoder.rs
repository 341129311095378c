//! The CSV encoder's exact output and behaviour, and the row counter.

use cdr_core::{Cdr, MessageCdr, RecordKind, VoiceCdr};
use cdr_sink_api::{ColumnSet, EncodeError, Encoder, Format};
use cdr_sink_csv::{CsvFormat, count_rows};
use cdr_testkit::records::*;

fn encoder(kind: RecordKind) -> Box<dyn Encoder> {
    CsvFormat::new().encoder(ColumnSet::all(kind)).unwrap()
}

fn csv_text(kind: RecordKind, records: &[Cdr]) -> String {
    let mut e = encoder(kind);
    e.encode(records).unwrap();
    let mut file = e.take_ready();
    file.extend(e.finish().unwrap());
    String::from_utf8(file).unwrap()
}

fn message(status: Option<&str>, charge: Option<&str>) -> Cdr {
    Cdr::Message(MessageCdr {
        datetime: t("2026-11-01T10:00:00.000100+02:00"),
        from_number: Some("15551230000".into()),
        to_number: None,
        direction: Some("outbound".into()),
        status: status.map(Into::into),
        charge: charge.map(dec),
        r#type: Some("SMS".into()),
    })
}

#[test]
fn format_names() {
    let f = CsvFormat::new();
    assert_eq!(f.name(), "csv");
    assert_eq!(f.extension(), "csv");
    assert_eq!(f.content_type(), "text/csv; charset=utf-8");
}

/// The exact bytes: header, UTC timestamps, decimals at their own scale,
/// empty cells for nulls, quoting, LF line ends.
#[test]
fn exact_output() {
    let text = csv_text(
        RecordKind::Message,
        &[
            message(Some("delivered"), Some("0.00350")),
            message(Some("a,b"), Some("-1234567890.12345")),
            message(Some("say \"hi\""), Some("0.1")),
            message(Some("two\nlines"), None),
            message(Some("Zürich 東京"), Some("0")),
            message(Some(""), Some("12.50")),
            message(None, Some("0.00000")),
        ],
    );
    let want = "\
datetime,from_number,to_number,direction,status,charge,type
2026-11-01T08:00:00.000100Z,15551230000,,outbound,delivered,0.00350,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,\"a,b\",-1234567890.12345,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,\"say \"\"hi\"\"\",0.1,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,\"two\nlines\",,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,Zürich 東京,0,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,\"\",12.50,SMS
2026-11-01T08:00:00.000100Z,15551230000,,outbound,,0.00000,SMS
";
    assert_eq!(text, want);
    assert!(!text.contains('\r'), "rows end with LF only");
}

#[test]
fn voice_integers_and_headers() {
    let Cdr::Voice(v) = all_null(RecordKind::Voice, t("2026-11-01T00:00:00Z")) else {
        unreachable!()
    };
    let r = |s| {
        Cdr::Voice(VoiceCdr {
            session_time: Some(s),
            ..v.clone()
        })
    };
    let text = csv_text(RecordKind::Voice, &[r(61), r(-1), r(i64::MAX)]);
    let want = "\
datetime,call_id,source_ani,destination_number,did_used,session_time,status,called_rate,charge,call_type,ani_ii
2026-11-01T00:00:00Z,,,,,61,,,,,
2026-11-01T00:00:00Z,,,,,-1,,,,,
2026-11-01T00:00:00Z,,,,,9223372036854775807,,,,,
";
    assert_eq!(text, want);
}

#[test]
fn wrong_kind_is_an_error_and_encodes_nothing() {
    let mut e = encoder(RecordKind::Voice);
    e.encode(&samples(RecordKind::Voice, 2)).unwrap();
    let before = e.size_estimate();
    let mut records = samples(RecordKind::Voice, 3);
    records.insert(1, sample(RecordKind::Api, 0));
    match e.encode(&records) {
        Err(EncodeError::WrongKind { expected, got }) => {
            assert_eq!((expected, got), (RecordKind::Voice, RecordKind::Api));
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    assert_eq!(e.rows(), 2);
    assert_eq!(e.size_estimate(), before);
    let file = e.finish().unwrap();
    assert_eq!(count_rows(&file[..]).unwrap(), 2);
}

#[test]
fn use_after_finish_is_an_error() {
    let mut e = encoder(RecordKind::Api);
    e.encode(&samples(RecordKind::Api, 2)).unwrap();
    let file = e.finish().unwrap();
    assert!(matches!(
        e.encode(&samples(RecordKind::Api, 1)),
        Err(EncodeError::Finished)
    ));
    assert!(matches!(e.finish(), Err(EncodeError::Finished)));
    assert!(e.take_ready().is_empty());
    assert_eq!(e.size_estimate(), file.len() as u64);
}

/// Output is handed out as it is produced: the encoder holds at most what
/// the last `encode` call produced, and the pieces make the whole file.
#[test]
fn output_is_incremental_and_estimate_is_exact() {
    let records = samples(RecordKind::Voice, 50_000);
    let mut e = encoder(RecordKind::Voice);
    let mut file = e.take_ready();
    assert!(file.starts_with(b"datetime,call_id,"));
    let mut last = e.size_estimate();
    assert_eq!(last, file.len() as u64);
    let mut largest = 0;
    for chunk in records.chunks(1000) {
        e.encode(chunk).unwrap();
        let now = e.size_estimate();
        assert!(now > last);
        last = now;
        let ready = e.take_ready();
        largest = largest.max(ready.len());
        file.extend(ready);
        assert_eq!(e.size_estimate(), file.len() as u64);
    }
    file.extend(e.finish().unwrap());
    assert_eq!(e.size_estimate(), file.len() as u64);
    assert!(largest < file.len() / 40, "{largest} of {}", file.len());
    assert_eq!(count_rows(&file[..]).unwrap(), 50_000);
}

#[test]
fn count_rows_cases() {
    for (text, rows) in [
        ("", 0),
        ("a,b\n", 0),
        ("a,b", 0),
        ("a,b\n1,2\n", 1),
        ("a,b\n1,2", 1),
        ("a,b\r\n1,2\r\n3,4\r\n", 2),
        ("a,b\n\"x\ny\",2\n\"\",\"\"\"\n\"\n", 2),
        ("a,b\n\"1,2\",3\n", 1),
        ("a\n\"\"\n", 1),
    ] {
        assert_eq!(count_rows(text.as_bytes()).unwrap(), rows, "{text:?}");
    }
    for broken in ["a,b\n1,2,3\n", "a,b\n1\n"] {
        let err = count_rows(broken.as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("not a readable csv file"),
            "{err}"
        );
    }
}

#[test]
fn count_rows_counts_quoted_newlines_in_written_files() {
    for kind in RecordKind::ALL {
        let records = edge_cases(kind);
        let text = csv_text(kind, &records);
        assert!(text.lines().count() > records.len() + 1);
        assert_eq!(count_rows(text.as_bytes()).unwrap(), records.len() as u64);
    }
}
