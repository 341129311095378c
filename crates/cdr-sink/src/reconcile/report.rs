//! The report: each window's outcome judged, totals per type, and the
//! `cdr-sink archive` commands that repair the differences, adjacent
//! windows of one type and one kind of repair merged into one command (as
//! `cdr-sink verify` does).
//!
//! A window whose records changed after it was archived (a count or a
//! content difference) is repaired by `archive --rescan DURATION` over its
//! range: that fetches each finished window of the range again and replaces
//! those whose count or content hash changed, and only those. (`--redo`
//! would replace every finished window of the range, changed or not.) A
//! missing window is archived by a plain `archive` over its range.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

use cdr_core::{CdrType, Window, format_datetime};
use cdr_sink_api::Destination;

use crate::plan::ReconcilePlan;
use crate::progress::group;
use crate::verify::shell_quote;

use super::windows::{Planned, unchecked};
use super::{
    CheckError, Difference, DifferenceKind, InProgress, Outcome, ReconcileReport, TypeTotals,
};

/// How a window is repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fix {
    /// Archive it (it is not finished).
    Archive,
    /// Fetch it again and replace it if it changed (`--rescan`).
    Rescan,
}

/// What the repair commands need to know besides the windows.
pub(super) struct RepairContext<'a> {
    pub plan: &'a ReconcilePlan,
    pub planned: &'a Planned,
}

