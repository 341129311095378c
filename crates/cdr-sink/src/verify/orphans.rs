//! Phase 3: data files that no ledger entry lists.

use std::collections::{BTreeMap, BTreeSet};

use cdr_core::CdrType;
use cdr_sink_api::{Destination, ObjectMeta};

use crate::layout;

use super::entries::Ledger;
use super::{Findings, Fix, ProblemKind, Replacing, VerifyOptions};

/// Notes every data file under `cdr_type=*/date=*/` of `types` that no entry lists.
pub(super) fn find(
    dest: &dyn Destination,
    listing: &BTreeMap<String, ObjectMeta>,
    ledger: &Ledger,
    replacing: &Replacing,
    types: &[CdrType],
    options: &VerifyOptions,
    found: &mut Findings,
) {
    let (listed, entries) = (&ledger.listed, &ledger.entries);
    let wanted: BTreeSet<&str> = types.iter().map(|t| t.as_lower()).collect();
    for (key, meta) in listing {
        let Some(ty) = data_file_type(key) else {
            continue;
        };
        let filtered_out = !options.types.is_empty() && !wanted.contains(ty);
        // A file a replacement took out of its Delta table stays in place
        // until --keep-replaced has passed, for the table's earlier versions.
        if filtered_out || listed.contains(key) || ledger.retained.contains(key) {
            continue;
        }
        let parsed = layout::parse_part_key(&meta.key);
        let owner = parsed.as_ref().and_then(|p| {
            let t: CdrType = p.cdr_type.parse().ok()?;
            Some((t, p.window))
        });
        let message = match owner {
            Some((t, w)) if replacing.contains(&(t, w)) => format!(
                "{} is not in the ledger: left by the interrupted replacement of {t} {w}",
                dest.location(&meta.key)
            ),
            Some((t, w)) if entries.get(&t).is_some_and(|e| e.contains_key(&w)) => format!(
                "{} is not in the ledger: a stale file of the finished window {t} {w} (readers see its rows twice)",
                dest.location(&meta.key)
            ),
            Some((t, w)) => format!(
                "{} is not in the ledger: a file of {t} {w}, which has not finished",
                dest.location(&meta.key)
            ),
            None => format!(
                "{} is not in the ledger and not named as cdr-sink names files: remove it or move it out of the archive",
                dest.location(&meta.key)
            ),
        };
        found.problem(
            ProblemKind::NotInLedger,
            owner.map(|o| o.0),
            owner.map(|o| o.1),
            Some(key),
            message,
        );
        if let Some((t, w)) = owner
            && !replacing.contains(&(t, w))
        {
            let finished = entries.get(&t).is_some_and(|e| e.contains_key(&w));
            found
                .fixes
                .insert((t, if finished { Fix::Redo } else { Fix::Archive }, w));
        }
    }
}

/// The lowercase type of a data file key (`cdr_type=<t>/date=<d>/<file>`, no
/// hidden or bookkeeping segment), or `None` when it is not a data file.
pub(super) fn data_file_type(key: &str) -> Option<&str> {
    let mut segments = key.split('/');
    let ty = segments.next()?.strip_prefix("cdr_type=")?;
    segments.next()?.strip_prefix("date=")?;
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty()
        || key
            .split('/')
            .any(|s| s.starts_with('_') || s.starts_with('.'))
    {
        return None;
    }
    Some(ty)
}
