//! Phase 1: the ledger, type by type, the replacements left unfinished, and
//! the files replacements left in place for Delta tables.

use std::collections::{BTreeMap, BTreeSet};

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey, ObjectMeta};

use crate::layout;
use crate::ledger::{self, UnitEntry};

use super::{Findings, Fix, ProblemKind, Replacing, TypeReport, VerifyError, VerifyOptions};

/// What the ledger holds, for the later phases.
pub(super) struct Ledger {
    /// Readable entries, by type and window.
    pub entries: BTreeMap<CdrType, BTreeMap<Window, UnitEntry>>,
    /// Each type's totals, for the report.
    pub reports: BTreeMap<String, TypeReport>,
    /// Every file key an entry lists.
    pub listed: BTreeSet<String>,
    /// The finished windows of each type (unreadable entries' too), sorted.
    pub windows: BTreeMap<CdrType, Vec<Window>>,
    /// Files of older generations that replacements took out of a Delta
    /// table and left in place until `--keep-replaced` ([`crate::retained`]).
    pub retained: BTreeSet<String>,
}

/// Reads the ledger of `types`, noting unreadable entries, and the lists of
/// retained files among `listing` (the whole output's).
pub(super) async fn read(
    dest: &dyn Destination,
    listing: &BTreeMap<String, ObjectMeta>,
    types: &[CdrType],
    options: &VerifyOptions,
    found: &mut Findings,
) -> Result<Ledger, VerifyError> {
    // The ledger, type by type.
    let mut entries: BTreeMap<CdrType, BTreeMap<Window, UnitEntry>> = BTreeMap::new();
    let mut reports = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut windows_by_type: BTreeMap<CdrType, Vec<Window>> = BTreeMap::new();
    for &t in types {
        let mut mine = BTreeMap::new();
        let mut windows = Vec::new();
        for (key, entry) in ledger::read_type_entries(dest, t).await? {
            let named = layout::window_of_record(&key);
            match entry {
                Ok(Some(e)) => match e.window() {
                    Some(w) if named.is_none_or(|n| n == w) && e.cdr_type == t => {
                        windows.push(w);
                        listed.extend(e.files.iter().map(|f| f.key.clone()));
                        mine.insert(w, e);
                    }
                    _ => {
                        windows.extend(named);
                        found.problem(
                            ProblemKind::UnreadableLedgerEntry,
                            Some(t),
                            named,
                            Some(key.as_str()),
                            format!(
                                "ledger entry {} describes another type or window than its name says",
                                dest.location(&key)
                            ),
                        );
                        note_delete_entry(found, dest, &key, t, named);
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    windows.extend(named);
                    found.problem(
                        ProblemKind::UnreadableLedgerEntry,
                        Some(t),
                        named,
                        Some(key.as_str()),
                        e.to_string(),
                    );
                    note_delete_entry(found, dest, &key, t, named);
                }
            }
        }
        windows.sort();
        windows.dedup();
        let report = TypeReport {
            windows: windows.len() as u64,
            start: windows.first().map(Window::start),
            end: windows.last().map(Window::end),
            records: mine.values().map(|e| e.records).sum(),
            files: mine.values().map(|e| e.files.len() as u64).sum(),
            bytes: mine.values().map(UnitEntry::bytes).sum(),
            skipped: mine.values().map(|e| e.skipped).sum(),
            quarantined: mine.values().map(|e| e.quarantined).sum(),
        };
        if !options.types.is_empty() && windows.is_empty() {
            found.problem(
                ProblemKind::EmptyArchive,
                Some(t),
                None,
                None,
                format!(
                    "no finished {t} window under {}: nothing of this type was archived there",
                    dest.describe()
                ),
            );
        }
        if !windows.is_empty() || !options.types.is_empty() {
            reports.insert(t.as_str().to_string(), report);
        }
        windows_by_type.insert(t, windows);
        entries.insert(t, mine);
    }
    if windows_by_type.values().all(Vec::is_empty) && options.types.is_empty() {
        found.problem(
            ProblemKind::EmptyArchive,
            None,
            None,
            None,
            format!(
                "{} holds no ledger: nothing was archived there (is --out right?)",
                dest.describe()
            ),
        );
    }

    Ok(Ledger {
        entries,
        reports,
        listed,
        windows: windows_by_type,
        retained: crate::retained::read_lists(dest, listing.values())
            .await?
            .into_iter()
            .flat_map(|(_, list)| list.files.into_iter().map(|f| f.key))
            .collect(),
    })
}

/// The replacements left unfinished, as problems.
pub(super) async fn replacements(
    dest: &dyn Destination,
    types: &[CdrType],
    found: &mut Findings,
) -> Result<Replacing, VerifyError> {
    let mut replacing = Replacing::new();
    for r in ledger::read_replacements(dest).await? {
        let Some(w) = r.window() else { continue };
        if !types.contains(&r.cdr_type) {
            continue;
        }
        replacing.insert((r.cdr_type, w));
        found.problem(
            ProblemKind::InterruptedReplacement,
            Some(r.cdr_type),
            Some(w),
            None,
            format!(
                "the replacement of {} {w} (generation {} by {}) was interrupted: readers may see both generations until an archive run finishes it",
                r.cdr_type, r.from_generation, r.to_generation
            ),
        );
        found.fixes.insert((r.cdr_type, Fix::Archive, w));
    }

    Ok(replacing)
}

fn note_delete_entry(
    found: &mut Findings,
    dest: &dyn Destination,
    key: &ObjectKey,
    t: CdrType,
    w: Option<Window>,
) {
    found.notes.push(format!("delete {}", dest.location(key)));
    if let Some(w) = w {
        found.fixes.insert((t, Fix::Archive, w));
    }
}
