//! `reconcile`'s flags → [`ReconcilePlan`].

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Step};

use super::archive::{DEFAULT_SETTLE, MAX_UNITS};
use super::{Output, PlanError, company_id, parse_duration, parse_instant, type_filter};

/// The flags of `reconcile` as given, before validation.
#[derive(Debug, Clone)]
pub struct RawReconcile {
    /// `--type`; `None` for every type the archive holds.
    pub types: Option<String>,
    /// `--start`, `--end`; `None` for each type's first (last) finished window.
    pub start: Option<String>,
    pub end: Option<String>,
    /// `--window`: the unit length of ranges without a finished window.
    pub window: String,
    /// `--settle`: windows ending after now - settle are not due yet.
    pub settle: String,
    pub concurrency: i64,
    pub company_id: Option<String>,
    /// `--out`, the archive.
    pub out: String,
}

impl Default for RawReconcile {
    fn default() -> Self {
        RawReconcile {
            types: None,
            start: None,
            end: None,
            window: "1h".into(),
            settle: DEFAULT_SETTLE.into(),
            concurrency: 4,
            company_id: None,
            out: String::new(),
        }
    }
}

/// A validated reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilePlan {
    /// The types compared; empty for every type the archive holds.
    pub types: Vec<CdrType>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub window: Step,
    pub settle: TimeDelta,
    /// `--settle` as written when it is not the default (the repair
    /// commands repeat it then).
    pub settle_given: Option<String>,
    /// Windows checked at once (one export download each).
    pub concurrency: usize,
    pub company_id: Option<String>,
    pub output: Output,
    /// `--out` as written, for the repair commands.
    pub out: String,
}

impl ReconcilePlan {
    /// Validates `raw`.
    pub fn new(raw: &RawReconcile) -> Result<ReconcilePlan, PlanError> {
        let types = type_filter(raw.types.as_deref())?;
        let instant = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_instant(flag, s))
                .transpose()
        };
        let start = instant("--start", &raw.start)?;
        let end = instant("--end", &raw.end)?;
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(PlanError::new(format!(
                "--end {} is not later than --start {}: give an end after the start",
                raw.end.as_deref().unwrap_or_default().trim(),
                raw.start.as_deref().unwrap_or_default().trim()
            )));
        }
        let window: Step = raw
            .window
            .parse()
            .map_err(|e| PlanError::new(format!("--window: {e}")))?;
        if let (Some(s), Some(e)) = (start, end) {
            let windows = ((e - s).num_seconds() / window.duration().num_seconds()).max(0) as u64;
            if windows > MAX_UNITS {
                return Err(PlanError::new(format!(
                    "--start/--end with --window {window} make about {windows} windows per type, more than {MAX_UNITS}: give a larger --window or a shorter range"
                )));
            }
        }
        let settle_text = raw.settle.trim();
        let settle = parse_duration(
            "--settle",
            if settle_text.is_empty() {
                DEFAULT_SETTLE
            } else {
                settle_text
            },
            true,
        )?;
        Ok(ReconcilePlan {
            types,
            start,
            end,
            window,
            settle,
            settle_given: (!settle_text.is_empty() && settle_text != DEFAULT_SETTLE)
                .then(|| settle_text.to_string()),
            concurrency: super::concurrency(raw.concurrency)?,
            company_id: company_id(raw.company_id.as_deref())?,
            output: Output::parse(&raw.out)?,
            out: raw.out.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawReconcile {
        RawReconcile {
            out: "./archive".into(),
            ..RawReconcile::default()
        }
    }

    #[test]
    fn defaults_and_each_check_names_its_flag() {
        let p = ReconcilePlan::new(&raw()).unwrap();
        assert!(p.types.is_empty());
        assert_eq!((p.start, p.end), (None, None));
        assert_eq!(p.window, Step::HOUR);
        assert_eq!(p.settle, TimeDelta::minutes(15));
        assert_eq!(p.settle_given, None);
        assert_eq!(p.concurrency, 4);
        assert_eq!(p.out, "./archive");

        let p = ReconcilePlan::new(&RawReconcile {
            types: Some("sms,voice".into()),
            start: Some("2026-11-01T00:00:00Z".into()),
            end: Some("2026-11-02T00:00:00Z".into()),
            settle: "0s".into(),
            ..raw()
        })
        .unwrap();
        assert_eq!(p.types, vec![CdrType::Sms, CdrType::Voice]);
        assert_eq!(p.settle_given.as_deref(), Some("0s"));

        for (bad, flag) in [
            (
                RawReconcile {
                    types: Some("FAX".into()),
                    ..raw()
                },
                "--type",
            ),
            (
                RawReconcile {
                    start: Some("yesterday".into()),
                    ..raw()
                },
                "--start",
            ),
            (
                RawReconcile {
                    start: Some("2026-11-02T00:00:00Z".into()),
                    end: Some("2026-11-01T00:00:00Z".into()),
                    ..raw()
                },
                "--end",
            ),
            (
                RawReconcile {
                    window: "7m".into(),
                    ..raw()
                },
                "--window",
            ),
            (
                RawReconcile {
                    settle: "soon".into(),
                    ..raw()
                },
                "--settle",
            ),
            (
                RawReconcile {
                    concurrency: 0,
                    ..raw()
                },
                "--concurrency",
            ),
            (
                RawReconcile {
                    company_id: Some(" ".into()),
                    ..raw()
                },
                "--company-id",
            ),
            (
                RawReconcile {
                    out: String::new(),
                    ..raw()
                },
                "--out",
            ),
            (
                RawReconcile {
                    start: Some("1990-01-01T00:00:00Z".into()),
                    end: Some("2026-01-01T00:00:00Z".into()),
                    window: "15m".into(),
                    ..raw()
                },
                "--start/--end",
            ),
        ] {
            let e = ReconcilePlan::new(&bad).unwrap_err();
            assert!(e.0.starts_with(flag), "{flag}: {e}");
        }
    }
}
