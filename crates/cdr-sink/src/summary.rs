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
    /// Skipped elements per union member name (`--on-unknown skip`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_members: BTreeMap<String, u64>,
    /// Units of the plan that another run finished while this one ran.
    pub units_elsewhere: u64,
    /// Records that cannot be stored, kept in quarantine files
    /// (`--on-bad-record quarantine`).
    pub quarantined: u64,
    pub duration_ms: u64,
}

/// How many units fetched at once over a run, and how the API pushed back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ConcurrencySummary {
    /// `auto` (adapted to the API's answers) or `fixed`.
    pub mode: &'static str,
    /// The limit's least, time-weighted median and greatest value.
    pub min: u64,
    pub median: u64,
    pub max: u64,
    /// Requests the API refused for load: HTTP 429 or 503, or an answer with
    /// `Retry-After`.
    pub refused: u64,
    /// Times `auto` lowered the limit.
    pub decreases: u64,
    /// The pace `auto` learnt from the refusals, in requests per second, at
    /// the end of the run (to a tenth); `None` when nothing was refused.
    pub paced_rps: Option<f64>,
}

impl ConcurrencySummary {
    /// The summary of a run planned with `plan`, whose throttle reported `r`.
    pub fn new(
        plan: crate::plan::Concurrency,
        r: &cdr_transport::ThrottleReport,
    ) -> ConcurrencySummary {
        ConcurrencySummary {
            mode: match plan {
                crate::plan::Concurrency::Fixed(_) => "fixed",
                crate::plan::Concurrency::Auto { .. } => "auto",
            },
            min: r.concurrency.min as u64,
            median: r.concurrency.median as u64,
            max: r.concurrency.max as u64,
            refused: r.refused,
            decreases: r.decreases,
            paced_rps: r.pace.map(|p| (p * 10.0).round() / 10.0),
        }
    }
}

impl fmt::Display for ConcurrencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "concurrency {}: ", self.mode)?;
        if self.min == self.max {
            write!(f, "{}", self.min)?;
        } else {
            write!(f, "{} to {} (median {})", self.min, self.max, self.median)?;
        }
        write!(
            f,
            "; {} requests refused by the API (HTTP 429/503)",
            group(self.refused)
        )?;
        if self.mode == "auto" {
            write!(f, ", {} decreases", self.decreases)?;
        }
        if let Some(rps) = self.paced_rps {
            write!(f, "; paced at {rps} requests/s")?;
        }
        Ok(())
    }
}

/// A unit, named in a summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnitRef {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub cdr_type: String,
}

impl UnitRef {
    pub fn of(unit: &crate::plan::Unit) -> UnitRef {
        UnitRef {
            window_start: unit.window.start(),
            window_end: unit.window.end(),
            cdr_type: unit.cdr_type.as_str().to_string(),
        }
    }
}

/// A unit that did not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedUnit {
    pub cdr_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub error: String,
}

/// What `--rescan` (or `--redo`) did for one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RescanTypeSummary {
    /// Finished windows fetched again and compared (or, with `--redo`, replaced).
    pub checked: u64,
    /// Windows whose files were replaced.
    pub changed: u64,
    /// Windows that could not be checked or replaced (listed in `failed`).
    pub failed: u64,
    /// Records of the replaced windows before and after.
    pub records_before: u64,
    pub records_after: u64,
}

/// What `--rescan` (or `--redo`) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RescanSummary {
    /// The range whose finished windows were checked.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `true` for `--redo` (every window replaced, none compared).
    pub redo: bool,
    pub types: BTreeMap<String, RescanTypeSummary>,
}

impl RescanSummary {
    pub fn new(range: cdr_core::Window, redo: bool, types: &[cdr_core::CdrType]) -> RescanSummary {
        RescanSummary {
            start: range.start(),
            end: range.end(),
            redo,
            types: types
                .iter()
                .map(|t| (t.as_str().to_string(), RescanTypeSummary::default()))
                .collect(),
        }
    }

    /// The counters of `t`.
    pub fn of(&mut self, t: cdr_core::CdrType) -> &mut RescanTypeSummary {
        self.types.entry(t.as_str().to_string()).or_default()
    }

    /// Windows checked, over every type.
    pub fn checked(&self) -> u64 {
        self.types.values().map(|t| t.checked).sum()
    }

