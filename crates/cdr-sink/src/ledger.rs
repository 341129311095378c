//! The ledger: one JSON document per finished unit (type x window), written
//! atomically after the unit's files are committed. Its presence is what makes a
//! unit finished; re-runs skip finished units and redo the others.
//!
//! Beside it, a replacement record (`_cdr_sink/replacing/...`) exists while a
//! rescan replaces a window's files (see [`crate::rescan`]).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError, Version};

use crate::content::HashVersion;
use crate::layout;

/// Version of the ledger document format written. Version 1 lacked
/// `generation` and `content_hash`; such entries read as generation 0 with no
/// content hash. Version 2 lacked `skipped_members`, `quarantined` and
/// `quarantine` (read as none). Version 3 lacked `content_hash_version`: its
/// hashes are of version 1. Version 4 came with hashes of version 2; since an
/// older cdr-sink would take one for a version 1 hash (and find every window
/// it rescans changed), it refuses entries of version 4 instead.
pub const LEDGER_VERSION: u32 = 4;

/// Ledger entries are read this many at a time (one GET each).
const READ_CONCURRENCY: usize = 16;

/// One data file of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Key relative to `--out`.
    pub key: String,
    pub size: u64,
    pub rows: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// The ledger entry of a finished unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitEntry {
    pub ledger_version: u32,
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub records: u64,
    pub pages: u64,
    /// Union members of unknown type that were skipped (`--on-unknown skip`).
    pub skipped: u64,
    /// The skipped elements per union member name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped_members: BTreeMap<String, u64>,
    /// Records whose values cannot be stored, kept aside
    /// (`--on-bad-record quarantine`) in [`UnitEntry::quarantine`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quarantined: u64,
    /// The quarantine file of the window (key relative to `--out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    pub min_datetime: Option<DateTime<Utc>>,
    pub max_datetime: Option<DateTime<Utc>>,
    pub format: String,
    pub schema_version: u32,
    pub files: Vec<FileEntry>,
    pub finished_at: DateTime<Utc>,
    /// Which generation of the window's files this is: 0 when first archived,
    /// one more each time a rescan replaced them.
    #[serde(default)]
    pub generation: u32,
    /// The content hash of the unit's records ([`crate::content`]); absent in
    /// entries of ledger version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Which definition `content_hash` follows; absent (entries before ledger
    /// version 4) means version 1.
    #[serde(default = "hash_version_1", with = "hash_version_number")]
    pub content_hash_version: HashVersion,
}

fn hash_version_1() -> HashVersion {
    HashVersion::V1
}

/// `content_hash_version` as its number; an unknown number does not parse.
mod hash_version_number {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::content::HashVersion;

    pub fn serialize<S: Serializer>(v: &HashVersion, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(v.number())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashVersion, D::Error> {
        let n = u32::deserialize(d)?;
        HashVersion::from_number(n)
            .ok_or_else(|| D::Error::custom(format!("unknown content_hash_version {n}")))
    }
}

impl UnitEntry {
    /// The unit's window.
    pub fn window(&self) -> Option<Window> {
        Window::new(self.window_start, self.window_end).ok()
    }

    /// Total bytes of the unit's files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger entry {key} is unreadable ({message}): delete it to redo that window")]
    Corrupt { key: String, message: String },
    #[error(
        "ledger entry {key} has ledger_version {version}, newer than this cdr-sink understands ({LEDGER_VERSION}): upgrade cdr-sink"
    )]
    TooNew { key: String, version: u32 },
    #[error(
        "ledger entry {key} has content_hash_version {version}, newer than this cdr-sink understands ({}): upgrade cdr-sink",
        HashVersion::CURRENT.number()
    )]
    UnknownHashVersion { key: String, version: u32 },
    #[error("replacement record {key} is unreadable ({message}): delete it")]
    CorruptReplacement { key: String, message: String },
}

/// A replacement of a window's files in progress: written before the first
/// file of the new generation is committed, deleted after the last file of the
/// old generation is gone. Whoever finds one (the next `archive` run) finishes
/// the replacement by keeping exactly the files the ledger entry lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub from_generation: u32,
    pub to_generation: u32,
    pub started_at: DateTime<Utc>,
}

