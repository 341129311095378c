//! `archive`'s flags → [`ArchivePlan`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Limit, Step, Window, parse_type_list, plan};

use super::{
    FormatChoice, OnBadRecord, OnUnknown, Output, PlanError, TableFormat, Unit, company_id,
    parse_duration, parse_instant,
};

/// The flags of `archive` as given, before validation. Its `Default` holds
/// the command line's defaults, with no type, range or output.
#[derive(Debug, Clone)]
pub struct RawArchive {
    pub types: String,
    /// `--start`; empty when not given.
    pub start: String,
    /// `--end`; empty when not given.
    pub end: String,
    pub out: String,
    pub format: String,
    /// `--table-format`: `files` or `delta`.
    pub table_format: String,
    pub limit: i64,
    /// `--concurrency`: `auto` or a number of units.
    pub concurrency: String,
    /// `--max-concurrency`: the most units `auto` runs at once.
    pub max_concurrency: i64,
    /// `--max-rps`: API requests per second, at most.
    pub max_rps: Option<f64>,
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

impl Default for RawArchive {
    fn default() -> Self {
        RawArchive {
            types: String::new(),
            start: String::new(),
            end: String::new(),
            out: String::new(),
            format: "parquet".into(),
            table_format: "files".into(),
            limit: 1000,
            concurrency: "auto".into(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            max_rps: None,
            window: "1h".into(),
            company_id: None,
            incremental: false,
            settle: DEFAULT_SETTLE.into(),
            rescan: None,
            redo: false,
            lease: String::new(),
            on_unknown: String::new(),
            on_bad_record: String::new(),
            allow_shrink: false,
            keep_replaced: DEFAULT_KEEP_REPLACED.into(),
        }
    }
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
#[derive(Debug, Clone, PartialEq)]
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
    /// `--table-format`.
    pub table_format: TableFormat,
    pub limit: Limit,
    /// How many units fetch at once.
    pub concurrency: Concurrency,
    /// `--max-rps`: at most this many API requests per second.
    pub max_rps: Option<f64>,
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

/// How many units of a run fetch at once: `--concurrency` and
/// `--max-concurrency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// `--concurrency N`: always N.
    Fixed(usize),
    /// `--concurrency auto`: from [`AUTO_START`] (or `max`, when lower),
    /// adapted to the API's answers within `1..=max`
    /// ([`cdr_transport::adaptive`]).
    Auto { max: usize },
}

/// Where `--concurrency auto` starts: the fixed default of earlier versions.
pub const AUTO_START: usize = 4;

/// The default `--max-concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: i64 = 32;

impl Concurrency {
    /// `--concurrency` (`auto` or 1 to [`MAX_CONCURRENCY`]) with
    /// `--max-concurrency` (1 to [`MAX_CONCURRENCY`]), which bounds `auto`.
    pub fn parse(concurrency: &str, max: i64) -> Result<Concurrency, PlanError> {
        let given = concurrency.trim();
        if given.eq_ignore_ascii_case("auto") {
            let max = super::flags::in_range("--max-concurrency", max)?;
            return Ok(Concurrency::Auto { max });
        }
        match given.parse::<i64>() {
            Ok(n) => Ok(Concurrency::Fixed(super::concurrency(n)?)),
            Err(_) => Err(PlanError::new(format!(
                "--concurrency `{given}` is neither `auto` nor a number: give auto, or 1 to {MAX_CONCURRENCY}"
            ))),
        }
    }

    /// The units that fetch at once when the run starts: `N`, or `auto`'s
    /// [`AUTO_START`] (or its `max`, when lower).
    pub fn start(&self) -> usize {
        match *self {
            Concurrency::Fixed(n) => n,
            Concurrency::Auto { max } => AUTO_START.min(max),
        }
    }

    /// The most units that fetch at once.
    pub fn most(&self) -> usize {
        match *self {
            Concurrency::Fixed(n) | Concurrency::Auto { max: n } => n,
        }
    }
}

impl std::fmt::Display for Concurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Concurrency::Fixed(n) => write!(f, "{n}"),
            Concurrency::Auto { max } => write!(f, "auto (at most {max})"),
        }
    }
}

impl ArchivePlan {
    /// The limits on the run's requests: a fixed or adaptive number of
    /// units fetching at once, and `--max-rps`. The client and the
    /// scheduler share it.
    pub fn throttle(&self) -> cdr_transport::Throttle {
        use cdr_transport::adaptive::AimdConfig;
        let concurrency = match self.concurrency {
            Concurrency::Fixed(n) => cdr_transport::Concurrency::Fixed(n),
            Concurrency::Auto { max } => {
                cdr_transport::Concurrency::Adaptive(AimdConfig::new(self.concurrency.start(), max))
            }
        };
        cdr_transport::Throttle::new(concurrency, self.max_rps)
    }
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
        let concurrency = Concurrency::parse(&raw.concurrency, raw.max_concurrency)?;
        let max_rps = super::max_rps(raw.max_rps)?;
        let output = Output::parse(&raw.out)?;
        let format = FormatChoice::parse(&raw.format)?;
        let table_format = TableFormat::parse(&raw.table_format, format)?;
        let company_id = company_id(raw.company_id.as_deref())?;
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
            TimeDelta::from_std(crate::claim::lease::DEFAULT_LEASE).unwrap_or(TimeDelta::minutes(5))
        };
        let min_lease = crate::claim::lease::MIN_LEASE.as_secs() as i64;
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
            table_format,
            limit,
            concurrency,
            max_rps,
            company_id,
            incremental: None,
            rescan,
            redo: raw.redo,
            settle,
            lease: lease.to_std().unwrap_or(crate::claim::lease::DEFAULT_LEASE),
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
        check_size(start, end.min(settled), step, out.types.len())?;
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
            check_size(resume, self.end, self.step, self.types.len())?;
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

/// The most units a plan may hold: past this, memory and the number of
/// requests would surprise; a larger `--window` makes fewer units.
pub const MAX_UNITS: u64 = 1_000_000;

/// Refuses a range that would plan more than [`MAX_UNITS`] units, before
/// building them.
fn check_size(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Step,
    types: usize,
) -> Result<(), PlanError> {
    let span = (end - start).num_seconds().max(0) as u64;
    let step_s = step.duration().num_seconds().max(1) as u64;
    // Windows are cut at step boundaries: at most one more than whole steps.
    let units = (span / step_s + 2).saturating_mul(types as u64);
    if units > MAX_UNITS {
        return Err(PlanError::new(format!(
            "--start/--end with --window {step} make about {units} units (type x window), more than {MAX_UNITS}: give a larger --window (e.g. 1d) or a shorter range"
        )));
    }
    Ok(())
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