/// The report of the `outcomes` of `planned`; `late` are the missing
/// windows other runs claimed or finished meanwhile.
pub(super) fn finish(
    dest: &dyn Destination,
    plan: &ReconcilePlan,
    planned: &Planned,
    outcomes: Vec<super::Outcome>,
    late: BTreeMap<(CdrType, Window), InProgress>,
) -> ReconcileReport {
    let mut types: BTreeMap<CdrType, TypeTotals> = planned
        .types
        .iter()
        .map(|(t, p)| {
            let totals = TypeTotals {
                start: p.range.map(|r| r.start()),
                end: p.range.map(|r| r.end()),
                ..TypeTotals::default()
            };
            (*t, totals)
        })
        .collect();
    let mut in_progress = Vec::new();
    let mut not_compared = Vec::new();
    for (t, p) in &planned.in_progress {
        types.entry(*t).or_default().in_progress += 1;
        in_progress.push(p.clone());
    }
    for (t, w, why) in &planned.unchecked {
        types.entry(*t).or_default().unchecked += 1;
        not_compared.push(unchecked(*t, *w, why.clone()));
    }
    // Differences, each with the fix its window needs.
    let mut found: Vec<(CdrType, Window, Fix, Difference)> = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Compared {
                t,
                window,
                entry,
                export,
            } => {
                let totals = types.entry(t).or_default();
                if export.unstorable > 0 && entry.quarantined == 0 {
                    totals.unchecked += 1;
                    let e = CheckError::Unstorable {
                        cdr_type: t,
                        window,
                        count: export.unstorable,
                        first: export.first_unstorable.clone().unwrap_or_default(),
                    };
                    not_compared.push(unchecked(t, window, e.to_string()));
                    continue;
                }
                totals.windows_checked += 1;
                totals.records_ledger += entry.records;
                totals.records_export += export.records();
                let (archived, exported) = (entry.records, export.records());
                let count_differs = archived != exported || entry.quarantined != export.unstorable;
                let hash = export.hash.hex();
                let content_differs = entry.content_hash.as_deref().is_some_and(|h| h != hash);
                let kind = if count_differs {
                    DifferenceKind::Count
                } else if content_differs {
                    DifferenceKind::Content
                } else {
                    totals.equal += 1;
                    continue;
                };
                totals.differ += 1;
                let mut message = match kind {
                    DifferenceKind::Count => format!(
                        "{t} {window}: {} records archived, {} in the export",
                        group(archived),
                        group(exported)
                    ),
                    _ => format!(
                        "{t} {window}: the same {} records, with other values in the export (changed after it was archived, e.g. a re-rated charge)",
                        group(archived)
                    ),
                };
                if entry.quarantined > 0 || export.unstorable > 0 {
                    message.push_str(&format!(
                        "; {} quarantined, {} in the export that cannot be stored",
                        group(entry.quarantined),
                        group(export.unstorable)
                    ));
                }
                if exported < archived {
                    message.push_str(
                        "; the export lists fewer records than the archive holds, so the repair refuses to replace the window unless --allow-shrink is added: find out why first (retention, permissions)",
                    );
                }
                found.push((
                    t,
                    window,
                    Fix::Rescan,
                    difference(kind, t, window, Some(archived), exported, message),
                ));
            }
            Outcome::Missing { t, window, export } => {
                if let Some(p) = late.get(&(t, window)) {
                    types.entry(t).or_default().in_progress += 1;
                    in_progress.push(p.clone());
                    continue;
                }
                let totals = types.entry(t).or_default();
                totals.missing += 1;
                totals.records_export += export.records();
                let mut message = format!(
                    "{t} {window}: not archived; {} records in the export",
                    group(export.records())
                );
                if export.unstorable > 0 {
                    message.push_str(&format!(
                        ", and {} that cannot be stored ({})",
                        group(export.unstorable),
                        export.first_unstorable.as_deref().unwrap_or_default()
                    ));
                }
                found.push((
                    t,
                    window,
                    Fix::Archive,
                    difference(
                        DifferenceKind::Missing,
                        t,
                        window,
                        None,
                        export.records(),
                        message,
                    ),
                ));
            }
            Outcome::Failed { t, window, error } => {
                types.entry(t).or_default().unchecked += 1;
                not_compared.push(unchecked(t, window, error.to_string()));
            }
        }
    }
    let context = RepairContext { plan, planned };
    let fixes: BTreeSet<(CdrType, Fix, Window)> =
        found.iter().map(|(t, w, fix, _)| (*t, *fix, *w)).collect();
    let commands = repair_commands(&fixes, &context);
    let mut differences: Vec<Difference> = found
        .into_iter()
        .map(|(t, w, fix, mut d)| {
            d.repair = commands
                .iter()
                .find(|c| {
                    c.cdr_type == t && c.fix == fix && c.start <= w.start() && w.end() <= c.end
                })
                .map(|c| c.line.clone())
                .unwrap_or_default();
            d
        })
        .collect();
    differences.sort_by(|a, b| {
        (&a.cdr_type, a.window_start, a.kind).cmp(&(&b.cdr_type, b.window_start, b.kind))
    });
    in_progress.sort_by(|a, b| (&a.cdr_type, a.window_start).cmp(&(&b.cdr_type, b.window_start)));
    not_compared.sort_by(|a, b| (&a.cdr_type, a.window_start).cmp(&(&b.cdr_type, b.window_start)));
    ReconcileReport {
        status: if !differences.is_empty() {
            "differences"
        } else if !not_compared.is_empty() {
            "unchecked"
        } else {
            "ok"
        },
        output: dest.describe(),
        types: types
            .into_iter()
            .map(|(t, totals)| (t.as_str().to_string(), totals))
            .collect(),
        differences,
        in_progress,
        unchecked: not_compared,
        repair: commands.into_iter().map(|c| c.line).collect(),
    }
}

fn difference(
    kind: DifferenceKind,
    t: CdrType,
    window: Window,
    ledger_records: Option<u64>,
    export_records: u64,
    message: String,
) -> Difference {
    Difference {
        kind,
        cdr_type: t.as_str().to_string(),
        window_start: window.start(),
        window_end: window.end(),
        ledger_records,
        export_records,
        message,
        repair: String::new(),
    }
}

/// One repair command and the windows it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Command {
    pub cdr_type: CdrType,
    pub fix: Fix,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub line: String,
}

