//! `cdr-sink status`: how far the archive reaches, per type, from the ledger
//! alone (no API call, no data file read).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use cdr_core::{CdrType, Window, format_datetime};
use cdr_sink_api::Destination;

use crate::ledger::{self, LedgerError};
use crate::progress::group;

/// The archive of one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypeStatus {
    /// Finished windows.
    pub windows: u64,
    /// The archived range: first window start, last window end.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The end of the gap-free run of windows from `start`: everything before
    /// it is archived; an `--incremental` run continues from here.
    pub complete_until: Option<DateTime<Utc>>,
    /// Seconds from `complete_until` to now: how far behind the archive is.
    pub behind_seconds: Option<i64>,
    /// Holes between `start` and `end` (see `cdr-sink verify`).
    pub gaps: u64,
    /// The finished window that ends last, and when it finished.
    pub newest_window_start: Option<DateTime<Utc>>,
    pub newest_window_end: Option<DateTime<Utc>>,
    pub newest_finished_at: Option<DateTime<Utc>>,
    pub records: u64,
    pub files: u64,
    pub bytes: u64,
    /// Ledger entries that could not be read (their windows still count).
    pub unreadable_entries: u64,
    /// Records of union members this version cannot store, skipped with
    /// `--on-unknown skip`, per member name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped_members: BTreeMap<String, u64>,
    /// Records that could not be stored, kept in quarantine files.
    pub quarantined: u64,
    /// Claims on units of this type: runs working on them now (or stopped
    /// runs whose claims have expired, which the next run removes).
    pub claims: Vec<crate::claim::LiveClaim>,
}

/// The status of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub output: String,
    pub now: DateTime<Utc>,
    pub types: BTreeMap<String, TypeStatus>,
    /// Replacements a crashed run left unfinished (the next archive run
    /// finishes them).
    pub interrupted_replacements: u64,
    /// Files replacements took out of their windows, kept until
    /// `--keep-replaced` has passed, and their bytes: moved under
    /// `_cdr_sink/replaced/`, or left in place (Delta tables).
    pub replaced_files: u64,
    pub replaced_bytes: u64,
    /// Of `replaced_files`, those left in place for the Delta tables'
    /// earlier versions.
    pub replaced_in_place: u64,
}

/// Reads the ledger of `types` (every type when empty) in `dest`.
pub async fn status(
    dest: &dyn Destination,
    types: &[CdrType],
    now: DateTime<Utc>,
) -> Result<StatusReport, LedgerError> {
    let types: Vec<CdrType> = if types.is_empty() {
        CdrType::ALL.to_vec()
    } else {
        types.to_vec()
    };
    let explicit = types.len() < CdrType::ALL.len();
    let mut out = BTreeMap::new();
    for t in types {
        let mut s = TypeStatus::default();
        let mut windows: Vec<Window> = Vec::new();
        for (key, entry) in ledger::read_type_entries(dest, t).await? {
            let named = crate::layout::window_of_record(&key);
            match entry {
                Ok(Some(e)) => {
                    let Some(w) = e.window() else { continue };
                    windows.push(w);
                    s.records += e.records;
                    s.quarantined += e.quarantined;
                    for (member, n) in &e.skipped_members {
                        *s.skipped_members.entry(member.clone()).or_default() += n;
                    }
                    s.files += e.files.len() as u64;
                    s.bytes += e.bytes();
                    if s.newest_window_end.is_none_or(|end| w.end() > end) {
                        s.newest_window_start = Some(w.start());
                        s.newest_window_end = Some(w.end());
                        s.newest_finished_at = Some(e.finished_at);
                    }
                }
                Ok(None) => {}
                Err(_) => {
                    s.unreadable_entries += 1;
                    windows.extend(named);
                }
            }
        }
        windows.sort();
        windows.dedup();
        s.windows = windows.len() as u64;
        s.start = windows.first().map(Window::start);
        s.end = windows.iter().map(Window::end).max();
        s.gaps = windows
            .windows(2)
            .filter(|p| p[0].end() < p[1].start())
            .count() as u64;
        s.complete_until = first_hole(&windows);
        s.behind_seconds = s.complete_until.map(|u| (now - u).num_seconds());
        s.claims = crate::claim::list(dest, t).await?;
        if s.windows > 0 || explicit || !s.claims.is_empty() {
            out.insert(t.as_str().to_string(), s);
        }
    }
    let interrupted = ledger::read_replacements(dest).await?.len() as u64;
    let replaced = dest.list(&crate::layout::replaced_prefix()).await?;
    let in_place: Vec<_> = crate::retained::read_lists(dest, &replaced)
        .await?
        .into_iter()
        .flat_map(|(_, list)| list.files)
        .collect();
    let moved: Vec<_> = replaced
        .iter()
        .filter(|m| !m.key.as_str().contains("/_cdr_sink/"))
        .collect();
    Ok(StatusReport {
        output: dest.describe(),
        now,
        types: out,
        interrupted_replacements: interrupted,
        replaced_files: (moved.len() + in_place.len()) as u64,
        replaced_bytes: moved.iter().map(|m| m.size).sum::<u64>()
            + in_place.iter().map(|f| f.size).sum::<u64>(),
        replaced_in_place: in_place.len() as u64,
    })
}

