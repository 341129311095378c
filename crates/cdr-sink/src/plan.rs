//! Flags become a validated [`ArchivePlan`] before any request: every bad-input
//! error happens here, as one line that says what to change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Limit, Step, Window, parse_datetime, parse_type_list, plan};

/// Where the archive goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A local directory.
    Local(PathBuf),
    /// An S3 URL, `s3://bucket/prefix/`.
    S3(String),
}

impl Output {
    /// Parses `--out`: `s3://bucket[/prefix]` or a local path.
    pub fn parse(s: &str) -> Result<Output, PlanError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PlanError::new(
                "--out is empty: give a directory or s3://bucket/prefix/",
            ));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let bucket = rest.split('/').next().unwrap_or("");
            if bucket.is_empty() {
                return Err(PlanError::new(format!(
                    "--out `{s}` names no bucket: use s3://bucket/prefix/"
                )));
            }
            return Ok(Output::S3(s.to_string()));
        }
        if s.contains("://") {
            return Err(PlanError::new(format!(
                "--out `{s}`: only local directories and s3:// URLs are supported"
            )));
        }
        Ok(Output::Local(PathBuf::from(s)))
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Local(p) => write!(f, "{}", p.display()),
            Output::S3(u) => f.write_str(u),
        }
    }
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Parquet,
    Csv,
}

impl FormatChoice {
    /// Parses `--format`.
    pub fn parse(s: &str) -> Result<FormatChoice, PlanError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => Ok(FormatChoice::Parquet),
            "csv" => Ok(FormatChoice::Csv),
            _ => Err(PlanError::new(format!(
                "--format `{s}` is unknown: use parquet or csv"
            ))),
        }
    }
}

/// When a unit starts a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPolicy {
    /// Rows per file at most.
    pub rows: u64,
    /// Bytes per file (approximately) at most.
    pub bytes: u64,
}

impl Default for RollPolicy {
    fn default() -> Self {
        RollPolicy {
            rows: 5_000_000,
            bytes: 256 * 1024 * 1024,
        }
    }
}

/// What to do with records of union members this version cannot store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnknown {
    /// The unit fails, naming the member: a later version can fetch it.
    #[default]
    Fail,
    /// Archive the rest and count the skipped records in the ledger.
    Skip,
}

impl OnUnknown {
    /// Parses `--on-unknown`.
    pub fn parse(s: &str) -> Result<OnUnknown, PlanError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "fail" => Ok(OnUnknown::Fail),
            "skip" => Ok(OnUnknown::Skip),
            _ => Err(PlanError::new(format!(
                "--on-unknown `{s}` is unknown: use fail or skip"
            ))),
        }
    }
}

/// What to do with a record whose values cannot be stored (a charge of
/// "N/A", money beyond the archive's precision, the wrong member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadRecord {
    /// The unit fails at once, naming the record's position and field.
    #[default]
    Fail,
    /// The record's raw JSON goes to `_cdr_sink/quarantine/`; the rest is archived.
    Quarantine,
}

impl OnBadRecord {
    /// Parses `--on-bad-record`.
    pub fn parse(s: &str) -> Result<OnBadRecord, PlanError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "fail" => Ok(OnBadRecord::Fail),
            "quarantine" => Ok(OnBadRecord::Quarantine),
            _ => Err(PlanError::new(format!(
                "--on-bad-record `{s}` is unknown: use fail or quarantine"
            ))),
        }
    }
}

/// One unit of work: one type over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    pub cdr_type: CdrType,
    pub window: Window,
}

/// Bad input, as one line that says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl PlanError {
    pub fn new(msg: impl Into<String>) -> PlanError {
        PlanError(msg.into())
    }
}

/// The flags of `archive` as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawArchive {
    pub types: String,
    /// `--start`; empty when not given.
    pub start: String,
    /// `--end`; empty when not given.
    pub end: String,
    pub out: String,
    pub format: String,
    pub limit: i64,
    pub concurrency: i64,
    pub window: String,
    pub company_id: Option<String>,
    /// `--incremental`: continue from the ledger up to now - settle.
    pub incremental: bool,
    /// `--settle`; empty for the default, [`DEFAULT_SETTLE`].
    pub settle: String,
    /// `--rescan DURATION`.
    pub rescan: Option<String>,
    /// `--redo`: replace the files of every finished window of the range.
    pub redo: bool,
    /// `--lease`; empty for the default.
    pub lease: String,
    /// `--on-unknown`; empty for the default (fail).
    pub on_unknown: String,
    /// `--on-bad-record`; empty for the default (fail).
    pub on_bad_record: String,
    /// `--allow-shrink`: a replacement may leave a window with fewer records.
    pub allow_shrink: bool,
    /// `--keep-replaced`; empty for the default.
    pub keep_replaced: String,
}