/// The `cdr-sink archive` commands that repair `fixes`: contiguous windows
/// of one type and one kind of fix become one command.
pub(super) fn repair_commands(
    fixes: &BTreeSet<(CdrType, Fix, Window)>,
    context: &RepairContext<'_>,
) -> Vec<Command> {
    let mut ranges: Vec<(CdrType, Fix, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &(t, fix, w) in fixes {
        match ranges.last_mut() {
            Some((lt, lf, _, end)) if *lt == t && *lf == fix && *end >= w.start() => {
                *end = (*end).max(w.end());
            }
            _ => ranges.push((t, fix, w.start(), w.end())),
        }
    }
    let plan = context.plan;
    ranges
        .into_iter()
        .map(|(t, fix, start, end)| {
            let of_type = context.planned.types.get(&t);
            let step = of_type.map_or(plan.window, |p| p.step);
            let format = of_type
                .and_then(|p| p.format.as_deref())
                .unwrap_or("parquet");
            let mut line = format!(
                "cdr-sink archive --type {} --start {} --end {} --out {} --window {step} --format {format}",
                t.as_str(),
                format_datetime(&start),
                format_datetime(&end),
                shell_quote(&plan.out),
            );
            if let Some(settle) = &plan.settle_given {
                line.push_str(&format!(" --settle {}", shell_quote(settle)));
            }
            if let Some(id) = &plan.company_id {
                line.push_str(&format!(" --company-id {}", shell_quote(id)));
            }
            if fix == Fix::Rescan {
                line.push_str(&format!(" --rescan {}", duration_text(end - start)));
            }
            Command {
                cdr_type: t,
                fix,
                start,
                end,
                line,
            }
        })
        .collect()
}

/// A duration as `--rescan` takes it: whole seconds (rounded up) in the
/// largest unit that divides them.
pub(super) fn duration_text(d: chrono::TimeDelta) -> String {
    let mut s = d.num_seconds().max(1);
    if d.subsec_nanos() > 0 {
        s += 1;
    }
    if s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sum = |g: fn(&TypeTotals) -> u64| self.types.values().map(g).sum::<u64>();
        writeln!(
            f,
            "reconciled {} with the provider's export: {} windows compared, {} missing, {} in progress, {} not compared",
            self.output,
            group(sum(|t| t.windows_checked)),
            group(sum(|t| t.missing)),
            group(sum(|t| t.in_progress)),
            group(sum(|t| t.unchecked)),
        )?;
        for (t, r) in &self.types {
            let range = match (r.start, r.end) {
                (Some(s), Some(e)) => format!("[{}, {})", format_datetime(&s), format_datetime(&e)),
                _ => "(nothing archived)".to_string(),
            };
            writeln!(
                f,
                "{t:<6} {range}  {} compared: {} equal, {} differ; {} missing; {} in progress; records: {} archived, {} in the exports",
                group(r.windows_checked),
                group(r.equal),
                group(r.differ),
                group(r.missing),
                group(r.in_progress),
                group(r.records_ledger),
                group(r.records_export),
            )?;
        }
        if self.is_ok() {
            writeln!(
                f,
                "OK: every window compared holds the records of its export, and none is missing"
            )?;
        }
        if !self.differences.is_empty() {
            writeln!(f, "{} DIFFERENCES:", self.differences.len())?;
            for d in &self.differences {
                let kind = match d.kind {
                    DifferenceKind::Count => "count differs",
                    DifferenceKind::Content => "content differs",
                    DifferenceKind::Missing => "missing",
                };
                writeln!(f, "  {kind}: {}", d.message)?;
            }
        }
        if !self.in_progress.is_empty() {
            writeln!(f, "In progress (another run works on them; not compared):")?;
            for p in &self.in_progress {
                let window = Window::new(p.window_start, p.window_end)
                    .map(|w| w.to_string())
                    .unwrap_or_default();
                let until = p
                    .expires
                    .map(|e| format!(", until {}", format_datetime(&e)))
                    .unwrap_or_default();
                writeln!(f, "  {} {window}: {}{until}", p.cdr_type, p.message)?;
            }
        }
        if !self.unchecked.is_empty() {
            writeln!(f, "{} NOT COMPARED:", self.unchecked.len())?;
            for u in &self.unchecked {
                writeln!(f, "  {}", u.message)?;
            }
        }
        if !self.repair.is_empty() {
            writeln!(f, "To repair, run:")?;
            for line in &self.repair {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
