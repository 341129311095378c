//! The report: problems sorted, totals, and the `cdr-sink archive` commands
//! that repair the affected windows.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Step, Window, format_datetime};
use cdr_sink_api::Destination;

use crate::ledger::UnitEntry;

use super::entries::Ledger;
use super::{Findings, Fix, ProblemKind, VerifyOptions, VerifyReport};

/// The report of `found`.
pub(super) fn finish(
    dest: &dyn Destination,
    found: Findings,
    ledger: &Ledger,
    options: &VerifyOptions,
    files_checked: u64,
    bytes_read: u64,
) -> VerifyReport {
    let repair = repair_commands(&found, &ledger.entries, &ledger.windows, &options.out);
    let mut problems = found.problems;
    problems.sort_by(|a, b| {
        (&a.cdr_type, a.window_start, a.kind, &a.key).cmp(&(
            &b.cdr_type,
            b.window_start,
            b.kind,
            &b.key,
        ))
    });
    VerifyReport {
        status: if problems.is_empty() {
            "ok"
        } else {
            "problems"
        },
        output: dest.describe(),
        types: ledger.reports.clone(),
        files_checked,
        bytes_read,
        problems,
        repair,
    }
}

/// The `cdr-sink archive` commands that repair the windows with problems:
/// contiguous windows of one type and one kind of fix become one command.
pub(super) fn repair_commands(
    found: &Findings,
    entries: &BTreeMap<CdrType, BTreeMap<Window, UnitEntry>>,
    windows: &BTreeMap<CdrType, Vec<Window>>,
    out: &str,
) -> Vec<String> {
    let mut lines: Vec<String> = found.notes.clone();
    let mut ranges: Vec<(CdrType, Fix, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &(t, fix, w) in &found.fixes {
        match ranges.last_mut() {
            Some((lt, lf, _, end)) if *lt == t && *lf == fix && *end >= w.start() => {
                *end = (*end).max(w.end());
            }
            _ => ranges.push((t, fix, w.start(), w.end())),
        }
    }
    for (t, fix, start, end) in ranges {
        let mine = entries.get(&t);
        let step = typical_step(windows.get(&t).map(Vec::as_slice).unwrap_or(&[]));
        let format = mine
            .and_then(|m| most_common(m.values().map(|e| e.format.as_str())))
            .unwrap_or("parquet");
        lines.push(format!(
            "cdr-sink archive --type {} --start {} --end {} --out {} --window {step} --format {format}{}",
            t.as_str(),
            format_datetime(&start),
            format_datetime(&end),
            shell_quote(out),
            if fix == Fix::Redo { " --redo" } else { "" }
        ) + if found.delta.contains(&t) {
            " --table-format delta"
        } else {
            ""
        });
    }
    lines
}

/// The most common window length of a type that is a valid `--window`.
pub(crate) fn typical_step(windows: &[Window]) -> Step {
    let lengths = windows
        .iter()
        .map(|w| w.duration())
        .filter(|d| Step::from_seconds(d.num_seconds()).is_some() && d.subsec_nanos() == 0);
    let mut counts: BTreeMap<TimeDelta, usize> = BTreeMap::new();
    for d in lengths {
        *counts.entry(d).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d))
        .and_then(|(d, _)| Step::from_seconds(d.num_seconds()))
        .unwrap_or(Step::HOUR)
}

pub(crate) fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(i, _)| i)
}

/// `s` as one shell word.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+@%,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verified {}: {} files ({} bytes) read and checked against the ledger",
            self.output,
            crate::progress::group(self.files_checked),
            crate::progress::group(self.bytes_read)
        )?;
        for (t, r) in &self.types {
            let range = match (r.start, r.end) {
                (Some(s), Some(e)) => format!("[{}, {})", format_datetime(&s), format_datetime(&e)),
                _ => "(nothing archived)".to_string(),
            };
            writeln!(
                f,
                "{t:<6} {range}  {} windows  {} records  {} files  {} bytes{}{}",
                crate::progress::group(r.windows),
                crate::progress::group(r.records),
                crate::progress::group(r.files),
                crate::progress::group(r.bytes),
                match r.skipped {
                    0 => String::new(),
                    n => format!("  {} skipped (unknown members)", crate::progress::group(n)),
                },
                match r.quarantined {
                    0 => String::new(),
                    n => format!("  {} quarantined", crate::progress::group(n)),
                }
            )?;
        }
        if self.problems.is_empty() {
            return writeln!(
                f,
                "OK: every file matches the ledger, and the windows have no gap or overlap"
            );
        }
        writeln!(f, "{} PROBLEMS:", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", kind_text(p.kind), p.message)?;
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

fn kind_text(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::EmptyArchive => "empty archive",
        ProblemKind::UnreadableLedgerEntry => "unreadable ledger entry",
        ProblemKind::MissingFile => "missing file",
        ProblemKind::TruncatedFile => "truncated file",
        ProblemKind::SizeMismatch => "size mismatch",
        ProblemKind::ChecksumMismatch => "checksum mismatch",
        ProblemKind::RowCountMismatch => "row count mismatch",
        ProblemKind::UnreadableFile => "unreadable file",
        ProblemKind::NotInLedger => "file not in the ledger",
        ProblemKind::NotInTable => "window not in its Delta table",
        ProblemKind::NotInLedgerButInTable => "Delta table file not in the ledger",
        ProblemKind::InterruptedReplacement => "interrupted replacement",
        ProblemKind::Gap => "missing window",
        ProblemKind::Overlap => "overlapping windows",
    }
}
