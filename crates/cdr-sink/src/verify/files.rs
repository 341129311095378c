//! Phase 2: every file a ledger entry lists, read whole: size, SHA-256 and
//! row count (counted by the file's format as it streams by).

use std::collections::BTreeMap;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, ObjectMeta};

use crate::ledger::{FileEntry, UnitEntry};

use super::{Findings, Fix, ProblemKind};

/// Checks every listed file; returns (files read, bytes read).
pub(super) async fn check(
    dest: &dyn Destination,
    listing: &BTreeMap<String, ObjectMeta>,
    entries: &BTreeMap<CdrType, BTreeMap<Window, UnitEntry>>,
    concurrency: usize,
    found: &mut Findings,
) -> (u64, u64) {
    let mut jobs = Vec::new();
    for (&t, windows) in entries {
        for (&w, e) in windows {
            for f in &e.files {
                jobs.push((t, w, e.format.clone(), f.clone()));
            }
        }
    }
    let mut checked = 0;
    let mut bytes = 0;
    let mut results = futures_util::stream::iter(jobs.into_iter().map(|(t, w, format, f)| {
        let meta = listing.get(&f.key).cloned();
        async move {
            let outcome = check_file(dest, meta, &format, &f).await;
            (t, w, f, outcome)
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some((t, w, f, outcome)) = results.next().await {
        let location = ObjectKey::new(f.key.clone())
            .map(|k| dest.location(&k))
            .unwrap_or_else(|_| f.key.clone());
        let (kind, message) = match outcome {
            FileOutcome::Ok { read } => {
                checked += 1;
                bytes += read;
                continue;
            }
            FileOutcome::Missing => (
                ProblemKind::MissingFile,
                format!("{location} is listed in the ledger but does not exist (deleted?)"),
            ),
            FileOutcome::Truncated { size } => (
                ProblemKind::TruncatedFile,
                format!(
                    "{location} is truncated: {size} of the {} bytes the ledger records",
                    f.size
                ),
            ),
            FileOutcome::Longer { size } => (
                ProblemKind::SizeMismatch,
                format!("{location} has {size} bytes, the ledger records {}", f.size),
            ),
            FileOutcome::Checksum { sha256, rows, read } => {
                checked += 1;
                bytes += read;
                let rows = match rows {
                    Some(r) if r != f.rows => format!(", and {r} rows instead of {}", f.rows),
                    _ => String::new(),
                };
                (
                    ProblemKind::ChecksumMismatch,
                    format!(
                        "{location} does not match the ledger's checksum (SHA-256 {sha256}, ledger {}){rows}",
                        f.sha256
                    ),
                )
            }
            FileOutcome::Rows { rows, read } => {
                checked += 1;
                bytes += read;
                (
                    ProblemKind::RowCountMismatch,
                    format!(
                        "{location} holds {rows} rows, the ledger records {}",
                        f.rows
                    ),
                )
            }
            FileOutcome::Unreadable(e) => (
                ProblemKind::UnreadableFile,
                format!("{location} could not be read: {e}"),
            ),
        };
        found.problem(kind, Some(t), Some(w), Some(&f.key), message);
        found.fixes.insert((t, Fix::Redo, w));
    }
    (checked, bytes)
}

enum FileOutcome {
    Ok {
        read: u64,
    },
    Missing,
    Truncated {
        size: u64,
    },
    Longer {
        size: u64,
    },
    Checksum {
        sha256: String,
        rows: Option<u64>,
        read: u64,
    },
    Rows {
        rows: u64,
        read: u64,
    },
    Unreadable(String),
}

async fn check_file(
    dest: &dyn Destination,
    meta: Option<ObjectMeta>,
    format: &str,
    f: &FileEntry,
) -> FileOutcome {
    let Some(meta) = meta else {
        return FileOutcome::Missing;
    };
    if meta.size < f.size {
        return FileOutcome::Truncated { size: meta.size };
    }
    if meta.size > f.size {
        return FileOutcome::Longer { size: meta.size };
    }
    match read_file(dest, &meta.key, format).await {
        Ok((sha256, rows, read)) => {
            if sha256 != f.sha256 {
                FileOutcome::Checksum { sha256, rows, read }
            } else if rows.is_some_and(|r| r != f.rows) {
                FileOutcome::Rows {
                    rows: rows.unwrap_or_default(),
                    read,
                }
            } else {
                FileOutcome::Ok { read }
            }
        }
        Err(e) => FileOutcome::Unreadable(e),
    }
}

/// Streams a file: its SHA-256, its row count (for the formats cdr-sink
/// writes; `None` for others) and how many bytes were read.
async fn read_file(
    dest: &dyn Destination,
    key: &ObjectKey,
    format: &str,
) -> Result<(String, Option<u64>, u64), String> {
    let mut stream = dest.read(key).await.map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    // The format counts the rows as the bytes stream by; a format this
    // version does not know only has its bytes checked.
    let mut rows = crate::components::format_named(format).map(|f| f.row_counter());
    let mut unreadable = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        hasher.update(&chunk);
        read += chunk.len() as u64;
        if let Some(counter) = rows.as_mut()
            && let Err(e) = counter.feed(&chunk)
        {
            unreadable = Some(e.to_string());
            rows = None;
        }
    }
    if let Some(e) = unreadable {
        return Err(e);
    }
    let rows = rows
        .map(|counter| counter.finish())
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok((crate::hex::hex(&hasher.finalize()), rows, read))
}