    /// Windows replaced, over every type.
    pub fn changed(&self) -> u64 {
        self.types.values().map(|t| t.changed).sum()
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `ok` when every unit finished, else `failed`.
    pub status: &'static str,
    pub output: String,
    pub format: String,
    /// The planned range (for `--incremental`, from the earliest point a type
    /// continued from; `start == end` when there was nothing new).
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_ms: u64,
    /// Whether the range came from the ledger (`--incremental`).
    pub incremental: bool,
    /// The `--end` asked for, when the run stopped earlier because the rest
    /// has not settled yet (the same command continues from `end` later).
    pub cut_from: Option<DateTime<Utc>>,
    /// This run's id in the claims it held.
    pub run_id: String,
    /// Units of the plan that other runs on the same output finished.
    pub left_to_others: Vec<UnitRef>,
    /// Replacements interrupted by an earlier run that this run finished.
    pub recovered_replacements: u64,
    /// Records, files, bytes and pages count what this run fetched and wrote,
    /// replaced windows included.
    pub types: BTreeMap<String, TypeSummary>,
    /// `--rescan` / `--redo`, when asked for.
    pub rescan: Option<RescanSummary>,
    /// Units fetching at once and refusals, once the run has scheduled.
    pub concurrency: Option<ConcurrencySummary>,
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
                        unknown_members: c.unknown_members(),
                        units_elsewhere: c.units_elsewhere.load(Relaxed),
                        quarantined: c.quarantined.load(Relaxed),
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
            incremental: false,
            cut_from: None,
            run_id: String::new(),
            left_to_others: Vec::new(),
            recovered_replacements: 0,
            types,
            rescan: None,
            concurrency: None,
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
        if !self.incremental && self.start >= self.end {
            writeln!(
                f,
                "nothing has settled yet: the range starts at {} and windows are archived once they ended at least --settle ago (checked in {})",
                cdr_core::format_datetime(&self.start),
                format_duration(std::time::Duration::from_millis(self.duration_ms))
            )?;
        } else if self.incremental && self.start >= self.end {
            writeln!(
                f,
                "nothing new to archive: {} is finished up to {} (checked in {})",
                self.output,
                cdr_core::format_datetime(&self.end),
                format_duration(std::time::Duration::from_millis(self.duration_ms))
            )?;
        } else {
            writeln!(
                f,
                "archived [{}, {}){} to {} as {} in {}",
                cdr_core::format_datetime(&self.start),
                cdr_core::format_datetime(&self.end),
                if self.incremental {
                    " (incremental)"
                } else {
                    ""
                },
                self.output,
                self.format,
                format_duration(std::time::Duration::from_millis(self.duration_ms))
            )?;
        }
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
        if let Some(asked) = self.cut_from
            && self.start < self.end
        {
            writeln!(
                f,
                "stopped at {} instead of --end {}: later windows have not settled yet; run the same command again later to continue",
                cdr_core::format_datetime(&self.end),
                cdr_core::format_datetime(&asked)
            )?;
        }
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
        for (t, s) in &self.types {
            for (member, n) in &s.unknown_members {
                writeln!(
                    f,
                    "{t}: skipped {n} records of union member {member} (--on-unknown skip; counted in the ledger)"
                )?;
            }
        }
        for (t, s) in self.types.iter().filter(|(_, s)| s.quarantined > 0) {
            writeln!(
                f,
                "{t}: {} records could not be stored and are kept in _cdr_sink/quarantine/ (--on-bad-record quarantine)",
                s.quarantined
            )?;
        }
        if let Some(c) = self.concurrency.filter(|_| self.start < self.end) {
            writeln!(f, "{c}")?;
        }
        let elsewhere: u64 = self.types.values().map(|s| s.units_elsewhere).sum();
        if elsewhere > 0 {
            writeln!(
                f,
                "{elsewhere} units were finished by other runs on {} (listed in --summary-json)",
                self.output
            )?;
        }
        if let Some(r) = &self.rescan {
            writeln!(
                f,
                "{} [{}, {}): {} windows checked, {} changed and replaced{}",
                if r.redo { "redone" } else { "rescanned" },
                cdr_core::format_datetime(&r.start),
                cdr_core::format_datetime(&r.end),
                r.checked(),
                r.changed(),
                match r.types.values().map(|t| t.failed).sum::<u64>() {
                    0 => String::new(),
                    n => format!(", {n} failed"),
                }
            )?;
            for (t, s) in r.types.iter().filter(|(_, s)| s.changed > 0) {
                writeln!(
                    f,
                    "  {t}: {} of {} windows replaced ({} -> {} records)",
                    s.changed, s.checked, s.records_before, s.records_after
                )?;
            }
        }
        if self.recovered_replacements > 0 {
            writeln!(
                f,
                "finished {} replacements interrupted by an earlier run",
                self.recovered_replacements
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
    fn rescan_counts_are_shown() {
        use cdr_core::{CdrType, Window, parse_datetime};
        let p = Progress::new(&[CdrType::Sms]);
        let t = parse_datetime("2026-11-01T00:00:00Z").unwrap();
        let mut s = Summary::from_progress(&p, "out".into(), "csv".into(), t, t, vec![]);
        let range = Window::new(t, t + chrono::TimeDelta::hours(2)).unwrap();
        let mut r = RescanSummary::new(range, false, &[CdrType::Sms, CdrType::Voice]);
        r.of(CdrType::Sms).checked = 2;
        r.of(CdrType::Sms).changed = 1;
        r.of(CdrType::Sms).records_before = 10;
        r.of(CdrType::Sms).records_after = 12;
        r.of(CdrType::Voice).checked = 2;
        s.rescan = Some(r);
        let text = s.to_string();
        assert!(
            text.contains("rescanned [2026-11-01T00:00:00Z, 2026-11-01T02:00:00Z): 4 windows checked, 1 changed"),
            "{text}"
        );
        assert!(
            text.contains("SMS: 1 of 2 windows replaced (10 -> 12 records)"),
            "{text}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["rescan"]["types"]["SMS"]["changed"], 1);
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
