//! Shared helpers of the archiver's end-to-end tests: the simulator, the real
//! binary, ground truth and archive readers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cdr_core::{Cdr, CdrType, Value, Window, format_datetime, parse_datetime};
use cdr_sim::{SimConfig, SimHandle};

pub const USER: &str = "user@example.com";
pub const PASSWORD: &str = "user-password";

pub fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    parse_datetime(s).expect("test datetime")
}

pub fn window(start: &str, end: &str) -> Window {
    Window::new(t(start), t(end)).expect("test window")
}

pub async fn sim(config: SimConfig) -> SimHandle {
    cdr_sim::start(config).await.expect("simulator starts")
}

/// The real `cdr-sink` binary with a clean environment and the simulator's
/// basic user as credentials.
pub fn bin(sim: &SimHandle) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdr-sink"));
    cmd.env_remove("TSG_TOKEN")
        .env_remove("TSG_API_URL")
        .env_remove("RUST_LOG")
        .env("TSG_EMAIL", USER)
        .env("TSG_PASSWORD", PASSWORD)
        .env("TSG_API_URL", sim.base_url())
        .kill_on_drop(true);
    cmd
}

/// One record as the strings of its columns; money normalised so that Parquet's
/// fixed scale and the server's own scale compare equal.
pub fn row(r: &Cdr) -> Vec<String> {
    let n = r.kind().columns().len();
    (0..n).map(|i| cell(r.value(i))).collect()
}

pub fn cell(v: Value<'_>) -> String {
    match v {
        Value::Null => String::new(),
        Value::Timestamp(t) => format_datetime(&t),
        Value::Decimal(d) => d.normalize().to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Str(s) => s.to_string(),
    }
}

/// Sorted rows of the ground truth of `types` over `windows`, by lowercase type.
pub fn truth(sim: &SimHandle, types: &[CdrType], windows: &[Window]) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out = BTreeMap::new();
    for &ty in types {
        let mut rows: Vec<Vec<String>> = windows
            .iter()
            .flat_map(|w| sim.ground_truth(ty, *w).map(|r| row(&r)).collect::<Vec<_>>())
            .collect();
        rows.sort();
        out.insert(ty.as_lower().to_string(), rows);
    }
    out
}

/// Every file under `root`, relative, sorted.
pub fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Data files: not under a `_` or `.` segment.
pub fn data_files(root: &Path) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|f| !f.split('/').any(|s| s.starts_with('_') || s.starts_with('.')))
        .map(|f| root.join(f))
        .collect()
}

fn type_of(path: &Path) -> String {
    path.to_string_lossy()
        .split('/')
        .find_map(|s| s.strip_prefix("cdr_type="))
        .unwrap_or("?")
        .to_string()
}

/// Sorted rows of every CSV data file, by type, with money normalised.
pub fn read_csv_archive(root: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for f in data_files(root) {
        let ty = type_of(&f);
        let mut reader = csv::Reader::from_path(&f).expect("csv file");
        let headers = reader.headers().expect("header").clone();
        let money: Vec<bool> = headers
            .iter()
            .map(|h| h == "charge" || h == "called_rate")
            .collect();
        for rec in reader.records() {
            let rec = rec.expect("csv record");
            let row = rec
                .iter()
                .zip(&money)
                .map(|(v, &m)| {
                    if m && !v.is_empty() {
                        cdr_core::parse_decimal(v).expect("decimal").normalize().to_string()
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            out.entry(ty.clone()).or_default().push(row);
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

/// Sorted rows of every Parquet data file, by type.
pub fn read_parquet_archive(root: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    use arrow_array::{Array, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for f in data_files(root) {
        let ty = type_of(&f);
        let file = std::fs::File::open(&f).expect("parquet file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet footer")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            for i in 0..batch.num_rows() {
                let row = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(i) {
                            return String::new();
                        }
                        if let Some(a) = c.as_any().downcast_ref::<TimestampMicrosecondArray>() {
                            let us = a.value(i);
                            let t = chrono::DateTime::from_timestamp_micros(us).expect("timestamp");
                            format_datetime(&t)
                        } else if let Some(a) = c.as_any().downcast_ref::<Decimal128Array>() {
                            let d = rust_decimal::Decimal::from_i128_with_scale(a.value(i), a.scale() as u32);
                            d.normalize().to_string()
                        } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
                            a.value(i).to_string()
                        } else if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
                            a.value(i).to_string()
                        } else {
                            panic!("unexpected column type {:?}", c.data_type())
                        }
                    })
                    .collect();
                out.entry(ty.clone()).or_default().push(row);
            }
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

/// Asserts `got` equals `want` type by type, with a short diff on failure.
pub fn assert_same(got: &BTreeMap<String, Vec<Vec<String>>>, want: &BTreeMap<String, Vec<Vec<String>>>) {
    for (ty, rows) in want {
        let g = got.get(ty).map(Vec::as_slice).unwrap_or(&[]);
        if g != rows.as_slice() {
            let missing = rows.iter().filter(|r| !g.contains(r)).count();
            let extra = g.len() as i64 - rows.len() as i64 + missing as i64;
            panic!(
                "{ty}: {} rows archived, {} expected ({missing} missing, {extra} extra)",
                g.len(),
                rows.len()
            );
        }
    }
    let extra_types: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(extra_types.is_empty(), "unexpected types {extra_types:?}");
}
