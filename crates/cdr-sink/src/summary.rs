//! The summary every run ends with: printed for people, JSON for schedulers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::progress::{Progress, format_duration, group};

/// Totals of one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypeSummary {
    pub records: u64,
    pub files: u64,
    pub bytes: u64,
    pub pages: u64,
    pub retries: u64,
    pub units_total: u64,
    pub units_done: u64,
    pub units_skipped: u64,
    pub units_failed: u64,
    pub skipped_members: u64,
    pub duration_ms: u64,
}

/// A unit that did not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedUnit {
    pub cdr_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub error: String,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `ok` when every unit finished, else `failed`.
    pub status: &'static str,
    pub output: String,
    pub format: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_ms: u64,
    pub types: BTreeMap<String, TypeSummary>,
    pub failed: Vec<FailedUnit>,
}

impl Summary {
    /// Builds the summary from a run's counters.
    pub fn from_progress(
        progress: &Progress,
        output: String,
        format: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        failed: Vec<FailedUnit>,
    ) -> Summary {
        let types = progress
            .types()
            .map(|(t, c)| {
                (
                    t.as_str().to_string(),
                    TypeSummary {
                        records: c.records.load(Relaxed),
                        files: c.files.load(Relaxed),
                        bytes: c.bytes.load(Relaxed),
                        pages: c.pages.load(Relaxed),
                        retries: c.retries.load(Relaxed),
                        units_total: c.units_total.load(Relaxed),
                        units_done: c.units_done.load(Relaxed),
                        units_skipped: c.units_skipped.load(Relaxed),
                        units_failed: c.units_failed.load(Relaxed),
                        skipped_members: c.skipped_members.load(Relaxed),
                        duration_ms: c.last_end_ms.load(Relaxed),
                    },
                )
            })
            .collect();
        Summary {
            status: if failed.is_empty() { "ok" } else { "failed" },
            output,
            format,
            start,
            end,
            duration_ms: progress.started.elapsed().as_millis() as u64,
            types,
            failed,
        }
    }

    /// Whether every unit finished.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "archived [{}, {}) to {} as {} in {}",
            cdr_core::format_datetime(&self.start),
            cdr_core::format_datetime(&self.end),
            self.output,
            self.format,
            format_duration(std::time::Duration::from_millis(self.duration_ms))
        )?;
        writeln!(
            f,
            "{:<6} {:>13} {:>7} {:>11} {:>8} {:>8} {:>17} {:>9}",
            "type",
            "records",
            "files",
            "bytes",
            "pages",
            "retries",
            "units done/skip/fail",
            "duration"
        )?;
        for (t, s) in &self.types {
            writeln!(
                f,
                "{:<6} {:>13} {:>7} {:>11} {:>8} {:>8} {:>17} {:>9}",
                t,
                group(s.records),
                group(s.files),
                human_bytes(s.bytes),
                group(s.pages),
                group(s.retries),
                format!("{}/{}/{}", s.units_done, s.units_skipped, s.units_failed),
                format_duration(std::time::Duration::from_millis(s.duration_ms)),
            )?;
        }
        for u in &self.failed {
            writeln!(
                f,
                "FAILED {} [{}, {}): {}",
                u.cdr_type,
                cdr_core::format_datetime(&u.window_start),
                cdr_core::format_datetime(&u.window_end),
                u.error
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