impl Replacement {
    /// The window being replaced.
    pub fn window(&self) -> Option<Window> {
        Window::new(self.window_start, self.window_end).ok()
    }
}

/// Writes the entry of a finished unit, atomically (it appears whole or not at
/// all) and conditionally: `Absent` for a window's first entry, or the
/// version of the entry it replaces. A write whose precondition fails writes
/// nothing ([`StoreError::PreconditionFailed`]): another run got there first.
pub async fn write(
    dest: &dyn Destination,
    entry: &UnitEntry,
    precondition: &Precondition,
) -> Result<Version, LedgerError> {
    let window = entry.window().ok_or_else(|| LedgerError::Corrupt {
        key: "(new entry)".into(),
        message: "empty window".into(),
    })?;
    let key = layout::ledger_key(entry.cdr_type, &window).map_err(StoreError::from)?;
    let body = serde_json::to_vec_pretty(entry).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    Ok(dest
        .put_if(&key, Bytes::from(body), "application/json", precondition)
        .await?)
}

/// The finished windows of type `t`, from the names of its ledger entries
/// alone (one listing, no reads).
pub async fn list_windows(
    dest: &dyn Destination,
    t: CdrType,
) -> Result<BTreeSet<Window>, LedgerError> {
    Ok(dest
        .list(&layout::ledger_prefix(t))
        .await?
        .iter()
        .filter_map(|meta| layout::window_of_record(&meta.key))
        .collect())
}

/// Reads the entry of the unit `(t, w)`; `None` when it is not finished.
pub async fn read(
    dest: &dyn Destination,
    t: CdrType,
    w: &Window,
) -> Result<Option<UnitEntry>, LedgerError> {
    let key = layout::ledger_key(t, w).map_err(StoreError::from)?;
    read_entry(dest, &key).await
}

/// Reads the entry of the unit `(t, w)` with its version, for a replacement
/// that must swap exactly that entry; `None` when it is not finished.
pub async fn read_versioned(
    dest: &dyn Destination,
    t: CdrType,
    w: &Window,
) -> Result<Option<(UnitEntry, Version)>, LedgerError> {
    let key = layout::ledger_key(t, w).map_err(StoreError::from)?;
    let Some(current) = dest.get_versioned(&key).await? else {
        return Ok(None);
    };
    let entry = parse_entry(dest, &key, &current.body)?;
    Ok(Some((entry, current.version)))
}

/// Reads every finished unit of type `t`, keyed by window.
pub async fn read_type(
    dest: &dyn Destination,
    t: CdrType,
) -> Result<BTreeMap<Window, UnitEntry>, LedgerError> {
    let mut out = BTreeMap::new();
    for (_, entry) in read_type_entries(dest, t).await? {
        if let Some((w, e)) = entry?.and_then(|e| Some((e.window()?, e))) {
            out.insert(w, e);
        }
    }
    Ok(out)
}

