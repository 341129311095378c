//! Encoding throughput of the CSV format, in records per second: 100k
//! records per file, given 1000 at a time (one page of the API), with ready
//! bytes taken after every call as the archiver does. With `CDR_BENCH_PAGES`
//! naming a directory of pages saved from the simulator, their records are
//! encoded (see `cdr_testkit::records::bench_records`).

use std::hint::black_box;

use cdr_core::{Cdr, RecordKind};
use cdr_sink_api::{ColumnSet, Format};
use cdr_sink_csv::CsvFormat;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RECORDS: usize = 100_000;

fn encode_file(kind: RecordKind, records: &[Cdr]) -> usize {
    let mut encoder = CsvFormat::new()
        .encoder(ColumnSet::all(kind))
        .expect("encoder");
    let mut bytes = 0;
    for page in records.chunks(1000) {
        encoder.encode(page).expect("encode");
        bytes += encoder.take_ready().len();
    }
    bytes + encoder.finish().expect("finish").len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("csv");
    group.sample_size(10);
    for kind in [RecordKind::Message, RecordKind::Voice] {
        let (records, source) = cdr_testkit::records::bench_records(kind, RECORDS);
        group.throughput(Throughput::Elements(records.len() as u64));
        println!(
            "csv/{}: {} records of {source}, {:.1} bytes per record",
            kind.typename(),
            records.len(),
            encode_file(kind, &records) as f64 / records.len() as f64
        );
        group.bench_function(kind.typename(), |b| {
            b.iter(|| black_box(encode_file(kind, &records)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
