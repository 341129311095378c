//! Ledger entries of either content hash version: an entry written before
//! hashes had versions (version 1, SHA-256) is rescanned by its own
//! definition, so it stays unchanged while the records do and is replaced,
//! with an entry of the current version, once a charge changes. Both verify.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use cdr_core::{Cdr, CdrType, MessageCdr, Window, format_datetime, parse_datetime, parse_decimal};
use cdr_sink::layout;
use cdr_sink::ledger::{self, UnitEntry};
use cdr_sink::verify::{VerifyOptions, verify};
use cdr_sink::{
    ArchivePlan, FormatChoice, Output, PageData, PageSource, PageStream, Progress, RawArchive,
    RunOptions, Summary, Unit, archive,
};
use cdr_sink::{ContentHash, HashVersion};
use cdr_sink_api::Destination;
use cdr_sink_local::LocalDir;

const START: &str = "2026-11-01T22:00:00Z";
const END: &str = "2026-11-01T23:00:00Z";

/// The same records on every fetch until `set` changes them.
struct Records(Mutex<Vec<Cdr>>);

impl Records {
    fn set(&self, records: Vec<Cdr>) {
        *self.0.lock().unwrap() = records;
    }
}

impl PageSource for Records {
    fn pages(&self, _unit: &Unit) -> PageStream {
        let pages: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .chunks(2)
            .map(|c| {
                Ok(PageData {
                    records: c.to_vec(),
                    ..PageData::default()
                })
            })
            .collect();
        Box::pin(futures_util::stream::iter(pages))
    }
}

fn sms(minute: u32, charge: &str) -> Cdr {
    Cdr::Message(MessageCdr {
        datetime: parse_datetime(&format!("2026-11-01T22:{minute:02}:00.5Z")).unwrap(),
        from_number: Some(format!("+1555000{minute:04}").into()),
        to_number: Some("+15559990000".into()),
        direction: Some("outbound".into()),
        status: Some("delivered".into()),
        charge: Some(parse_decimal(charge).unwrap()),
        r#type: Some("SMS".into()),
    })
}

fn records() -> Vec<Cdr> {
    (0..5).map(|m| sms(m * 7, "0.0035")).collect()
}

fn hash(version: HashVersion, records: &[Cdr]) -> String {
    let mut h = ContentHash::of_version(version);
    h.add_all(records);
    h.hex()
}

async fn run(source: &Arc<Records>, dest: &Arc<LocalDir>, rescan: bool) -> Summary {
    let raw = RawArchive {
        types: "SMS".into(),
        start: START.into(),
        end: END.into(),
        out: "unused".into(),
        format: "csv".into(),
        limit: 2,
        concurrency: "1".into(),
        window: "1h".into(),
        rescan: rescan.then(|| "1h".into()),
        ..RawArchive::default()
    };
    let mut plan = ArchivePlan::new(&raw, parse_datetime("2026-11-27T00:00:00Z").unwrap()).unwrap();
    plan.output = Output::Local("unused".into());
    plan.format = FormatChoice::Csv;
    let summary = archive(
        &plan,
        source.clone(),
        dest.clone(),
        Arc::new(cdr_sink_csv::CsvFormat::new()),
        RunOptions::default(),
        Progress::new(&plan.types),
    )
    .await
    .unwrap();
    assert!(summary.is_ok(), "{summary:?}");
    summary
}

fn window() -> Window {
    Window::new(parse_datetime(START).unwrap(), parse_datetime(END).unwrap()).unwrap()
}

async fn entry(dest: &LocalDir) -> UnitEntry {
    ledger::read(dest, CdrType::Sms, &window())
        .await
        .unwrap()
        .unwrap()
}

async fn assert_verifies(dest: &LocalDir) {
    let dest: Arc<dyn Destination> = Arc::new(dest.clone());
    let report = verify(
        &dest,
        &VerifyOptions {
            types: vec![],
            concurrency: 2,
            out: "OUT".into(),
        },
    )
    .await
    .unwrap();
    assert!(report.is_ok(), "{report}");
}

