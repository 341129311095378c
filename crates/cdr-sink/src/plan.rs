//! Flags become a validated [`ArchivePlan`] before any request: every bad-input
//! error happens here, as one line that says what to change.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

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
    pub start: String,
    pub end: String,
    pub out: String,
    pub format: String,
    pub limit: i64,
    pub concurrency: i64,
    pub window: String,
    pub company_id: Option<String>,
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
        let start = parse_instant("--start", &raw.start)?;
        let end = parse_instant("--end", &raw.end)?;
        if start >= end {
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
        let p = plan(start, end, step, now)
            .map_err(|e| PlanError::new(format!("--start/--end: {e}")))?;
        let mut units: Vec<Unit> = p
            .windows
            .iter()
            .flat_map(|w| {
                types.iter().map(|&t| Unit {
                    cdr_type: t,
                    window: *w,
                })
            })
            .collect();
        units.sort_by_key(|u| (u.window.start(), u.cdr_type));
        Ok(ArchivePlan {
            types,
            start,
            end: p.end,
            clamped_from: p.clamped.then_some(end),
            step,
            units,
            output,
            format,
            limit,
            concurrency: raw.concurrency as usize,
            company_id,
        })
    }
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
        }
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
    fn end_in_the_future_is_clamped() {
        let mut r = raw();
        r.end = "2026-12-01T00:00:00Z".into();
        r.start = "2026-11-26T22:30:00Z".into();
        let p = ArchivePlan::new(&r, now()).unwrap();
        assert_eq!(p.end, now());
        assert!(p.clamped_from.is_some());
        assert_eq!(p.units.len(), 4); // 22:30-23:00, 23:00-00:00, for two types
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
}
