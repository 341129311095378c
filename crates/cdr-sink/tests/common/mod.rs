//! Shared helpers of the archiver's end-to-end tests: the simulator, the real
//! binary, ground truth and archive readers.
#![allow(dead_code)]

pub mod crash;
pub mod script;

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

/// A local archive in a temporary directory (kept while the first lives).
pub fn local_archive() -> (
    tempfile::TempDir,
    std::sync::Arc<dyn cdr_sink_api::Destination>,
) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dest = cdr_sink_local::LocalDir::new(dir.path().join("archive"));
    (dir, std::sync::Arc::new(dest))
}

/// `cdr-sink verify` of every type finds nothing wrong in `dest`.
pub async fn assert_verifies(dest: &Arc<dyn cdr_sink_api::Destination>) {
    let options = cdr_sink::verify::VerifyOptions {
        types: vec![],
        concurrency: 4,
        out: "out".into(),
    };
    let report = cdr_sink::verify::verify(dest, &options)
        .await
        .expect("verify runs");
    assert!(report.is_ok(), "{report}");
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
pub fn truth(
    sim: &SimHandle,
    types: &[CdrType],
    windows: &[Window],
) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out = BTreeMap::new();
    for &ty in types {
        let mut rows: Vec<Vec<String>> = windows
            .iter()
            .flat_map(|w| {
                sim.ground_truth(ty, *w)
                    .map(|r| row(&r))
                    .collect::<Vec<_>>()
            })
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
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
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
        .filter(|f| {
            !f.split('/')
                .any(|s| s.starts_with('_') || s.starts_with('.'))
        })
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
                        cdr_core::parse_decimal(v)
                            .expect("decimal")
                            .normalize()
                            .to_string()
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
                            let d = rust_decimal::Decimal::from_i128_with_scale(
                                a.value(i),
                                a.scale() as u32,
                            );
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
pub fn assert_same(
    got: &BTreeMap<String, Vec<Vec<String>>>,
    want: &BTreeMap<String, Vec<Vec<String>>>,
) {
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

// ---------------------------------------------------------------------------
// The archiver as a library: a fake clock, any destination, failure injection.

use std::sync::Arc;

use cdr_sink::{ArchivePlan, Progress, RawArchive, RunOptions, Summary, TransportSource};
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

/// A client of the simulator's basic user that retries quickly.
pub fn client(sim: &SimHandle) -> cdr_transport::Client {
    use cdr_transport::{Auth, ClientConfig, RetryPolicy};
    let config = ClientConfig::new(Auth::Login {
        email: USER.into(),
        password: cdr_core::Password::new(PASSWORD),
    })
    .with_base_url(sim.base_url())
    .with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(5),
        max_total: std::time::Duration::from_secs(2),
    });
    cdr_transport::Client::new(config).expect("client")
}

/// `archive` flags for the library: `types`, csv or parquet, 1h windows.
pub fn raw(types: &str, format: &str) -> RawArchive {
    RawArchive {
        types: types.into(),
        out: "library".into(),
        format: format.into(),
        limit: 500,
        concurrency: "4".into(),
        window: "1h".into(),
        ..RawArchive::default()
    }
}

/// Plans `raw` at the clock reading `now` and runs it like the binary would,
/// against the simulator (whose clock is set to `now` as well).
pub async fn run_at(
    sim: &SimHandle,
    dest: Arc<dyn Destination>,
    raw: &RawArchive,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Summary, cdr_sink::ArchiveError> {
    sim.set_now(Some(now));
    let plan = ArchivePlan::new(raw, now).expect("valid flags");
    let format: Arc<dyn cdr_sink_api::Format> = match raw.format.as_str() {
        "csv" => Arc::new(cdr_sink_csv::CsvFormat::new()),
        _ => Arc::new(cdr_sink_parquet::ParquetFormat::new(Default::default())),
    };
    let source = Arc::new(TransportSource::new(client(sim), plan.limit, None));
    let options = RunOptions {
        roll: cdr_sink::RollPolicy {
            rows: 200,
            bytes: u64::MAX,
        },
        ..RunOptions::default()
    };
    cdr_sink::archive(
        &plan,
        source,
        dest,
        format,
        options,
        Progress::new(&plan.types),
    )
    .await
}

/// An S3 destination at `url` on the shared test server.
pub async fn s3_at(url: &str) -> Arc<dyn Destination> {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server (moto) starts");
    let options = cdr_sink_s3::S3Options {
        endpoint: Some(server.endpoint()),
        credentials: Some(server.credentials()),
        region: Some(cdr_testkit::REGION.into()),
        ..Default::default()
    };
    let dest = cdr_sink_s3::S3Destination::from_url(url, options)
        .await
        .expect("S3 destination");
    Arc::new(dest)
}

/// An S3 destination under `cdrs/` in a fresh bucket of the shared test
/// server, and the bucket's name.
pub async fn s3_dest(hint: &str) -> (Arc<dyn Destination>, String) {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server (moto) starts");
    let bucket = server.new_bucket(hint).await.expect("bucket");
    (s3_at(&format!("s3://{bucket}/cdrs/")).await, bucket)
}

/// Every object of `dest` with its bytes, by key.
pub async fn snapshot(dest: &dyn Destination) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for meta in dest.list("").await.expect("list") {
        let body = dest
            .get(&meta.key)
            .await
            .expect("get")
            .expect("listed object");
        out.insert(meta.key.to_string(), body.to_vec());
    }
    out
}

/// Copies every object of `dest` into a new local directory, to read it back
/// with the readers above.
pub async fn mirror(dest: &dyn Destination) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (key, body) in snapshot(dest).await {
        let path = dir.path().join(&key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    dir
}

/// Rows of the archive in `dest`, whatever its format.
pub async fn read_archive(
    dest: &dyn Destination,
    format: &str,
) -> BTreeMap<String, Vec<Vec<String>>> {
    let dir = mirror(dest).await;
    if format == "csv" {
        read_csv_archive(dir.path())
    } else {
        read_parquet_archive(dir.path())
    }
}

/// The hourly windows of `[start, end)`.
pub fn hours_between(start: &str, end: &str) -> Vec<Window> {
    let (mut a, b) = (t(start), t(end));
    let mut out = Vec::new();
    while a < b {
        out.push(Window::new(a, a + chrono::TimeDelta::hours(1)).expect("hour"));
        a += chrono::TimeDelta::hours(1);
    }
    out
}

/// A destination whose clock runs `ahead` of its store's: a run on it sees
/// the store as it will be then, e.g. with the leases of a killed run's claims
/// expired.
#[derive(Debug)]
pub struct Later {
    pub inner: Arc<dyn Destination>,
    pub ahead: std::time::Duration,
}

#[async_trait::async_trait]
impl Destination for Later {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn location(&self, key: &ObjectKey) -> String {
        self.inner.location(key)
    }
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }
    async fn begin(&self, key: &ObjectKey, ct: &str) -> Result<Box<dyn Upload>, StoreError> {
        self.inner.begin(key, ct).await
    }
    async fn put(
        &self,
        key: &ObjectKey,
        body: bytes::Bytes,
        ct: &str,
    ) -> Result<ObjectMeta, StoreError> {
        self.inner.put(key, body, ct).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<bytes::Bytes>, StoreError> {
        self.inner.get(key).await
    }
    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.inner.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        self.inner.rename(from, to).await
    }
    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.inner.clean_incomplete(which).await
    }
    async fn put_if(
        &self,
        key: &ObjectKey,
        body: bytes::Bytes,
        ct: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        self.inner.put_if(key, body, ct, precondition).await
    }
    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        self.inner.get_versioned(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.inner.delete_if(key, version).await
    }
    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        Ok(self.inner.now().await? + self.ahead)
    }
}
