//! The content hash per record, both versions, in records per second: 100k
//! records given 1000 at a time (one page of the API), as the archiver adds
//! them. With `CDR_BENCH_PAGES` naming a directory of pages saved from the
//! simulator, their records are hashed (see `cdr_testkit::records::bench_records`).

use std::hint::black_box;

use cdr_core::RecordKind;
use cdr_sink::{ContentHash, HashVersion};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const RECORDS: usize = 100_000;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("content");
    group.sample_size(20);
    for kind in [RecordKind::Message, RecordKind::Voice] {
        let (records, source) = cdr_testkit::records::bench_records(kind, RECORDS);
        println!(
            "content/{}: {} records of {source}",
            kind.typename(),
            records.len()
        );
        group.throughput(Throughput::Elements(records.len() as u64));
        for (name, version) in [("v1", HashVersion::V1), ("v2", HashVersion::V2)] {
            group.bench_function(BenchmarkId::new(kind.typename(), name), |b| {
                b.iter(|| {
                    let mut hash = ContentHash::of_version(version);
                    for page in records.chunks(1000) {
                        hash.add_all(page);
                    }
                    black_box(hash.hex())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
