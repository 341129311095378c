use super::*;

use cdr_core::{ApiCdr, CdrType, MessageCdr, VoiceCdr, Window, parse_datetime, parse_decimal};

fn hash_of(version: HashVersion, records: &[Cdr]) -> ContentHash {
    let mut h = ContentHash::of_version(version);
    h.add_all(records);
    h
}

fn read(kind: RecordKind, body: &str) -> Result<ExportContent, CsvError> {
    read_all(kind, HashVersion::V2, body.as_bytes())
}

fn sms(at: &str, from: Option<&str>, status: Option<&str>, charge: Option<&str>) -> Cdr {
    Cdr::Message(MessageCdr {
        datetime: parse_datetime(at).unwrap(),
        from_number: from.map(Into::into),
        to_number: None,
        direction: Some("outbound".into()),
        status: status.map(Into::into),
        charge: charge.map(|c| parse_decimal(c).unwrap()),
        r#type: Some("SMS".into()),
    })
}

const SMS_HEADER: &str = "datetime,fromNumber,toNumber,direction,status,charge,type\r\n";

/// Every kind, with nulls, empty text, quoting, decimals of any scale and
/// datetimes with offsets and fractions: the export's rows hash as the
/// records do, with either hash version.
#[test]
fn rows_of_every_kind_hash_as_their_records() {
    let voice = Cdr::Voice(VoiceCdr {
        datetime: parse_datetime("2026-11-01T00:00:00.123456Z").unwrap(),
        call_id: Some("c-1".into()),
        source_ani: Some("+15551230000".into()),
        destination_number: None,
        did_used: Some(Default::default()),
        session_time: Some(61),
        status: Some("ANSWERED".into()),
        called_rate: Some(parse_decimal("0.0125").unwrap()),
        charge: Some(parse_decimal("1.50").unwrap()),
        call_type: Some("outbound, \"intl\"".into()),
        ani_ii: None,
    });
    let api = Cdr::Api(ApiCdr {
        datetime: parse_datetime("2026-11-01T00:59:59.999Z").unwrap(),
        from: Some("Zürich\r\nline two".into()),
        destination: Some(" padded ".into()),
        status: None,
        charge: Some(parse_decimal("-0.00001").unwrap()),
        r#type: Some(Default::default()),
    });
    let cases: [(RecordKind, &str, Vec<Cdr>); 4] = [
        (
            RecordKind::Message,
            concat!(
                "datetime,fromNumber,toNumber,direction,status,charge,type\r\n",
                "2026-11-01T01:00:00+01:00,+15551230000,,outbound,\"delivered, late\",0.00350,SMS\r\n",
                "2026-11-01T00:00:00.5Z,,,outbound,,,SMS\r\n",
            ),
            vec![
                sms(
                    "2026-11-01T00:00:00Z",
                    Some("+15551230000"),
                    Some("delivered, late"),
                    Some("0.0035"),
                ),
                sms("2026-11-01T00:00:00.500Z", None, None, None),
            ],
        ),
        (
            RecordKind::Message,
            // The archive's own CSV (snake_case, LF, another column order).
            "type,datetime,from_number,to_number,direction,status,charge\nSMS,2026-11-01T00:00:00.500000Z,,,outbound,,\n",
            vec![sms("2026-11-01T00:00:00.5Z", None, None, None)],
        ),
        (
            RecordKind::Voice,
            concat!(
                "datetime,callId,sourceAni,destinationNumber,didUsed,sessionTime,status,calledRate,charge,callType,aniIi\r\n",
                "2026-11-01T01:00:00.123456+01:00,c-1,+15551230000,,\"\",61.0,ANSWERED,0.01250,1.5,\"outbound, \"\"intl\"\"\",\r\n",
            ),
            vec![voice],
        ),
        (
            RecordKind::Api,
            concat!(
                "datetime,from,destination,status,charge,type\r\n",
                "2026-11-01T00:59:59.999000000Z,\"Zürich\r\nline two\", padded ,,-1e-5,\"\"\r\n",
            ),
            vec![api],
        ),
    ];
    for (kind, body, records) in cases {
        for version in [HashVersion::V1, HashVersion::V2] {
            let got = read_all(kind, version, body.as_bytes()).unwrap();
            assert_eq!(got.hash, hash_of(version, &records), "{body}");
            assert_eq!((got.unstorable, got.records()), (0, records.len() as u64));
        }
    }
}

