//! Encoding throughput of the Parquet format, in records per second: 100k
//! records per file, given 1000 at a time (one page of the API), with ready
//! bytes taken after every call as the archiver does; and of the Arrow
//! batches alone (`arrow/...`: [`record_batch`] per 1000 records); and of
//! the Parquet writer alone (`writer/...`: an `ArrowWriter` with the
//! encoder's properties given batches built beforehand), the part of
//! `parquet/.../zstd1` that is the `parquet` crate's. With `CDR_BENCH_PAGES`
//! naming a directory of pages saved from the simulator, their records are
//! encoded (see `cdr_testkit::records::bench_records`).

use std::hint::black_box;

use cdr_core::{Cdr, RecordKind};
use cdr_sink_api::{ColumnSet, Format};
use cdr_sink_parquet::{
    BATCH_ROWS, Compression, ParquetFormat, ParquetOptions, ZstdLevel, arrow_schema, record_batch,
};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use parquet::arrow::ArrowWriter;

const RECORDS: usize = 100_000;

fn encode_file(format: &ParquetFormat, kind: RecordKind, records: &[Cdr]) -> usize {
    let mut encoder = format.encoder(ColumnSet::all(kind)).expect("encoder");
    let mut bytes = 0;
    for page in records.chunks(1000) {
        encoder.encode(page).expect("encode");
        bytes += encoder.take_ready().len();
    }
    bytes + encoder.finish().expect("finish").len()
}

/// The records of one kind, read once for every group.
struct Input {
    kind: RecordKind,
    records: Vec<Cdr>,
    source: &'static str,
    columns: ColumnSet,
}

fn bench(c: &mut Criterion) {
    let inputs: Vec<Input> = [RecordKind::Message, RecordKind::Voice]
        .into_iter()
        .map(|kind| {
            let (records, source) = cdr_testkit::records::bench_records(kind, RECORDS);
            let columns = ColumnSet::all(kind);
            Input {
                kind,
                records,
                source,
                columns,
            }
        })
        .collect();
    per_input(c, "parquet", &inputs, |group, input| {
        let (kind, records) = (input.kind, &input.records);
        for (name, compression) in [
            ("zstd1", Compression::default()),
            (
                "zstd3",
                Compression::Zstd(ZstdLevel::new(3).expect("a valid level")),
            ),
            ("snappy", Compression::Snappy),
        ] {
            let format = ParquetFormat::new(ParquetOptions {
                compression,
                ..ParquetOptions::default()
            });
            println!(
                "parquet/{}/{name}: {} records of {}, {:.1} bytes per record",
                kind.typename(),
                records.len(),
                input.source,
                encode_file(&format, kind, records) as f64 / records.len() as f64
            );
            group.bench_function(BenchmarkId::new(kind.typename(), name), |b| {
                b.iter(|| black_box(encode_file(&format, kind, records)))
            });
        }
    });
    // Arrow batches alone: the typed columns the encoder hands the writer.
    per_input(c, "arrow", &inputs, |group, input| {
        group.bench_function(input.kind.typename(), |b| {
            b.iter(|| {
                for page in input.records.chunks(1000) {
                    black_box(record_batch(&input.columns, page).expect("a batch"));
                }
            })
        });
    });
    // The Parquet writer alone, on the batches the encoder would give it.
    per_input(c, "writer", &inputs, |group, input| {
        let columns = &input.columns;
        let schema = arrow_schema(columns);
        let props = ParquetOptions::default().writer_properties(columns);
        let batches: Vec<_> = input
            .records
            .chunks(BATCH_ROWS)
            .map(|b| record_batch(columns, b).expect("a batch"))
            .collect();
        group.bench_function(input.kind.typename(), |b| {
            b.iter(|| {
                let mut writer =
                    ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props.clone()))
                        .expect("a writer");
                for batch in &batches {
                    writer.write(batch).expect("write");
                }
                black_box(writer.into_inner().expect("finish").len())
            })
        });
    });
}

/// A group of ten samples per benchmark, whose throughput is each input's
/// record count, and the benchmarks `add` gives it for each input.
fn per_input(
    c: &mut Criterion,
    name: &str,
    inputs: &[Input],
    mut add: impl FnMut(&mut BenchmarkGroup<'_, WallTime>, &Input),
) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for input in inputs {
        group.throughput(Throughput::Elements(input.records.len() as u64));
        add(&mut group, input);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