/// The default `--keep-replaced`: how long replaced files are kept.
pub const DEFAULT_KEEP_REPLACED: &str = "7d";

/// The default `--settle`: records younger than this are left for a later run.
pub const DEFAULT_SETTLE: &str = "15m";

/// How an `--incremental` plan finds its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incremental {
    /// `--start`: where types without a finished window begin, and the
    /// earliest instant the run fills gaps from.
    pub start: Option<DateTime<Utc>>,
    /// `--settle`.
    pub settle: TimeDelta,
}

/// A validated archive run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePlan {
    pub types: Vec<CdrType>,
    pub start: DateTime<Utc>,
    /// The end used, after clamping to now.
    pub end: DateTime<Utc>,
    /// The end asked for, when it was later than now and was clamped.
    pub clamped_from: Option<DateTime<Utc>>,
    pub step: Step,
    /// Every unit, ordered by window start, then type.
    pub units: Vec<Unit>,
    pub output: Output,
    pub format: FormatChoice,
    pub limit: Limit,
    pub concurrency: usize,
    pub company_id: Option<String>,
    /// `Some` for `--incremental`: `units` are known only once the ledger has
    /// been read ([`ArchivePlan::resolve`]); `end` is already final.
    pub incremental: Option<Incremental>,
    /// `--rescan`: how far back from `end` finished windows are checked.
    pub rescan: Option<TimeDelta>,
    /// `--redo`: every finished window of the range gets its files replaced.
    pub redo: bool,
    /// `--settle`: windows ending after now - settle are left for a later run.
    pub settle: TimeDelta,
    /// `--lease`: how long a claim on a unit lasts without renewal.
    pub lease: std::time::Duration,
    /// `--on-unknown`.
    pub on_unknown: OnUnknown,
    /// `--on-bad-record`.
    pub on_bad_record: OnBadRecord,
    /// `--allow-shrink`.
    pub allow_shrink: bool,
    /// `--keep-replaced`: how long replaced files are kept before removal.
    pub keep_replaced: TimeDelta,
}

