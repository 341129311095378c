//! `export`'s flags → [`ExportPlan`].

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Selection, Window, whole_second};
use cdr_sink_api::ObjectKey;

use super::{PlanError, company_id, parse_duration, parse_instant};

/// The flags of `export` as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawExport {
    pub cdr_type: String,
    pub start: String,
    pub end: String,
    /// A local file or `s3://bucket/key.csv`.
    pub out: String,
    /// Comma-separated GraphQL or snake_case names; `None` for every field.
    pub fields: Option<String>,
    /// `--min-window`.
    pub min_window: String,
    pub company_id: Option<String>,
}

/// Where an export goes: a directory or S3 prefix, and the object's key in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// A file: its directory and its name.
    Local { dir: PathBuf, name: ObjectKey },
    /// An S3 object: `s3://bucket/prefix/` and the last segment of the key.
    S3 { prefix_url: String, name: ObjectKey },
}

/// A validated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    pub cdr_type: CdrType,
    /// The range exported, its end cut at now.
    pub window: Window,
    /// The end asked for, when it was later than now and was cut.
    pub clamped_from: Option<DateTime<Utc>>,
    pub selection: Selection,
    pub target: ExportTarget,
    /// As given, for messages.
    pub out: String,
    pub min_window: TimeDelta,
    pub company_id: Option<String>,
}

impl ExportPlan {
    /// Validates `raw` against the clock reading `now`.
    pub fn new(raw: &RawExport, now: DateTime<Utc>) -> Result<ExportPlan, PlanError> {
        let cdr_type: CdrType = raw
            .cdr_type
            .parse()
            .map_err(|e| PlanError::new(format!("--type: {e}")))?;
        let start = parse_instant("--start", &raw.start)?;
        let asked_end = parse_instant("--end", &raw.end)?;
        if start >= asked_end {
            return Err(PlanError::new(format!(
                "--end {} is not later than --start {}: give an end after the start",
                raw.end.trim(),
                raw.start.trim()
            )));
        }
        // A whole second: a bound every server compares at the same precision.
        let now = whole_second(now);
        let end = asked_end.min(now);
        let window = Window::new(start, end).map_err(|_| {
            PlanError::new(format!(
                "--start {} is in the future: nothing to export yet",
                raw.start.trim()
            ))
        })?;
        let kind = cdr_type.record_kind();
        let selection = match &raw.fields {
            None => Selection::all(),
            Some(list) => {
                let names: Vec<&str> = list.split(',').map(str::trim).collect();
                Selection::all()
                    .narrow(kind, &names)
                    .map_err(|e| PlanError::new(format!("--fields: {e}")))?
            }
        };
        let min_window = parse_duration("--min-window", &raw.min_window, false)?;
        Ok(ExportPlan {
            cdr_type,
            window,
            clamped_from: (asked_end > now).then_some(asked_end),
            selection,
            target: ExportTarget::parse(&raw.out)?,
            out: raw.out.trim().to_string(),
            min_window,
            company_id: company_id(raw.company_id.as_deref())?,
        })
    }
}

impl ExportTarget {
    /// Parses `--out` of `export`: a file path or `s3://bucket/key.csv`.
    pub fn parse(out: &str) -> Result<ExportTarget, PlanError> {
        let out = out.trim();
        let bad = |why: &str| PlanError::new(format!("--out `{out}` {why}"));
        if out.is_empty() {
            return Err(bad("is empty: give a file, e.g. export.csv"));
        }
        if out.ends_with('/') {
            return Err(bad("names a directory: give a file name, e.g. export.csv"));
        }
        if let Some(rest) = out.strip_prefix("s3://") {
            let (dir, name) = rest
                .rsplit_once('/')
                .ok_or_else(|| bad("names no key: use s3://bucket/key.csv"))?;
            let name = ObjectKey::new(name).map_err(|e| bad(&e.to_string()))?;
            return Ok(ExportTarget::S3 {
                prefix_url: format!("s3://{dir}/"),
                name,
            });
        }
        if out.contains("://") {
            return Err(bad("is not a local path or s3:// URL"));
        }
        let path = std::path::Path::new(out);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| bad("has no file name"))?;
        let name = ObjectKey::new(name).map_err(|e| bad(&e.to_string()))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(ExportTarget::Local { dir, name })
    }
}
