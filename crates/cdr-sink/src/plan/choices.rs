//! The choices a flag names: where the archive goes, its format, what to do
//! with records that cannot be stored.

use std::path::PathBuf;

use super::PlanError;

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
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            FormatChoice::Parquet => "parquet",
            FormatChoice::Csv => "csv",
        }
    }

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

/// How readers see the archive: as files, or as Delta tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableFormat {
    /// Hive-partitioned files; the ledger says which windows are finished.
    #[default]
    Files,
    /// The same files, made one Delta table per type by one commit per window.
    Delta,
}

impl TableFormat {
    /// The name `--table-format` takes.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Files => "files",
            TableFormat::Delta => "delta",
        }
    }

    /// Parses `--table-format`; Delta tables hold Parquet files only.
    pub fn parse(s: &str, format: FormatChoice) -> Result<TableFormat, PlanError> {
        let t = match s.trim().to_ascii_lowercase().as_str() {
            "" | "files" => TableFormat::Files,
            "delta" => TableFormat::Delta,
            _ => {
                return Err(PlanError::new(format!(
                    "--table-format `{s}` is unknown: use files or delta"
                )));
            }
        };
        if t == TableFormat::Delta && format != FormatChoice::Parquet {
            return Err(PlanError::new(format!(
                "--table-format delta holds Parquet files: use --format parquet, not {}",
                format.name()
            )));
        }
        Ok(t)
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

impl RollPolicy {
    /// From `--roll-rows` and `--roll-mib`, each at least 1.
    pub fn new(rows: u64, mib: u64) -> Result<RollPolicy, PlanError> {
        if rows == 0 || mib == 0 {
            return Err(PlanError::new(
                "--roll-rows and --roll-mib must be at least 1",
            ));
        }
        Ok(RollPolicy {
            rows,
            bytes: mib.saturating_mul(1024 * 1024),
        })
    }
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
