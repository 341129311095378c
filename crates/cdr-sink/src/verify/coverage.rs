//! Phase 4: a type's finished windows cover its archived range (first window
//! start to last window end) without a gap or an overlap.

use std::collections::BTreeMap;

use cdr_core::{CdrType, Window};

use super::{Findings, Fix, ProblemKind};

/// Notes the gaps and overlaps between each type's sorted windows.
pub(super) fn check(windows_by_type: &BTreeMap<CdrType, Vec<Window>>, found: &mut Findings) {
    for (&t, windows) in windows_by_type {
        for pair in windows.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.end() < b.start() {
                let Ok(gap) = Window::new(a.end(), b.start()) else {
                    continue;
                };
                found.problem(
                    ProblemKind::Gap,
                    Some(t),
                    Some(gap),
                    None,
                    format!("missing window: no finished {t} window covers {gap}"),
                );
                found.fixes.insert((t, Fix::Archive, gap));
            } else if a.end() > b.start() {
                found.problem(
                    ProblemKind::Overlap,
                    Some(t),
                    Some(b),
                    None,
                    format!(
                        "finished {t} windows {a} and {b} overlap (archived with different --window): their common records are archived twice; delete one of them (its ledger entry and files) and archive its range again"
                    ),
                );
            }
        }
    }
}