/// The end of the gap-free run of sorted `windows` from the first one.
fn first_hole(windows: &[Window]) -> Option<DateTime<Utc>> {
    let mut until = windows.first()?.start();
    for w in windows {
        if w.start() > until {
            break;
        }
        until = until.max(w.end());
    }
    Some(until)
}

impl StatusReport {
    /// Whether nothing at all is archived for the types asked about.
    pub fn is_empty(&self) -> bool {
        self.types.values().all(|t| t.windows == 0)
    }

    /// The types whose complete range ends more than `max` before `now`,
    /// each with a line that says by how much (for `status --max-behind`).
    /// A type with nothing archived is behind by any measure; so is an
    /// archive with no type at all.
    pub fn behind_more_than(&self, max: chrono::TimeDelta) -> Vec<String> {
        if self.types.is_empty() {
            return vec!["nothing is archived".to_string()];
        }
        self.types
            .iter()
            .filter_map(|(t, s)| match s.behind_seconds {
                None => Some(format!("{t} has nothing archived")),
                Some(b) if b > max.num_seconds() => {
                    Some(format!("{t} is complete only up to {}", behind(b)))
                }
                Some(_) => None,
            })
            .collect()
    }
}

fn behind(seconds: i64) -> String {
    if seconds < 0 {
        return "ahead of now".into();
    }
    let (d, h, m) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m behind")
    } else {
        format!("{h}h {m}m behind")
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "archive {} at {}",
            self.output,
            format_datetime(&self.now)
        )?;
        if self.is_empty() {
            writeln!(f, "nothing archived yet")?;
        }
        for (t, s) in &self.types {
            let (Some(start), Some(end), Some(until)) = (s.start, s.end, s.complete_until) else {
                writeln!(f, "{t:<6} nothing archived")?;
                write_claims(f, &s.claims)?;
                continue;
            };
            writeln!(
                f,
                "{t:<6} archived [{}, {})  complete until {} ({})",
                format_datetime(&start),
                format_datetime(&end),
                format_datetime(&until),
                behind(s.behind_seconds.unwrap_or_default())
            )?;
            if let (Some(ws), Some(we), Some(at)) = (
                s.newest_window_start,
                s.newest_window_end,
                s.newest_finished_at,
            ) {
                writeln!(
                    f,
                    "       newest window [{}, {}) finished {}",
                    format_datetime(&ws),
                    format_datetime(&we),
                    format_datetime(&at)
                )?;
            }
            writeln!(
                f,
                "       {} windows  {} records  {} files  {} bytes{}{}",
                group(s.windows),
                group(s.records),
                group(s.files),
                group(s.bytes),
                match s.gaps {
                    0 => String::new(),
                    n => format!("  {n} gaps (run cdr-sink verify)"),
                },
                match s.unreadable_entries {
                    0 => String::new(),
                    n => format!("  {n} unreadable ledger entries"),
                }
            )?;
            for (member, n) in &s.skipped_members {
                writeln!(
                    f,
                    "       {} records of union member {member} skipped (--on-unknown skip)",
                    group(*n)
                )?;
            }
            if s.quarantined > 0 {
                writeln!(
                    f,
                    "       {} records could not be stored: kept in _cdr_sink/quarantine/",
                    group(s.quarantined)
                )?;
            }
            write_claims(f, &s.claims)?;
        }
        if self.replaced_files > 0 {
            let place = match self.replaced_in_place {
                0 => "under _cdr_sink/replaced/".to_string(),
                n if n == self.replaced_files => {
                    "in place, for the Delta tables' earlier versions,".to_string()
                }
                n => format!(
                    "({} under _cdr_sink/replaced/, {} in place for the Delta tables' earlier versions)",
                    group(self.replaced_files - n),
                    group(n)
                ),
            };
            writeln!(
                f,
                "{} replaced files ({} bytes) kept {place} until --keep-replaced has passed",
                group(self.replaced_files),
                group(self.replaced_bytes)
            )?;
        }
        if self.interrupted_replacements > 0 {
            writeln!(
                f,
                "{} interrupted replacements: the next archive run finishes them",
                self.interrupted_replacements
            )?;
        }
        Ok(())
    }
}

