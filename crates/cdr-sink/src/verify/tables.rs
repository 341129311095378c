//! Phase 5 (outputs written with `--table-format delta`): each type's Delta
//! table against the ledger. Every finished window's files must be the
//! table's files of that window, and the table must show no other file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cdr_core::{CdrType, Window};
use cdr_sink_api::{Destination, ObjectKey};

use super::entries::Ledger;
use super::{Findings, Fix, ProblemKind, Replacing, VerifyError};
use crate::delta::{TablesError, open_table, table_root};
use crate::layout;

/// Compares the table of each of `types` that has one with the ledger.
pub(super) async fn check(
    dest: &Arc<dyn Destination>,
    ledger: &Ledger,
    replacing: &Replacing,
    types: &[CdrType],
    found: &mut Findings,
) -> Result<(), VerifyError> {
    for &t in types {
        if crate::delta::first_with_table(dest.as_ref(), &[t])
            .await?
            .is_none()
        {
            continue;
        }
        found.delta.insert(t);
        let table = open_table(dest.clone(), t)
            .await
            .map_err(TablesError::from)?;
        let (version, active) = table.active_files().await.map_err(TablesError::from)?;
        let root = table_root(t);
        // The table's files by window, as archive keys.
        let mut shown: BTreeMap<Option<Window>, BTreeSet<String>> = BTreeMap::new();
        for path in active {
            let key = format!("{root}/{path}");
            let window = ObjectKey::new(key.as_str())
                .ok()
                .and_then(|k| layout::parse_part_key(&k))
                .map(|p| p.window);
            shown.entry(window).or_default().insert(key);
        }
        let entries = ledger.entries.get(&t);
        for (w, entry) in entries.into_iter().flatten() {
            let listed: BTreeSet<String> = entry.files.iter().map(|f| f.key.clone()).collect();
            let in_table = shown.remove(&Some(*w)).unwrap_or_default();
            if listed == in_table || replacing.contains(&(t, *w)) {
                continue;
            }
            let message = if in_table.is_empty() {
                format!(
                    "{t} {w} is finished in the ledger but not in its Delta table (version {version}): readers of the table do not see it; the next archive run with --table-format delta publishes it"
                )
            } else {
                format!(
                    "{t} {w}: its Delta table (version {version}) shows {} file(s), its ledger entry lists {}: readers of the table see another generation",
                    in_table.len(),
                    listed.len()
                )
            };
            found.problem(ProblemKind::NotInTable, Some(t), Some(*w), None, message);
            found.fixes.insert((t, Fix::Archive, *w));
        }
        for (w, keys) in shown {
            for key in keys {
                let location = ObjectKey::new(key.as_str())
                    .map(|k| dest.location(&k))
                    .unwrap_or_else(|_| key.clone());
                found.problem(
                    ProblemKind::NotInLedgerButInTable,
                    Some(t),
                    w,
                    Some(&key),
                    format!(
                        "{location} is in the Delta table (version {version}) but no ledger entry lists it: readers of the table see records the ledger does not account for"
                    ),
                );
            }
        }
    }
    Ok(())
}