/// Parses a duration flag such as `15m`, `2h`, `1d` or `0s` (s, m, h or d).
pub fn parse_duration(flag: &str, s: &str, allow_zero: bool) -> Result<TimeDelta, PlanError> {
    let t = s.trim();
    let err = || {
        PlanError::new(format!(
            "{flag} `{s}` is not a duration: use a whole number with s, m, h or d, e.g. {}",
            if allow_zero {
                "0s, 15m or 1h"
            } else {
                "30m, 24h or 7d"
            }
        ))
    };
    let at = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let n: i64 = t[..at].parse().map_err(|_| err())?;
    let unit = match &t[at..] {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    if n == 0 && !allow_zero {
        return Err(err());
    }
    // At most about 100 years.
    let seconds = n
        .checked_mul(unit)
        .filter(|s| *s <= 3_200_000_000)
        .ok_or_else(err)?;
    Ok(TimeDelta::seconds(seconds))
}

/// Parses an RFC 3339 flag value.
pub fn parse_instant(flag: &str, s: &str) -> Result<DateTime<Utc>, PlanError> {
    parse_datetime(s).map_err(|_| {
        PlanError::new(format!(
            "{flag} `{s}` is not an RFC 3339 datetime: use e.g. 2026-11-01T00:00:00Z"
        ))
    })
}

/// The largest `--concurrency` accepted.
pub const MAX_CONCURRENCY: i64 = 256;

impl ArchivePlan {
    /// Validates `raw` against the clock reading `now`.
    pub fn new(raw: &RawArchive, now: DateTime<Utc>) -> Result<ArchivePlan, PlanError> {
        let types =
            parse_type_list(&raw.types).map_err(|e| PlanError::new(format!("--type: {e}")))?;
        let given = |s: &str| !s.trim().is_empty();
        let start = if given(&raw.start) {
            Some(parse_instant("--start", &raw.start)?)
        } else {
            None
        };
        let end = if given(&raw.end) {
            Some(parse_instant("--end", &raw.end)?)
        } else {
            None
        };
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(PlanError::new(format!(
                "--end {} is not later than --start {}: give an end after the start",
                raw.end.trim(),
                raw.start.trim()
            )));
        }
        let step: Step = raw
            .window
            .parse()
            .map_err(|e| PlanError::new(format!("--window: {e}")))?;
        let limit = Limit::new(raw.limit).map_err(|e| PlanError::new(format!("--limit: {e}")))?;
        if !(1..=MAX_CONCURRENCY).contains(&raw.concurrency) {
            return Err(PlanError::new(format!(
                "--concurrency {} is out of range: use 1 to {MAX_CONCURRENCY}",
                raw.concurrency
            )));
        }
        let output = Output::parse(&raw.out)?;
        let format = FormatChoice::parse(&raw.format)?;
        let company_id = match raw.company_id.as_deref().map(str::trim) {
            Some("") => {
                return Err(PlanError::new(
                    "--company-id is empty: give an ID or leave it out",
                ));
            }
            other => other.map(str::to_string),
        };
        let rescan = raw
            .rescan
            .as_deref()
            .map(|r| parse_duration("--rescan", r, false))
            .transpose()?;
        if raw.redo && rescan.is_some() {
            return Err(PlanError::new(
                "--redo replaces every finished window of the range, --rescan only changed ones: give one of them",
            ));
        }
        let settle_text = if given(&raw.settle) {
            raw.settle.as_str()
        } else {
            DEFAULT_SETTLE
        };
        let settle = parse_duration("--settle", settle_text, true)?;
        let lease = if given(&raw.lease) {
            parse_duration("--lease", &raw.lease, false)?
        } else {
            TimeDelta::from_std(crate::claim::DEFAULT_LEASE).unwrap_or(TimeDelta::minutes(5))
        };
        let min_lease = crate::claim::MIN_LEASE.as_secs() as i64;
        if lease.num_seconds() < min_lease {
            return Err(PlanError::new(format!(
                "--lease {} is too short: use at least {min_lease}s (a claim is renewed every third of it)",
                raw.lease.trim()
            )));
        }
        let keep_replaced = parse_duration(
            "--keep-replaced",
            if given(&raw.keep_replaced) {
                &raw.keep_replaced
            } else {
                DEFAULT_KEEP_REPLACED
            },
            true,
        )?;
        let on_unknown = OnUnknown::parse(&raw.on_unknown)?;
        let on_bad_record = OnBadRecord::parse(&raw.on_bad_record)?;
        let mut out = ArchivePlan {
            types,
            start: now,
            end: now,
            clamped_from: None,
            step,
            units: Vec::new(),
            output,
            format,
            limit,
            concurrency: raw.concurrency as usize,
            company_id,
            incremental: None,
            rescan,
            redo: raw.redo,
            settle,
            lease: lease.to_std().unwrap_or(crate::claim::DEFAULT_LEASE),
            on_unknown,
            on_bad_record,
            allow_shrink: raw.allow_shrink,
            keep_replaced,
        };
        if raw.incremental {
            if raw.redo {
                return Err(PlanError::new(
                    "--redo needs a fixed range: give --start and --end instead of --incremental",
                ));
            }
            if let Some(s) = start
                && s >= now
            {
                return Err(PlanError::new(format!(
                    "--start {} is in the future: give a start before now",
                    raw.start.trim()
                )));
            }
            // Only whole windows that ended at least `settle` ago.
            let settled = step.floor(now - settle);
            out.end = end.map_or(settled, |e| e.min(settled));
            out.start = start.unwrap_or(out.end).min(out.end);
            out.incremental = Some(Incremental { start, settle });
            return Ok(out);
        }
        let start = start.ok_or_else(|| {
            PlanError::new(
                "--start is required: give the range with --start and --end, or use --incremental to continue from the ledger",
            )
        })?;
        let end = end.ok_or_else(|| {
            PlanError::new(
                "--end is required: give the range with --start and --end, or use --incremental to continue from the ledger",
            )
        })?;
        if start >= now {
            return Err(PlanError::new(format!(
                "--start {} is in the future: give a start before now",
                raw.start.trim()
            )));
        }
        // Only windows that ended at least `settle` ago are archived (and so
        // recorded as finished): a later end is cut at the last window
        // boundary before now - settle, where the same command run again
        // later continues.
        let settled = step.floor(now - settle);
        out.start = start;
        if start >= settled {
            out.end = start;
            out.clamped_from = Some(end);
            return Ok(out);
        }
        let p = plan(start, end, step, settled)
            .map_err(|e| PlanError::new(format!("--start/--end: {e}")))?;
        out.end = p.end;
        out.clamped_from = p.clamped.then_some(end);
        out.units = units_of(&out.types, &p.windows);
        Ok(out)
    }

    /// For an `--incremental` plan, the units from the finished windows of each
    /// type (the names in the ledger): per type, from the first instant at or
    /// after `--start` (or the type's first finished window) that no finished
    /// window covers, up to `end`, in `--window` steps. Finished windows after
    /// that point are among the units too, and skipped by the run like any
    /// finished unit, so a window that failed once is retried by every later
    /// run until it finishes. A fixed-range plan is returned unchanged.
    pub fn resolve(
        &self,
        finished: &BTreeMap<CdrType, BTreeSet<Window>>,
    ) -> Result<ArchivePlan, PlanError> {
        let Some(inc) = self.incremental else {
            return Ok(self.clone());
        };
        let empty = BTreeSet::new();
        let mut units = Vec::new();
        let mut need_start = Vec::new();
        let mut first: Option<DateTime<Utc>> = None;
        for &t in &self.types {
            let done = finished.get(&t).unwrap_or(&empty);
            let Some(floor) = inc.start.or_else(|| done.first().map(Window::start)) else {
                need_start.push(t.as_str());
                continue;
            };
            let resume = first_uncovered(done, floor);
            if resume >= self.end {
                continue;
            }
            let p = plan(resume, self.end, self.step, self.end)
                .map_err(|e| PlanError::new(format!("--incremental: {e}")))?;
            first = Some(first.map_or(resume, |f| f.min(resume)));
            units.extend(units_of(&[t], &p.windows));
        }
        if !need_start.is_empty() {
            return Err(PlanError::new(format!(
                "--start is required on the first --incremental run: {} has no finished {} window yet; give --start, e.g. --start {}",
                self.output,
                need_start.join(", "),
                cdr_core::format_datetime(&self.step.floor(self.end - TimeDelta::days(1)))
            )));
        }
        units.sort_by_key(|u| (u.window.start(), u.cdr_type));
        let mut resolved = self.clone();
        resolved.start = first.unwrap_or(self.end);
        resolved.units = units;
        Ok(resolved)
    }

    /// The range whose finished windows are checked by `--rescan` (relative to
    /// `end`; within `[start, end)` for a fixed range) or replaced by `--redo`.
    pub fn rescan_range(&self) -> Option<Window> {
        let from = if self.redo {
            self.start
        } else {
            let back = self.end - self.rescan?;
            if self.incremental.is_some() {
                back
            } else {
                back.max(self.start)
            }
        };
        Window::new(from, self.end).ok()
    }
}