#[test]
fn nulls_empty_text_decimals_and_instants_are_told_apart_as_graphql_does() {
    let one = |row: &str| read(RecordKind::Message, &format!("{SMS_HEADER}{row}\r\n")).unwrap();
    let base = one("2026-11-01T00:00:00Z,1,,outbound,,1.50,SMS");
    // The scale of a decimal and the form of an instant do not matter.
    for same in [
        "2026-11-01T00:00:00Z,1,,outbound,,1.5,SMS",
        "2026-11-01T00:00:00.000Z,1,,outbound,,1.500000,SMS",
        "2026-10-31T19:00:00-05:00,1,,outbound,,15e-1,SMS",
        "\"2026-11-01T00:00:00Z\",\"1\",,outbound,,\"1.5\",SMS",
    ] {
        assert_eq!(one(same).hash, base.hash, "{same}");
    }
    // A null is not the empty text, a value is not another, an instant is
    // kept to the nanosecond.
    for other in [
        "2026-11-01T00:00:00Z,\"\",,outbound,,1.5,SMS",
        "2026-11-01T00:00:00Z,,,outbound,,1.5,SMS",
        "2026-11-01T00:00:00Z,1,\"\",outbound,,1.5,SMS",
        "2026-11-01T00:00:00Z,1,,outbound,,1.51,SMS",
        "2026-11-01T00:00:00Z,1,,outbound,,,SMS",
        "2026-11-01T00:00:00.000000001Z,1,,outbound,,1.5,SMS",
        "2026-11-01T00:00:00Z,1 ,,outbound,,1.5,SMS",
    ] {
        assert_ne!(one(other).hash, base.hash, "{other}");
    }
}

#[test]
fn any_chunking_reads_alike_and_a_byte_order_mark_is_no_part_of_the_header() {
    let body = format!(
        "\u{feff}{SMS_HEADER}2026-11-01T00:00:00Z,\"a,\r\n\"\"b\"\"\",,outbound,,0.5,SMS\r\n\r\n2026-11-01T00:00:01Z,,,,,,\r\n"
    );
    let whole = read(RecordKind::Message, &body).unwrap();
    assert_eq!(whole.records(), 2);
    for size in [1, 2, 3, 5, 64] {
        let mut reader =
            ExportReader::new(RecordKind::Message, ExportContent::new(HashVersion::V2));
        for chunk in body.as_bytes().chunks(size) {
            reader.feed(chunk).unwrap();
        }
        assert_eq!(reader.finish().unwrap(), whole, "chunks of {size}");
    }
}

#[test]
fn empty_and_header_only_bodies_hold_no_records() {
    for body in ["", "\r\n", SMS_HEADER, SMS_HEADER.trim_end(), "\u{feff}"] {
        let got = read(RecordKind::Message, body).unwrap();
        assert_eq!(got.records(), 0, "{body:?}");
        assert_eq!(got.hash, ContentHash::new());
    }
}

#[test]
fn a_malformed_export_is_a_typed_error() {
    let header = |body: &str| match read(RecordKind::Message, body) {
        Err(CsvError::Header(m)) => m,
        other => panic!("{body:?}: {other:?}"),
    };
    assert!(
        header("datetime,fromNumber,toNumber,direction,status,charge,type,extra\r\n")
            .contains("`extra`")
    );
    assert!(
        header("datetime,fromNumber,toNumber,direction,status,charge\r\n").contains("lacks type")
    );
    assert!(
        header("datetime,fromNumber,from_number,direction,status,charge,type\r\n")
            .contains("`fromNumber` twice")
    );
    assert!(header("datetime,callId\r\n").contains("no field of MessageCdr"));
    assert!(header("\"date\"time\",x\r\n").contains("after the closing quote"));
    let e = CsvError::Header(header("da\x1b]0;x\x07te\r\n"));
    assert!(!e.to_string().contains('\x1b'), "{e}");

    let row = |rows: &[u8]| {
        let mut body = SMS_HEADER.as_bytes().to_vec();
        body.extend_from_slice(rows);
        match read_all(RecordKind::Message, HashVersion::V2, &body) {
            Err(CsvError::Row { row, message }) => (row, message),
            other => panic!("{rows:?}: {other:?}"),
        }
    };
    let ok = b"2026-11-01T00:00:00Z,,,,,,\r\n";
    let (n, m) = row(&[&ok[..], b"2026-11-01T00:00:00Z,,,,\r\n"].concat());
    assert_eq!((n, m.as_str()), (2, "has 5 fields where the header has 7"));
    let (n, m) = row(b"2026-11-01T00:00:00Z,,,,,,,,\r\n");
    assert_eq!(n, 1);
    assert!(m.contains("more than the 7 fields of the header"), "{m}");
    let (_, m) = row(b"2026-11-01T00:00:00Z,\"a\"b,,,,,\r\n");
    assert!(m.contains("after the closing quote of field 2"), "{m}");
    let (_, m) = row(b"2026-11-01T00:00:00Z,\xff,,,,,\r\n");
    assert!(m.contains("not UTF-8"), "{m}");

    // Cut inside a row, or inside a quoted field.
    for cut in [
        &b"2026-11-01T00:00:00Z,,,"[..],
        b"2026-11-01T00:00:00Z,,,,,,SMS",
        b"2026-11-01T00:00:00Z,\"a\r\n",
    ] {
        let body = [SMS_HEADER.as_bytes(), ok, cut].concat();
        assert_eq!(
            read_all(RecordKind::Message, HashVersion::V2, &body),
            Err(CsvError::EndedInsideRow { row: 2 })
        );
    }
    let e = CsvError::EndedInsideRow { row: 2 };
    assert_eq!(e.to_string(), "the body ended inside row 2");
}

