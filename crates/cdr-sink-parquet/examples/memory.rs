//! Peak resident memory of Parquet encoders alone, as the archiver holds
//! them: `UNITS` encoders (default 4, the archiver's default concurrency)
//! open at once, each given pages of 1000 records in turn and drained after
//! every page, for `RECORDS` records each (default 250,000, one hour of the
//! benchmark's simulator), with row groups of at most `ROW_GROUP_BYTES`
//! (estimated encoded bytes; the default of `ParquetOptions` if not given).
//! Prints the resident memory once the records are loaded, before the
//! encoders exist, and its peak while they work (the peak is reset in
//! between), in MB: the difference is what the encoders hold.
//!
//! ```sh
//! MALLOC_MMAP_THRESHOLD_=262144 CDR_BENCH_PAGES=target/bench/pages \
//!     cargo run --release -p cdr-sink-parquet --example memory -- VOICE 4 250000 [ROW_GROUP_BYTES]
//! ```
//!
//! The mmap threshold is the one the `cdr-sink` binary sets; `CDR_BENCH_PAGES`
//! names pages saved by `cargo xtask bench` (otherwise generated samples are
//! used, which compress differently).

use std::hint::black_box;

use cdr_core::RecordKind;
use cdr_sink_api::{ColumnSet, Format};
use cdr_sink_parquet::{ParquetFormat, ParquetOptions};

fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = match args.next().as_deref() {
        Some("SMS") => RecordKind::Message,
        Some("API") => RecordKind::Api,
        _ => RecordKind::Voice,
    };
    let units: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let per_unit: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(250_000);
    let mut options = ParquetOptions::default();
    if let Some(bytes) = args.next().and_then(|a| a.parse().ok()) {
        options.row_group_bytes = std::num::NonZeroUsize::new(bytes);
    }
    let (records, source) = cdr_testkit::records::bench_records(kind, 100_000);
    // Resets the peak to the current resident memory (Linux 4.0 and later).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_mb("VmRSS:");
    let row_group_bytes = options.row_group_bytes.map_or(0, |b| b.get());
    let format = ParquetFormat::new(options);
    let mut encoders: Vec<_> = (0..units)
        .map(|_| format.encoder(ColumnSet::all(kind)).expect("an encoder"))
        .collect();
    let pages: Vec<_> = records.chunks(1000).collect();
    let mut bytes = 0;
    for i in 0..per_unit.div_ceil(1000) {
        for (u, e) in encoders.iter_mut().enumerate() {
            // Units start at different pages, as the archiver's do.
            e.encode(pages[(i + u * 7) % pages.len()]).expect("encode");
            bytes += black_box(e.take_ready()).len();
        }
    }
    for e in &mut encoders {
        bytes += e.finish().expect("finish").len();
    }
    let peak = status_mb("VmHWM:");
    println!(
        "{} x {units} encoders, {per_unit} records each ({source}), row groups of at most \
         {row_group_bytes} bytes: {:.1} bytes per record, \
         RSS before {before:.1} MB, peak {peak:.1} MB, encoders {:.1} MB",
        kind.typename(),
        bytes as f64 / (units * per_unit) as f64,
        peak - before,
    );
}
