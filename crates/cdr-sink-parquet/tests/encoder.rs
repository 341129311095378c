//! The Parquet encoder's behaviour: errors, row groups, incremental output,
//! size estimates, options.

use std::num::NonZeroUsize;

use bytes::Bytes;
use cdr_core::{Cdr, MessageCdr, RecordKind, VoiceCdr};
use cdr_sink_api::{ColumnSet, EncodeError, Encoder, Format};
use cdr_sink_parquet::{
    BATCH_ROWS, Compression, DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS, ParquetFormat,
    ParquetOptions, ReadError, ZstdLevel, arrow_schema, parquet_row_count, record_batch,
};
use cdr_testkit::records::*;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

fn rows(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn options(row_group_rows: usize) -> ParquetOptions {
    ParquetOptions {
        row_group_rows: rows(row_group_rows),
        ..ParquetOptions::default()
    }
}

fn metadata(file: &[u8]) -> ParquetMetaData {
    ParquetMetaDataReader::new()
        .parse_and_finish(&Bytes::copy_from_slice(file))
        .unwrap()
}

fn encode_all(encoder: &mut dyn Encoder, records: &[Cdr], chunk: usize) -> Vec<u8> {
    let mut file = Vec::new();
    for c in records.chunks(chunk) {
        encoder.encode(c).unwrap();
        file.extend(encoder.take_ready());
    }
    file.extend(encoder.finish().unwrap());
    file
}

/// An encoder of every column of `kind` with the default options.
fn default_encoder(kind: RecordKind) -> Box<dyn Encoder> {
    ParquetFormat::default()
        .encoder(ColumnSet::all(kind))
        .unwrap()
}

/// The footer of a file of `n` samples of `kind` written with the default
/// options, `chunk` records per call.
fn default_file_metadata(kind: RecordKind, n: usize, chunk: usize) -> ParquetMetaData {
    let mut encoder = default_encoder(kind);
    metadata(&encode_all(encoder.as_mut(), &samples(kind, n), chunk))
}

fn message_with_charge(charge: &str) -> Cdr {
    let Cdr::Message(m) = sample(RecordKind::Message, 1) else {
        unreachable!()
    };
    Cdr::Message(MessageCdr {
        charge: Some(dec(charge)),
        ..m
    })
}

#[test]
fn format_names() {
    let f = ParquetFormat::default();
    assert_eq!(f.name(), "parquet");
    assert_eq!(f.extension(), "parquet");
    assert_eq!(f.content_type(), "application/vnd.apache.parquet");
}

#[test]
fn wrong_kind_is_an_error_and_encodes_nothing() {
    let mut encoder = default_encoder(RecordKind::Message);
    let mut records = samples(RecordKind::Message, 3);
    records.push(sample(RecordKind::Voice, 0));
    match encoder.encode(&records) {
        Err(EncodeError::WrongKind { expected, got }) => {
            assert_eq!((expected, got), (RecordKind::Message, RecordKind::Voice));
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    assert_eq!(encoder.rows(), 0);
    // The encoder stays usable, and the rejected call left no trace.
    let file = encode_all(encoder.as_mut(), &records[..3], 10);
    assert_eq!(parquet_row_count(file.into()).unwrap(), 3);
}

#[test]
fn over_scale_decimal_is_an_error_naming_the_column() {
    let mut encoder = default_encoder(RecordKind::Message);
    encoder.encode(&samples(RecordKind::Message, 5)).unwrap();
    let bad = [
        message_with_charge("0.1"),
        message_with_charge("0.00000000001"),
    ];
    let err = encoder.encode(&bad).unwrap_err();
    let EncodeError::Value { column, message } = &err else {
        panic!("expected a value error, got {err:?}");
    };
    assert_eq!(*column, "charge");
    assert!(message.contains("11 decimal places"), "{message}");
    assert!(err.to_string().starts_with("column `charge`: "), "{err}");
    assert_eq!(encoder.rows(), 5);

    // Trailing zeros beyond the scale are exact, so they are accepted.
    encoder
        .encode(&[message_with_charge("0.100000000000000")])
        .unwrap();
    let file = encode_all(encoder.as_mut(), &[], 1);
    assert_eq!(parquet_row_count(file.into()).unwrap(), 6);
}

#[test]
fn files_do_not_depend_on_call_sizes_and_a_refused_call_leaves_no_trace() {
    let records = samples(RecordKind::Message, 3000);
    let whole = encode_all(
        default_encoder(RecordKind::Message).as_mut(),
        &records,
        3000,
    );
    // Batches end after the same rows however records are handed in.
    for chunk in [1, 7, 1000, 1024, 1500] {
        let file = encode_all(
            default_encoder(RecordKind::Message).as_mut(),
            &records,
            chunk,
        );
        assert!(file == whole, "calls of {chunk} records wrote another file");
    }
    // A call that would cross a batch boundary, refused for its last record,
    // appends none of its rows: the file is the one written without it.
    let mut encoder = default_encoder(RecordKind::Message);
    encoder.encode(&records[..1000]).unwrap();
    let mut bad = records[1000..2500].to_vec();
    bad.push(message_with_charge("0.00000000001"));
    assert!(matches!(
        encoder.encode(&bad),
        Err(EncodeError::Value {
            column: "charge",
            ..
        })
    ));
    assert_eq!(encoder.rows(), 1000);
    let mut file = encoder.take_ready();
    file.extend(encode_all(encoder.as_mut(), &records[1000..], 1000));
    assert!(file == whole, "the refused call changed the file");
}

#[test]
fn the_published_writer_properties_write_the_encoders_bytes() {
    // Enough rows for several row groups of 3000 rows and batches of
    // BATCH_ROWS, none on a boundary.
    let n = 7 * BATCH_ROWS + 123;
    for (kind, options) in [
        (RecordKind::Message, ParquetOptions::default()),
        (RecordKind::Voice, options(3000)),
    ] {
        let columns = ColumnSet::all(kind);
        let records = samples(kind, n);
        let mut encoder = ParquetFormat::new(options.clone())
            .encoder(columns.clone())
            .unwrap();
        let encoded = encode_all(encoder.as_mut(), &records, 1000);

        let props = options.writer_properties(&columns);
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(Vec::new(), arrow_schema(&columns), Some(props))
                .unwrap();
        for batch in records.chunks(BATCH_ROWS) {
            writer
                .write(&record_batch(&columns, batch).unwrap())
                .unwrap();
        }
        let written = writer.into_inner().unwrap();
        assert_eq!(written.len(), encoded.len(), "{kind:?}");
        assert!(written == encoded, "{kind:?}: the files differ");
    }
}

#[test]
fn too_large_decimal_is_an_error() {
    let Cdr::Voice(v) = sample(RecordKind::Voice, 1) else {
        unreachable!()
    };
    let record = Cdr::Voice(VoiceCdr {
        called_rate: Some(cdr_core::rust_decimal::Decimal::MAX),
        ..v
    });
    let mut encoder = default_encoder(RecordKind::Voice);
    match encoder.encode(&[record]) {
        Err(EncodeError::Value { column, message }) => {
            assert_eq!(column, "called_rate");
            assert!(
                message.contains("does not fit DECIMAL(38, 10)"),
                "{message}"
            );
        }
        other => panic!("expected a value error, got {other:?}"),
    }
}

#[test]
fn sub_microsecond_timestamp_is_an_error() {
    let mut encoder = default_encoder(RecordKind::Api);
    let record = all_null(RecordKind::Api, t("2026-11-01T00:00:00.000000001Z"));
    match encoder.encode(&[record]) {
        Err(EncodeError::Value { column, message }) => {
            assert_eq!(column, "datetime");
            assert!(message.contains("sub-microsecond"), "{message}");
            assert!(
                message.contains("2026-11-01T00:00:00.000000001Z"),
                "{message}"
            );
        }
        other => panic!("expected a value error, got {other:?}"),
    }
}

#[test]
fn use_after_finish_is_an_error() {
    let mut encoder = default_encoder(RecordKind::Api);
    encoder.encode(&samples(RecordKind::Api, 2)).unwrap();
    let file = encode_all(encoder.as_mut(), &[], 1);
    assert!(matches!(
        encoder.encode(&samples(RecordKind::Api, 1)),
        Err(EncodeError::Finished)
    ));
    assert!(matches!(encoder.finish(), Err(EncodeError::Finished)));
    assert!(encoder.take_ready().is_empty());
    assert_eq!(encoder.size_estimate(), file.len() as u64);
    assert_eq!(encoder.rows(), 2);
}

#[test]
fn small_row_group_limit_gives_many_row_groups() {
    let records = samples(RecordKind::Voice, 10_000);
    let mut encoder = ParquetFormat::new(options(3000))
        .encoder(ColumnSet::all(RecordKind::Voice))
        .unwrap();
    let file = encode_all(encoder.as_mut(), &records, 700);
    let meta = metadata(&file);
    let sizes: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(sizes, [3000, 3000, 3000, 1000]);
    assert_eq!(parquet_row_count(file.into()).unwrap(), 10_000);
}

/// With the defaults, wide records end their row groups at the byte limit
/// long before the row limit, and no row group grows much past it.
#[test]
fn default_row_groups_are_bounded_by_bytes() {
    let meta = default_file_metadata(RecordKind::Voice, 150_000, 1000);
    let groups = meta.row_groups();
    let limit = DEFAULT_ROW_GROUP_BYTES.get() as i64;
    let full = &groups[..groups.len() - 1];
    assert!(full.len() >= 2, "{} row groups", groups.len());
    for (i, g) in full.iter().enumerate() {
        let at = format!(
            "row group {i}: {} rows, {} bytes",
            g.num_rows(),
            g.compressed_size()
        );
        assert!(g.num_rows() < DEFAULT_ROW_GROUP_ROWS.get() as i64, "{at}");
        // The writer splits by an estimate; one batch of rows past it at most.
        assert!(g.compressed_size() <= limit + limit / 8, "{at}");
        assert!(g.compressed_size() >= limit / 2, "{at}");
    }
    let rows: i64 = groups.iter().map(|g| g.num_rows()).sum();
    assert_eq!(rows, 150_000);
}

#[test]
fn statistics_are_written_per_chunk_and_page_except_for_phone_numbers() {
    let meta = default_file_metadata(RecordKind::Message, 5000, 5000);
    for group in meta.row_groups() {
        for column in group.columns() {
            let name = column.column_path().string();
            // Random phone numbers' min and max never let a reader skip.
            let unique = ["from_number", "to_number"].contains(&name.as_str());
            assert_eq!(column.statistics().is_none(), unique, "{name}");
            assert_eq!(column.column_index_offset().is_none(), unique, "{name}");
            assert!(column.offset_index_offset().is_some(), "{name}");
        }
    }
}

#[test]
fn every_compression_option_writes_readable_files() {
    use parquet::basic::Compression as Codec;
    let records = samples(RecordKind::Message, 2000);
    for (compression, codec) in [
        (Compression::default(), "ZSTD"),
        (Compression::Zstd(ZstdLevel::new(19).unwrap()), "ZSTD"),
        (Compression::Snappy, "SNAPPY"),
        (Compression::None, "UNCOMPRESSED"),
    ] {
        let options = ParquetOptions {
            compression,
            ..ParquetOptions::default()
        };
        let mut encoder = ParquetFormat::new(options)
            .encoder(ColumnSet::all(RecordKind::Message))
            .unwrap();
        let file = encode_all(encoder.as_mut(), &records, 500);
        let meta = metadata(&file);
        let got = meta.row_group(0).column(0).compression();
        let name = match got {
            Codec::ZSTD(_) => "ZSTD",
            Codec::SNAPPY => "SNAPPY",
            Codec::UNCOMPRESSED => "UNCOMPRESSED",
            other => panic!("unexpected codec {other:?}"),
        };
        assert_eq!(name, codec, "{compression:?}");
        assert_eq!(parquet_row_count(file.into()).unwrap(), 2000);
    }
}

struct Run {
    file: Vec<u8>,
    pieces: usize,
    largest_piece: usize,
    peak_memory: u64,
}

/// Encodes `total` voice records 1000 at a time into row groups of `group`
/// rows, taking ready bytes after every call.
fn run(total: usize, group: usize) -> Run {
    let mut encoder = ParquetFormat::new(options(group))
        .parquet_encoder(ColumnSet::all(RecordKind::Voice))
        .unwrap();
    let mut out = Run {
        file: Vec::new(),
        pieces: 0,
        largest_piece: 0,
        peak_memory: 0,
    };
    for start in (0..total).step_by(1000) {
        let chunk: Vec<Cdr> = (start..start + 1000)
            .map(|i| sample(RecordKind::Voice, i))
            .collect();
        encoder.encode(&chunk).unwrap();
        out.peak_memory = out.peak_memory.max(encoder.memory_size());
        let ready = encoder.take_ready();
        if !ready.is_empty() {
            out.pieces += 1;
            out.largest_piece = out.largest_piece.max(ready.len());
        }
        out.file.extend(ready);
    }
    out.file.extend(encoder.finish().unwrap());
    out
}

/// A large input comes out row group by row group: bytes are ready long
/// before the end, memory stays flat as the input grows, and the pieces make
/// one valid file.
#[test]
fn output_is_incremental_and_memory_is_bounded() {
    const GROUP: usize = 20_000;
    let small = run(3 * GROUP, GROUP);
    let large = run(12 * GROUP, GROUP);

    // The magic bytes, then one piece per finished row group.
    assert_eq!(large.pieces, 1 + 11, "pieces of the large file");
    assert!(
        large.largest_piece < large.file.len() / 8,
        "largest piece {} of {} bytes",
        large.largest_piece,
        large.file.len()
    );
    // Four times the records, about the same memory.
    assert!(
        (large.peak_memory as f64) < small.peak_memory as f64 * 1.5,
        "peak memory {} for {} rows, {} for {} rows",
        large.peak_memory,
        12 * GROUP,
        small.peak_memory,
        3 * GROUP
    );
    assert!(large.peak_memory < 32 << 20, "{}", large.peak_memory);
    for r in [small, large] {
        let rows = parquet_row_count(r.file.into()).unwrap();
        assert!(rows == 3 * GROUP as u64 || rows == 12 * GROUP as u64);
    }
}

/// The estimate never shrinks while records are added, and for a file of
/// several row groups it ends near the real size; after `finish` it is the
/// real size.
#[test]
fn size_estimate_is_monotonic_and_ends_close() {
    for (kind, chunk) in [
        (RecordKind::Message, 100),
        (RecordKind::Voice, 3000),
        (RecordKind::Api, 1),
    ] {
        let total = if chunk == 1 { 100_000 } else { 150_000 };
        let mut encoder = ParquetFormat::new(options(16_384))
            .encoder(ColumnSet::all(kind))
            .unwrap();
        let mut last = encoder.size_estimate();
        assert!(last >= 4, "the magic bytes are part of the file");
        let mut produced = 0;
        let records = samples(kind, total);
        for c in records.chunks(chunk) {
            encoder.encode(c).unwrap();
            produced += encoder.take_ready().len() as u64;
            let now = encoder.size_estimate();
            assert!(now >= last, "{kind}: estimate fell from {last} to {now}");
            assert!(
                now >= produced,
                "{kind}: estimate {now} below {produced} produced"
            );
            last = now;
        }
        produced += encoder.finish().unwrap().len() as u64;
        assert_eq!(encoder.size_estimate(), produced);
        let error = last.abs_diff(produced) as f64 / produced as f64;
        assert!(
            error < 0.10,
            "{kind}: last estimate {last}, real size {produced} ({:.1}% off)",
            error * 100.0
        );
    }
}

#[test]
fn row_count_of_broken_files_is_an_error() {
    let mut encoder = default_encoder(RecordKind::Api);
    let file = encode_all(encoder.as_mut(), &samples(RecordKind::Api, 10), 10);
    for broken in [
        Vec::new(),
        b"PAR1".to_vec(),
        file[..file.len() - 1].to_vec(),
        file[..file.len() / 2].to_vec(),
        b"datetime,from\n2026-11-01T00:00:00Z,x\n".to_vec(),
    ] {
        let err = parquet_row_count(broken.into()).unwrap_err();
        assert!(matches!(err, ReadError::Parquet(_)), "{err:?}");
        assert!(err.to_string().starts_with("not a readable Parquet file"));
    }
}