fn write_claims(f: &mut fmt::Formatter<'_>, claims: &[crate::claim::LiveClaim]) -> fmt::Result {
    for c in claims {
        let owner = c
            .owner
            .as_ref()
            .map_or("an unreadable claim".to_string(), |o| o.to_string());
        writeln!(
            f,
            "       claimed [{}, {}) by {owner}: {} {}",
            format_datetime(&c.window_start),
            format_datetime(&c.window_end),
            if c.expired { "expired" } else { "expires" },
            format_datetime(&c.expires)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::parse_datetime;

    fn w(a: &str, b: &str) -> Window {
        Window::new(parse_datetime(a).unwrap(), parse_datetime(b).unwrap()).unwrap()
    }

    #[test]
    fn the_first_hole_ends_the_complete_range() {
        let ws = [
            w("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"),
            w("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
            w("2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z"),
        ];
        assert_eq!(
            first_hole(&ws),
            Some(parse_datetime("2026-11-01T02:00:00Z").unwrap())
        );
        assert_eq!(
            first_hole(&ws[..2]),
            Some(parse_datetime("2026-11-01T02:00:00Z").unwrap())
        );
        assert_eq!(first_hole(&[]), None);
        assert_eq!(behind(3 * 3600 + 120), "3h 2m behind");
        assert_eq!(behind(86_400 + 60), "1d 0h 1m behind");
    }

    #[test]
    fn types_further_behind_than_a_limit() {
        let now = parse_datetime("2026-11-30T12:00:00Z").unwrap();
        let typed = |behind: Option<i64>| TypeStatus {
            behind_seconds: behind,
            ..TypeStatus::default()
        };
        let report = |types: Vec<(&str, TypeStatus)>| StatusReport {
            output: "out".into(),
            now,
            types: types.into_iter().map(|(t, s)| (t.to_string(), s)).collect(),
            interrupted_replacements: 0,
            replaced_files: 0,
            replaced_bytes: 0,
            replaced_in_place: 0,
        };
        let two_hours = chrono::TimeDelta::hours(2);
        let r = report(vec![
            ("SMS", typed(Some(2 * 3600))),
            ("VOICE", typed(Some(2 * 3600 + 60))),
            ("MMS", typed(None)),
        ]);
        assert_eq!(
            r.behind_more_than(two_hours),
            vec![
                "MMS has nothing archived".to_string(),
                "VOICE is complete only up to 2h 1m behind".to_string()
            ]
        );
        assert!(
            report(vec![("SMS", typed(Some(60)))])
                .behind_more_than(two_hours)
                .is_empty()
        );
        assert_eq!(
            report(vec![]).behind_more_than(two_hours),
            vec!["nothing is archived".to_string()]
        );
    }

    #[tokio::test]
    async fn live_claims_are_shown_with_their_owner() {
        use crate::claim::{Acquired, Claims, Owner};
        let dest = std::sync::Arc::new(cdr_sink_api::memory::MemoryDir::new("status"));
        let owner = Owner {
            host: "worker-7".into(),
            pid: 42,
            run_id: "abc".into(),
        };
        let claims = Claims::new(
            dest.clone(),
            owner.clone(),
            std::time::Duration::from_secs(60),
        );
        let unit = crate::plan::Unit {
            cdr_type: CdrType::Voice,
            window: w("2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"),
        };
        let Acquired::Owned(claim) = claims.acquire(&unit, "archive").await.unwrap() else {
            panic!("busy");
        };
        let report = status(
            dest.as_ref(),
            &[],
            parse_datetime("2026-11-02T00:00:00Z").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(report.types["VOICE"].claims.len(), 1);
        assert_eq!(report.types["VOICE"].claims[0].owner, Some(owner));
        let text = report.to_string();
        assert!(
            text.contains("claimed [2026-11-01T05:00:00Z, 2026-11-01T06:00:00Z) by worker-7 pid 42 (run abc): expires"),
            "{text}"
        );
        claim.release().await;
        let report = status(
            dest.as_ref(),
            &[],
            parse_datetime("2026-11-02T00:00:00Z").unwrap(),
        )
        .await
        .unwrap();
        assert!(report.types.is_empty(), "{report:?}");
    }
}