/// The end of the run of windows in `done` that covers `floor` onwards without
/// a hole: `floor` itself when no window covers it.
fn first_uncovered(done: &BTreeSet<Window>, floor: DateTime<Utc>) -> DateTime<Utc> {
    let mut cur = floor;
    for w in done {
        if w.end() <= cur {
            continue;
        }
        if w.start() > cur {
            break;
        }
        cur = w.end();
    }
    cur
}

fn units_of(types: &[CdrType], windows: &[Window]) -> Vec<Unit> {
    let mut units: Vec<Unit> = windows
        .iter()
        .flat_map(|w| {
            types.iter().map(|&t| Unit {
                cdr_type: t,
                window: *w,
            })
        })
        .collect();
    units.sort_by_key(|u| (u.window.start(), u.cdr_type));
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawArchive {
        RawArchive {
            types: "SMS,voice".into(),
            start: "2026-11-01T00:00:00Z".into(),
            end: "2026-11-01T03:00:00Z".into(),
            out: "./archive".into(),
            format: "parquet".into(),
            limit: 1000,
            concurrency: 4,
            window: "1h".into(),
            company_id: None,
            ..RawArchive::default()
        }
    }

    fn incremental(start: &str) -> RawArchive {
        RawArchive {
            start: start.into(),
            end: String::new(),
            incremental: true,
            ..raw()
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap()
    }

    fn w(a: &str, b: &str) -> Window {
        Window::new(t(a), t(b)).unwrap()
    }

    fn windows(p: &ArchivePlan, ty: CdrType) -> Vec<String> {
        p.units
            .iter()
            .filter(|u| u.cdr_type == ty)
            .map(|u| u.window.to_string())
            .collect()
    }

    fn now() -> DateTime<Utc> {
        parse_datetime("2026-11-27T00:00:00Z").unwrap()
    }

    #[test]
    fn a_good_plan() {
        let p = ArchivePlan::new(&raw(), now()).unwrap();
        assert_eq!(p.units.len(), 6);
        assert_eq!(p.units[0].cdr_type, CdrType::Sms);
        assert_eq!(p.units[1].cdr_type, CdrType::Voice);
        assert_eq!(p.units[0].window, p.units[1].window);
        assert_eq!(p.clamped_from, None);
        assert_eq!(p.output, Output::Local("./archive".into()));
    }

    #[test]
    fn an_end_that_has_not_settled_is_cut_at_a_window_boundary() {
        let mut r = raw();
        r.end = "2026-12-01T00:00:00Z".into();
        r.start = "2026-11-26T21:30:00Z".into();
        // now - 15m = 23:45: the last settled window ends at 23:00.
        let p = ArchivePlan::new(&r, now()).unwrap();
        assert_eq!(p.end, t("2026-11-26T23:00:00Z"));
        assert_eq!(p.clamped_from, Some(t("2026-12-01T00:00:00Z")));
        assert_eq!(p.units.len(), 4); // 21:30-22:00, 22:00-23:00, for two types
        // A past end inside the settle time is cut too.
        r.end = "2026-11-26T23:50:00Z".into();
        let p = ArchivePlan::new(&r, now()).unwrap();
        assert_eq!(p.end, t("2026-11-26T23:00:00Z"));
        // With --settle 0s, the cut is at now's window boundary.
        r.settle = "0s".into();
        let p = ArchivePlan::new(&r, now()).unwrap();
        assert_eq!(p.end, t("2026-11-26T23:50:00Z"));
        assert_eq!(p.clamped_from, None);
    }

    #[test]
    fn a_range_that_has_not_settled_at_all_plans_nothing() {
        let mut r = raw();
        r.start = "2026-11-26T23:10:00Z".into();
        r.end = "2026-11-27T01:00:00Z".into();
        let p = ArchivePlan::new(&r, now()).unwrap();
        assert!(p.units.is_empty());
        assert_eq!(p.end, p.start);
        r.start = "2026-11-27T00:10:00Z".into();
        let e = ArchivePlan::new(&r, now()).unwrap_err().to_string();
        assert!(e.contains("in the future"), "{e}");
    }

    #[test]
    fn the_same_command_later_continues_for_any_window() {
        // Runs of one command at many instants, across window boundaries:
        // their windows never overlap, and together they cover the range.
        for window in ["15m", "1h", "6h", "1d"] {
            let mut r = raw();
            r.start = "2026-11-20T00:00:00Z".into();
            r.end = "2026-12-30T00:00:00Z".into();
            r.window = window.into();
            let mut done: BTreeSet<Window> = BTreeSet::new();
            let mut at = t("2026-11-22T00:07:00Z");
            while at < t("2026-11-25T00:00:00Z") {
                let p = ArchivePlan::new(&r, at).unwrap();
                for u in p.units.iter().filter(|u| u.cdr_type == CdrType::Sms) {
                    assert!(u.window.end() <= at - TimeDelta::minutes(15));
                    if !done.contains(&u.window) {
                        assert!(
                            done.iter().all(|d| d.end() <= u.window.start()
                                || u.window.end() <= d.start()),
                            "{window}: {} overlaps an earlier run's window",
                            u.window
                        );
                        done.insert(u.window);
                    }
                }
                at += TimeDelta::minutes(37);
            }
            let mut cur = t("2026-11-20T00:00:00Z");
            for w in &done {
                assert_eq!(w.start(), cur, "{window}: a hole before {w}");
                cur = w.end();
            }
            assert!(cur >= t("2026-11-24T23:00:00Z") - TimeDelta::days(1));
        }
    }

    #[test]
    fn each_bad_input_says_what_to_change() {
        let check = |f: &dyn Fn(&mut RawArchive), needle: &str| {
            let mut r = raw();
            f(&mut r);
            let e = ArchivePlan::new(&r, now()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} does not contain {needle}");
            assert!(!e.contains('\n'), "not one line: {e}");
        };
        check(
            &|r| r.types = "SMS,FAX".into(),
            "valid types are SMS, MMS, VOICE, API",
        );
        check(
            &|r| r.start = "yesterday".into(),
            "--start `yesterday` is not an RFC 3339",
        );
        check(&|r| r.end = "2026-11-01".into(), "--end `2026-11-01`");
        check(
            &|r| r.end = "2026-10-01T00:00:00Z".into(),
            "is not later than --start",
        );
        check(&|r| r.limit = 0, "use a page size from 1 to 1000");
        check(&|r| r.limit = 1001, "use a page size from 1 to 1000");
        check(&|r| r.concurrency = 0, "--concurrency 0");
        check(&|r| r.window = "7h".into(), "--window");
        check(&|r| r.out = "s3:///x".into(), "names no bucket");
        check(
            &|r| r.out = "gs://b/x".into(),
            "only local directories and s3://",
        );
        check(&|r| r.format = "orc".into(), "use parquet or csv");
        check(
            &|r| r.company_id = Some(" ".into()),
            "--company-id is empty",
        );
        check(
            &|r| {
                r.start = "2027-01-01T00:00:00Z".into();
                r.end = "2027-01-02T00:00:00Z".into();
            },
            "future",
        );
    }

    #[test]
    fn incremental_ends_at_now_minus_settle_aligned_down() {
        let now = t("2026-11-27T10:20:00Z");
        let p = ArchivePlan::new(&incremental(""), now).unwrap();
        // 10:20 - 15m = 10:05, aligned down to the hour.
        assert_eq!(p.end, t("2026-11-27T10:00:00Z"));
        assert!(p.units.is_empty(), "units come from the ledger");
        let mut r = incremental("");
        r.settle = "25m".into();
        assert_eq!(
            ArchivePlan::new(&r, now).unwrap().end,
            t("2026-11-27T09:00:00Z")
        );
        r.settle = "0s".into();
        r.window = "15m".into();
        assert_eq!(
            ArchivePlan::new(&r, now).unwrap().end,
            t("2026-11-27T10:15:00Z")
        );
        // --end is an upper bound.
        r.end = "2026-11-27T08:30:00Z".into();
        assert_eq!(
            ArchivePlan::new(&r, now).unwrap().end,
            t("2026-11-27T08:30:00Z")
        );
    }

    #[test]
    fn incremental_continues_per_type_from_the_first_hole() {
        let now = t("2026-11-02T03:20:00Z");
        let p = ArchivePlan::new(&incremental("2026-11-01T22:00:00Z"), now).unwrap();
        let finished = BTreeMap::from([
            (
                CdrType::Sms,
                BTreeSet::from([
                    w("2026-11-01T22:00:00Z", "2026-11-01T23:00:00Z"),
                    w("2026-11-01T23:00:00Z", "2026-11-02T00:00:00Z"),
                    // A hole at 00:00-01:00 (a unit that failed).
                    w("2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z"),
                ]),
            ),
            (CdrType::Voice, BTreeSet::new()),
        ]);
        let r = p.resolve(&finished).unwrap();
        assert_eq!(r.end, t("2026-11-02T03:00:00Z"));
        assert_eq!(
            windows(&r, CdrType::Sms),
            [
                "[2026-11-02T00:00:00Z, 2026-11-02T01:00:00Z)",
                "[2026-11-02T01:00:00Z, 2026-11-02T02:00:00Z)",
                "[2026-11-02T02:00:00Z, 2026-11-02T03:00:00Z)",
            ]
        );
        // VOICE has no finished window: from --start.
        assert_eq!(windows(&r, CdrType::Voice).len(), 5);
        assert_eq!(r.start, t("2026-11-01T22:00:00Z"));
        // Ordered by window, then type.
        assert!(
            r.units
                .windows(2)
                .all(|p| (p[0].window.start(), p[0].cdr_type)
                    <= (p[1].window.start(), p[1].cdr_type))
        );

        // Without --start, each type continues from its own ledger.
        let p = ArchivePlan::new(&incremental(""), now).unwrap();
        let sms_only = BTreeMap::from([(CdrType::Sms, finished[&CdrType::Sms].clone())]);
        let mut only_sms = p.clone();
        only_sms.types = vec![CdrType::Sms];
        let r = only_sms.resolve(&sms_only).unwrap();
        assert_eq!(windows(&r, CdrType::Sms).len(), 3);
        let err = p.resolve(&sms_only).unwrap_err().to_string();
        assert!(
            err.contains("--start is required on the first --incremental run")
                && err.contains("VOICE"),
            "{err}"
        );
    }

    #[test]
    fn incremental_with_nothing_new_plans_nothing() {
        let now = t("2026-11-02T01:10:00Z");
        let p = ArchivePlan::new(&incremental("2026-11-02T00:00:00Z"), now).unwrap();
        // 01:10 - 15m = 00:55 -> 00:00: the first hour has not settled yet.
        assert_eq!(p.end, t("2026-11-02T00:00:00Z"));
        let r = p.resolve(&BTreeMap::new()).unwrap();
        assert!(r.units.is_empty());
        let p = ArchivePlan::new(&incremental("2026-11-01T22:00:00Z"), now).unwrap();
        let all = BTreeMap::from([(
            CdrType::Sms,
            BTreeSet::from([w("2026-11-01T22:00:00Z", "2026-11-02T00:00:00Z")]),
        )]);
        let r = p.resolve(&all).unwrap();
        assert!(windows(&r, CdrType::Sms).is_empty());
        assert_eq!(windows(&r, CdrType::Voice).len(), 2);
    }

    #[test]
    fn rescan_ranges() {
        let now = t("2026-11-02T03:20:00Z");
        let mut r = incremental("2026-11-01T00:00:00Z");
        r.rescan = Some("6h".into());
        let p = ArchivePlan::new(&r, now).unwrap();
        assert_eq!(
            p.rescan_range(),
            Some(w("2026-11-01T21:00:00Z", "2026-11-02T03:00:00Z"))
        );
        // A fixed range: only within it.
        let mut r = raw();
        r.rescan = Some("1d".into());
        let p = ArchivePlan::new(&r, now).unwrap();
        assert_eq!(
            p.rescan_range(),
            Some(w("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"))
        );
        let mut r = raw();
        r.redo = true;
        assert_eq!(
            ArchivePlan::new(&r, now).unwrap().rescan_range(),
            Some(w("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"))
        );
        assert_eq!(ArchivePlan::new(&raw(), now).unwrap().rescan_range(), None);
    }

    #[test]
    fn bad_incremental_input_says_what_to_change() {
        let now = t("2026-11-27T00:00:00Z");
        let check = |r: RawArchive, needle: &str| {
            let e = ArchivePlan::new(&r, now).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} does not contain {needle}");
            assert!(!e.contains('\n'), "not one line: {e}");
        };
        check(
            RawArchive {
                start: String::new(),
                ..raw()
            },
            "--start is required: give the range with --start and --end, or use --incremental",
        );
        check(
            RawArchive {
                end: String::new(),
                ..raw()
            },
            "--end is required",
        );
        check(
            RawArchive {
                settle: "soon".into(),
                ..incremental("")
            },
            "--settle `soon` is not a duration",
        );
        check(
            RawArchive {
                rescan: Some("0h".into()),
                ..incremental("")
            },
            "--rescan `0h` is not a duration",
        );
        check(
            RawArchive {
                rescan: Some("-1h".into()),
                ..incremental("")
            },
            "--rescan `-1h`",
        );
        check(
            RawArchive {
                redo: true,
                ..incremental("")
            },
            "--redo needs a fixed range",
        );
        check(
            RawArchive {
                redo: true,
                rescan: Some("1h".into()),
                ..raw()
            },
            "give one of them",
        );
        check(incremental("2026-12-01T00:00:00Z"), "is in the future");
        check(
            RawArchive {
                end: "2026-10-01T00:00:00Z".into(),
                ..incremental("2026-11-01T00:00:00Z")
            },
            "is not later than --start",
        );
    }
}