/// The entry as a cdr-sink of ledger version 3 wrote it: no
/// `content_hash_version`, a SHA-256 sum as the content hash.
fn version_3_entry(e: &UnitEntry, content_hash: &str) -> String {
    let f = &e.files[0];
    format!(
        r#"{{
  "ledger_version": 3,
  "cdr_type": "SMS",
  "window_start": "{start}",
  "window_end": "{end}",
  "records": {records},
  "pages": {pages},
  "skipped": 0,
  "min_datetime": "{min}",
  "max_datetime": "{max}",
  "format": "csv",
  "schema_version": {schema},
  "files": [
    {{
      "key": "{key}",
      "size": {size},
      "rows": {rows},
      "sha256": "{sha256}"
    }}
  ],
  "finished_at": "2026-11-02T00:00:00Z",
  "generation": 0,
  "content_hash": "{content_hash}"
}}"#,
        start = START,
        end = END,
        records = e.records,
        pages = e.pages,
        min = format_datetime(&e.min_datetime.unwrap()),
        max = format_datetime(&e.max_datetime.unwrap()),
        schema = e.schema_version,
        key = f.key,
        size = f.size,
        rows = f.rows,
        sha256 = f.sha256,
    )
}

#[tokio::test]
async fn a_version_1_entry_is_rescanned_by_its_own_hash_and_replaced_by_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Arc::new(LocalDir::new(dir.path()));
    let source = Arc::new(Records(Mutex::new(records())));

    // A first archive writes the current version.
    run(&source, &dest, false).await;
    let fresh = entry(&dest).await;
    assert_eq!(fresh.ledger_version, ledger::LEDGER_VERSION);
    assert_eq!(fresh.content_hash_version, HashVersion::V2);
    assert_eq!(
        fresh.content_hash.as_deref(),
        Some(hash(HashVersion::V2, &records()).as_str())
    );
    assert_eq!(fresh.files.len(), 1);

    // The window as an older cdr-sink recorded it.
    let v1 = hash(HashVersion::V1, &records());
    assert_eq!(v1.len(), 64);
    let key = layout::ledger_key(CdrType::Sms, &window()).unwrap();
    dest.put(
        &key,
        Bytes::from(version_3_entry(&fresh, &v1)),
        "application/json",
    )
    .await
    .unwrap();
    let old = entry(&dest).await;
    assert_eq!(
        (old.ledger_version, old.content_hash_version),
        (3, HashVersion::V1)
    );
    assert_verifies(&dest).await;

    // Same records: unchanged, and the entry is left as it was.
    let s = run(&source, &dest, true).await;
    let r = s.rescan.as_ref().unwrap();
    assert_eq!((r.checked(), r.changed()), (1, 0));
    assert_eq!(entry(&dest).await, old);
    assert_verifies(&dest).await;

    // A re-rated charge: changed, replaced by an entry of the current version.
    let mut rerated = records();
    rerated[2] = sms(14, "0.0036");
    source.set(rerated.clone());
    let s = run(&source, &dest, true).await;
    let r = s.rescan.as_ref().unwrap();
    assert_eq!((r.checked(), r.changed()), (1, 1));
    let new = entry(&dest).await;
    assert_eq!(new.generation, 1);
    assert_eq!(new.ledger_version, ledger::LEDGER_VERSION);
    assert_eq!(new.content_hash_version, HashVersion::V2);
    assert_eq!(
        new.content_hash.as_deref(),
        Some(hash(HashVersion::V2, &rerated).as_str())
    );
    assert_verifies(&dest).await;

    // And the replacement rescans as unchanged by its own definition.
    let s = run(&source, &dest, true).await;
    assert_eq!(s.rescan.as_ref().unwrap().changed(), 0);
}