/// Every ledger document of type `t` with its key, each read or failed on its
/// own (for checks that report every unreadable entry rather than stopping).
pub async fn read_type_entries(
    dest: &dyn Destination,
    t: CdrType,
) -> Result<Vec<(ObjectKey, Result<Option<UnitEntry>, LedgerError>)>, LedgerError> {
    let keys: Vec<ObjectKey> = dest
        .list(&layout::ledger_prefix(t))
        .await?
        .into_iter()
        .map(|meta| meta.key)
        .filter(|k| k.file_name().ends_with(".json"))
        .collect();
    let mut out: Vec<(ObjectKey, Result<Option<UnitEntry>, LedgerError>)> =
        futures_util::stream::iter(keys.into_iter().map(|key| async move {
            let entry = read_entry(dest, &key).await;
            (key, entry)
        }))
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

async fn read_entry(
    dest: &dyn Destination,
    key: &ObjectKey,
) -> Result<Option<UnitEntry>, LedgerError> {
    let Some(body) = dest.get(key).await? else {
        return Ok(None);
    };
    parse_entry(dest, key, &body).map(Some)
}

fn parse_entry(
    dest: &dyn Destination,
    key: &ObjectKey,
    body: &[u8],
) -> Result<UnitEntry, LedgerError> {
    let entry: UnitEntry = serde_json::from_slice(body).map_err(|e| {
        // A newer format may not parse at all; say so when its version is readable.
        #[derive(Deserialize)]
        struct Only {
            ledger_version: u32,
            content_hash_version: Option<u32>,
        }
        match serde_json::from_slice::<Only>(body) {
            Ok(v) if v.ledger_version > LEDGER_VERSION => LedgerError::TooNew {
                key: dest.location(key),
                version: v.ledger_version,
            },
            Ok(Only {
                content_hash_version: Some(n),
                ..
            }) if HashVersion::from_number(n).is_none() => LedgerError::UnknownHashVersion {
                key: dest.location(key),
                version: n,
            },
            _ => LedgerError::Corrupt {
                key: dest.location(key),
                message: e.to_string(),
            },
        }
    })?;
    if entry.ledger_version > LEDGER_VERSION {
        return Err(LedgerError::TooNew {
            key: dest.location(key),
            version: entry.ledger_version,
        });
    }
    Ok(entry)
}

/// Records that the files of `r`'s window are being replaced (atomically).
pub async fn write_replacement(dest: &dyn Destination, r: &Replacement) -> Result<(), LedgerError> {
    let key = replacement_key(r)?;
    let body = serde_json::to_vec_pretty(r).map_err(|e| LedgerError::CorruptReplacement {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    dest.put(&key, Bytes::from(body), "application/json")
        .await?;
    Ok(())
}

/// Removes the replacement record of `(t, w)` (a missing one is fine).
pub async fn delete_replacement(
    dest: &dyn Destination,
    t: CdrType,
    w: &Window,
) -> Result<(), LedgerError> {
    let key = layout::replacing_key(t, w).map_err(StoreError::from)?;
    dest.delete(&key).await?;
    Ok(())
}

/// Every replacement record under the output, of any type.
pub async fn read_replacements(dest: &dyn Destination) -> Result<Vec<Replacement>, LedgerError> {
    let mut out = Vec::new();
    for meta in dest.list(&layout::replacing_prefix()).await? {
        if !meta.key.file_name().ends_with(".json") {
            continue;
        }
        let Some(body) = dest.get(&meta.key).await? else {
            continue;
        };
        let r: Replacement =
            serde_json::from_slice(&body).map_err(|e| LedgerError::CorruptReplacement {
                key: dest.location(&meta.key),
                message: e.to_string(),
            })?;
        out.push(r);
    }
    Ok(out)
}

fn replacement_key(r: &Replacement) -> Result<ObjectKey, LedgerError> {
    let w = r.window().ok_or_else(|| LedgerError::CorruptReplacement {
        key: "(new record)".into(),
        message: "empty window".into(),
    })?;
    Ok(layout::replacing_key(r.cdr_type, &w).map_err(StoreError::from)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cdr_core::parse_datetime;
    use cdr_sink_local::LocalDir;

    /// An SMS entry of the window `[start, end)`, for tests here and elsewhere.
    pub(crate) fn entry(start: &str, end: &str) -> UnitEntry {
        UnitEntry {
            ledger_version: LEDGER_VERSION,
            cdr_type: CdrType::Sms,
            window_start: parse_datetime(start).unwrap(),
            window_end: parse_datetime(end).unwrap(),
            records: 2,
            pages: 1,
            skipped: 0,
            skipped_members: BTreeMap::new(),
            quarantined: 0,
            quarantine: None,
            min_datetime: None,
            max_datetime: None,
            format: "csv".into(),
            schema_version: 1,
            files: vec![],
            finished_at: parse_datetime("2026-11-02T00:00:00Z").unwrap(),
            generation: 3,
            content_hash: Some("ab".repeat(16)),
            content_hash_version: HashVersion::V2,
        }
    }

    #[tokio::test]
    async fn entries_round_trip_and_list_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let e = entry("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
        write(&dest, &e, &Precondition::Absent).await.unwrap();
        let w = e.window().unwrap();
        assert_eq!(
            read(&dest, CdrType::Sms, &w).await.unwrap(),
            Some(e.clone())
        );
        assert_eq!(read(&dest, CdrType::Mms, &w).await.unwrap(), None);
        let windows = list_windows(&dest, CdrType::Sms).await.unwrap();
        assert_eq!(windows.into_iter().collect::<Vec<_>>(), vec![w]);
        assert_eq!(read_type(&dest, CdrType::Sms).await.unwrap()[&w], e);
    }

    #[tokio::test]
    async fn version_1_entries_read_as_generation_0_and_newer_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let e = entry("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
        let w = e.window().unwrap();
        let key = layout::ledger_key(CdrType::Sms, &w).unwrap();
        let mut v1 = serde_json::to_value(&e).unwrap();
        v1["ledger_version"] = 1.into();
        let obj = v1.as_object_mut().unwrap();
        obj.remove("generation");
        obj.remove("content_hash");
        obj.remove("content_hash_version");
        dest.put(&key, Bytes::from(v1.to_string()), "application/json")
            .await
            .unwrap();
        let got = read(&dest, CdrType::Sms, &w).await.unwrap().unwrap();
        assert_eq!((got.generation, got.content_hash), (0, None));

        dest.put(
            &key,
            Bytes::from(r#"{"ledger_version": 9, "shape": "new"}"#),
            "application/json",
        )
        .await
        .unwrap();
        let err = read(&dest, CdrType::Sms, &w).await.unwrap_err().to_string();
        assert!(err.contains("upgrade cdr-sink"), "{err}");
        dest.put(&key, Bytes::from("{"), "application/json")
            .await
            .unwrap();
        let err = read(&dest, CdrType::Sms, &w).await.unwrap_err().to_string();
        assert!(err.contains("delete it to redo that window"), "{err}");
    }

    /// An entry as cdr-sink wrote it before content hashes had versions.
    const LEDGER_3: &str = r#"{
  "ledger_version": 3,
  "cdr_type": "SMS",
  "window_start": "2026-11-01T00:00:00Z",
  "window_end": "2026-11-01T01:00:00Z",
  "records": 2, "pages": 1, "skipped": 0,
  "min_datetime": null, "max_datetime": null,
  "format": "csv", "schema_version": 1,
  "files": [],
  "finished_at": "2026-11-02T00:00:00Z",
  "generation": 3,
  "content_hash": "2397c51cabb49131dbe0f73cf9f0cbc974ff1abce23afc1963c92b60857fb1fd"
}"#;

    #[tokio::test]
    async fn content_hash_versions_are_recorded_and_absent_means_1() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let e = entry("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
        let w = e.window().unwrap();
        let key = layout::ledger_key(CdrType::Sms, &w).unwrap();

        // New entries: ledger version 4, hash version 2, both written out.
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["ledger_version"], 4);
        assert_eq!(json["content_hash_version"], 2);

        dest.put(&key, Bytes::from(LEDGER_3), "application/json")
            .await
            .unwrap();
        let got = read(&dest, CdrType::Sms, &w).await.unwrap().unwrap();
        assert_eq!(got.content_hash_version, HashVersion::V1);
        assert_eq!(got.content_hash.as_deref().map(str::len), Some(64));
        assert_eq!((got.ledger_version, got.generation), (3, 3));

        // A hash of a version this cdr-sink does not know is refused whole.
        let mut later = serde_json::to_value(&e).unwrap();
        later["content_hash_version"] = 3.into();
        dest.put(&key, Bytes::from(later.to_string()), "application/json")
            .await
            .unwrap();
        let err = read(&dest, CdrType::Sms, &w).await.unwrap_err();
        assert!(
            matches!(err, LedgerError::UnknownHashVersion { version: 3, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade cdr-sink"), "{err}");
    }

    #[tokio::test]
    async fn replacement_records_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let e = entry("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
        let r = Replacement {
            cdr_type: CdrType::Voice,
            window_start: e.window_start,
            window_end: e.window_end,
            from_generation: 0,
            to_generation: 1,
            started_at: e.finished_at,
        };
        write_replacement(&dest, &r).await.unwrap();
        assert_eq!(read_replacements(&dest).await.unwrap(), vec![r.clone()]);
        delete_replacement(&dest, CdrType::Voice, &r.window().unwrap())
            .await
            .unwrap();
        assert!(read_replacements(&dest).await.unwrap().is_empty());
    }
}