#[test]
fn rows_that_cannot_be_stored_are_counted_apart_with_the_first_reason() {
    let long = "x".repeat(MAX_TEXT_BYTES + 10);
    let body = format!(
        "{SMS_HEADER}2026-11-01T00:00:00Z,,,,,N/A,\r\n2026-11-01T00:00:00Z,,,,,1,\r\n,,,,,,\r\n2026-11-01T00:00:00Z,{long},,,,,\r\n2026-11-01T00:00:00Z,,,,,0.123456789012,\r\n"
    );
    let got = read(RecordKind::Message, &body).unwrap();
    assert_eq!((got.records(), got.unstorable), (1, 4));
    let first = got.first_unstorable.unwrap();
    assert!(
        first.starts_with("row 1: `charge`: invalid decimal `N/A`"),
        "{first}"
    );
    // A value too long to store costs no more memory than the limit.
    let only_long = read(
        RecordKind::Message,
        &format!("{SMS_HEADER}2026-11-01T00:00:00Z,{long},,,,,\r\n"),
    )
    .unwrap();
    assert!(
        only_long
            .first_unstorable
            .unwrap()
            .contains(&format!("a text of {} bytes", long.len()))
    );
}

/// The simulator's export of every type, downloaded over HTTP, hashes as
/// its ground truth does and as the same window fetched with GraphQL and
/// decoded by cdr-core: one canonical form for the record either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_export_hashes_as_its_ground_truth_and_its_graphql_answers() {
    use futures_util::StreamExt;
    let sim = cdr_sim::start(cdr_sim::SimConfig {
        rates: [
            (CdrType::Sms, 900),
            (CdrType::Mms, 300),
            (CdrType::Voice, 600),
            (CdrType::Api, 300),
        ]
        .into(),
        ..cdr_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let client = cdr_transport::Client::new(
        cdr_transport::ClientConfig::new(cdr_transport::Auth::Login {
            email: "user@example.com".into(),
            password: cdr_core::Password::new("user-password"),
        })
        .with_base_url(sim.base_url()),
    )
    .unwrap();
    let window = Window::new(
        parse_datetime("2026-11-01T23:00:00Z").unwrap(),
        parse_datetime("2026-11-02T02:00:00Z").unwrap(),
    )
    .unwrap();
    for t in CdrType::ALL {
        let truth: Vec<Cdr> = sim.ground_truth(t, window).collect();
        assert!(truth.len() > 500, "{t}: {}", truth.len());
        let mut graphql = Vec::new();
        let mut pages = client.records(cdr_transport::RecordsRequest::new(t, window));
        while let Some(page) = pages.next().await {
            graphql.extend(page.unwrap().records);
        }
        let mut body = Vec::new();
        let mut export = client
            .export(cdr_transport::ExportRequest::new(t, window))
            .await
            .unwrap();
        while let Some(chunk) = export.next().await {
            body.extend_from_slice(&chunk.unwrap());
        }
        for version in [HashVersion::V1, HashVersion::V2] {
            let want = hash_of(version, &truth);
            assert_eq!(hash_of(version, &graphql), want, "{t} GraphQL");
            let mut reader = ExportReader::new(t.record_kind(), ExportContent::new(version));
            for chunk in body.chunks(4093) {
                reader.feed(chunk).unwrap();
            }
            let got = reader.finish().unwrap();
            assert_eq!(got.unstorable, 0, "{t}: {:?}", got.first_unstorable);
            assert_eq!(got.hash, want, "{t} export");
        }
    }
    sim.shutdown().await;
}
