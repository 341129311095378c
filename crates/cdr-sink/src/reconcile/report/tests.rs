use super::*;

use chrono::TimeDelta;

use cdr_core::{Cdr, Step, parse_datetime};

use crate::content::{ContentHash, HashVersion};
use crate::ledger::{LEDGER_VERSION, UnitEntry};
use crate::plan::{RawReconcile, ReconcilePlan};
use crate::reconcile::ExportContent;
use crate::reconcile::windows::{TypePlan, gaps};

fn at(h: i64) -> DateTime<Utc> {
    parse_datetime("2026-11-01T00:00:00Z").unwrap() + TimeDelta::hours(h)
}

fn hour(h: i64) -> Window {
    Window::new(at(h), at(h + 1)).unwrap()
}

fn plan(extra: impl FnOnce(&mut RawReconcile)) -> ReconcilePlan {
    let mut raw = RawReconcile {
        out: "s3://bucket/my cdrs/".into(),
        ..RawReconcile::default()
    };
    extra(&mut raw);
    ReconcilePlan::new(&raw).unwrap()
}

fn planned(types: &[(CdrType, &str)]) -> Planned {
    Planned {
        types: types
            .iter()
            .map(|&(t, format)| {
                (
                    t,
                    TypePlan {
                        range: Window::new(at(0), at(8)).ok(),
                        step: Step::HOUR,
                        format: Some(format.into()),
                    },
                )
            })
            .collect(),
        ..Planned::default()
    }
}

#[test]
fn adjacent_windows_of_one_type_and_fix_make_one_command() {
    let p = plan(|_| {});
    let types = planned(&[(CdrType::Sms, "csv"), (CdrType::Voice, "parquet")]);
    let fixes: BTreeSet<(CdrType, Fix, Window)> = [
        (CdrType::Sms, Fix::Rescan, hour(1)),
        (CdrType::Sms, Fix::Rescan, hour(2)),
        (CdrType::Sms, Fix::Rescan, hour(4)),
        (CdrType::Sms, Fix::Archive, hour(3)),
        (CdrType::Voice, Fix::Archive, hour(5)),
        (CdrType::Voice, Fix::Archive, hour(6)),
    ]
    .into();
    let lines: Vec<String> = repair_commands(
        &fixes,
        &RepairContext {
            plan: &p,
            planned: &types,
        },
    )
    .into_iter()
    .map(|c| c.line)
    .collect();
    let out = "'s3://bucket/my cdrs/'";
    assert_eq!(
        lines,
        [
            format!(
                "cdr-sink archive --type SMS --start 2026-11-01T03:00:00Z --end 2026-11-01T04:00:00Z --out {out} --window 1h --format csv"
            ),
            format!(
                "cdr-sink archive --type SMS --start 2026-11-01T01:00:00Z --end 2026-11-01T03:00:00Z --out {out} --window 1h --format csv --rescan 2h"
            ),
            format!(
                "cdr-sink archive --type SMS --start 2026-11-01T04:00:00Z --end 2026-11-01T05:00:00Z --out {out} --window 1h --format csv --rescan 1h"
            ),
            format!(
                "cdr-sink archive --type VOICE --start 2026-11-01T05:00:00Z --end 2026-11-01T07:00:00Z --out {out} --window 1h --format parquet"
            ),
        ]
    );

    // A --settle other than the default and --company-id are repeated.
    let p = plan(|r| {
        r.settle = "0s".into();
        r.company_id = Some("42".into());
    });
    let fixes = [(CdrType::Mms, Fix::Archive, hour(0))].into();
    let lines = repair_commands(
        &fixes,
        &RepairContext {
            plan: &p,
            planned: &Planned::default(),
        },
    );
    assert_eq!(
        lines[0].line,
        format!(
            "cdr-sink archive --type MMS --start 2026-11-01T00:00:00Z --end 2026-11-01T01:00:00Z --out {out} --window 1h --format parquet --settle 0s --company-id 42"
        )
    );
}

#[test]
fn rescan_durations_cover_the_range_in_the_largest_exact_unit() {
    assert_eq!(duration_text(TimeDelta::hours(3)), "3h");
    assert_eq!(duration_text(TimeDelta::days(2)), "2d");
    assert_eq!(duration_text(TimeDelta::minutes(90)), "90m");
    assert_eq!(duration_text(TimeDelta::seconds(61)), "61s");
    assert_eq!(duration_text(TimeDelta::milliseconds(1500)), "2s");
    assert_eq!(duration_text(TimeDelta::zero()), "1s");
}

#[test]
fn missing_windows_are_the_due_unit_windows_no_finished_window_covers() {
    let finished = [hour(0), hour(1), hour(3)];
    // 02:00 is a hole, 04:00..06:00 after the last window; 05:00 ends
    // after `due`.
    let range = Window::new(at(0), at(6)).unwrap();
    let due = at(5) + TimeDelta::minutes(30);
    assert_eq!(
        gaps(&finished, range, Step::HOUR, due),
        vec![hour(2), hour(4)]
    );
    // An unaligned range is cut as archive plans it; a window not yet due
    // is not cut short.
    let range = Window::new(at(0) + TimeDelta::minutes(30), at(2)).unwrap();
    assert_eq!(
        gaps(&[], range, Step::HOUR, at(1) + TimeDelta::minutes(50)),
        vec![Window::new(range.start(), at(1)).unwrap()]
    );
    // Windows of another length than the step.
    let day = Window::new(at(0), at(24)).unwrap();
    assert_eq!(gaps(&[day], day, Step::HOUR, at(48)), vec![]);
    let range = Window::new(at(0), at(48)).unwrap();
    assert_eq!(
        gaps(&[day], range, Step::DAY, at(48)),
        vec![Window::new(at(24), at(48)).unwrap()]
    );
}

fn entry(h: i64, records: u64, hash: &ContentHash) -> Box<UnitEntry> {
    Box::new(UnitEntry {
        ledger_version: LEDGER_VERSION,
        cdr_type: CdrType::Sms,
        window_start: at(h),
        window_end: at(h + 1),
        records,
        pages: 1,
        skipped: 0,
        skipped_members: Default::default(),
        quarantined: 0,
        quarantine: None,
        min_datetime: None,
        max_datetime: None,
        format: "csv".into(),
        schema_version: 1,
        files: vec![],
        finished_at: at(h + 2),
        generation: 0,
        content_hash: Some(hash.hex()),
        content_hash_version: hash.version(),
    })
}

fn export(records: &[Cdr]) -> ExportContent {
    let mut e = ExportContent::new(HashVersion::V2);
    e.hash.add_all(records);
    e
}

fn sms(charge: &str) -> Cdr {
    Cdr::Message(cdr_core::MessageCdr {
        datetime: at(0),
        from_number: None,
        to_number: None,
        direction: None,
        status: None,
        charge: Some(cdr_core::parse_decimal(charge).unwrap()),
        r#type: None,
    })
}

#[test]
fn each_outcome_is_judged_counted_and_given_its_repair() {
    let p = plan(|_| {});
    let types = planned(&[(CdrType::Sms, "csv")]);
    let archived = export(&[sms("1"), sms("2")]);
    let outcomes = vec![
        Outcome::Compared {
            t: CdrType::Sms,
            window: hour(0),
            entry: entry(0, 2, &archived.hash),
            export: archived.clone(),
        },
        Outcome::Compared {
            t: CdrType::Sms,
            window: hour(1),
            entry: entry(1, 2, &archived.hash),
            export: export(&[sms("1"), sms("2"), sms("3")]),
        },
        Outcome::Compared {
            t: CdrType::Sms,
            window: hour(2),
            entry: entry(2, 2, &archived.hash),
            export: export(&[sms("1"), sms("2.5")]),
        },
        Outcome::Missing {
            t: CdrType::Sms,
            window: hour(3),
            export: export(&[sms("1")]),
        },
        Outcome::Missing {
            t: CdrType::Sms,
            window: hour(4),
            export: export(&[]),
        },
        Outcome::Compared {
            t: CdrType::Sms,
            window: hour(5),
            entry: entry(5, 2, &archived.hash),
            export: export(&[sms("1")]),
        },
    ];
    let late = BTreeMap::from([(
        (CdrType::Sms, hour(4)),
        InProgress {
            cdr_type: "SMS".into(),
            window_start: at(4),
            window_end: at(5),
            owner: None,
            expires: None,
            message: "finished by another run while reconcile ran".into(),
        },
    )]);
    let dest = cdr_sink_api::memory::MemoryDir::new("mem");
    let report = finish(&dest, &p, &types, outcomes, late);
    let kinds: Vec<(DifferenceKind, DateTime<Utc>, Option<u64>, u64)> = report
        .differences
        .iter()
        .map(|d| (d.kind, d.window_start, d.ledger_records, d.export_records))
        .collect();
    assert_eq!(
        kinds,
        [
            (DifferenceKind::Count, at(1), Some(2), 3),
            (DifferenceKind::Content, at(2), Some(2), 2),
            (DifferenceKind::Missing, at(3), None, 1),
            (DifferenceKind::Count, at(5), Some(2), 1),
        ]
    );
    let totals = &report.types["SMS"];
    assert_eq!(
        (
            totals.windows_checked,
            totals.equal,
            totals.differ,
            totals.missing,
            totals.in_progress,
            totals.unchecked
        ),
        (4, 1, 3, 1, 1, 0)
    );
    assert_eq!(
        (totals.records_ledger, totals.records_export),
        (8, 2 + 3 + 2 + 1 + 1)
    );
    assert_eq!(report.status, "differences");
    assert!(!report.is_ok());
    assert_eq!(report.repair.len(), 3, "{:?}", report.repair);
    assert!(report.repair[0].ends_with(
        "--end 2026-11-01T04:00:00Z --out 's3://bucket/my cdrs/' --window 1h --format csv"
    ));
    assert!(report.repair[1].contains("--start 2026-11-01T01:00:00Z --end 2026-11-01T03:00:00Z"));
    assert!(report.repair[1].ends_with("--rescan 2h"));
    for d in &report.differences {
        assert!(report.repair.contains(&d.repair), "{d:?}");
    }
    assert!(report.differences[3].message.contains("--allow-shrink"));
    assert!(report.differences[1].message.contains("re-rated"));
    let text = report.to_string();
    for want in [
        "4 DIFFERENCES:",
        "  count differs: SMS [2026-11-01T01:00:00Z, 2026-11-01T02:00:00Z): 2 records archived, 3 in the export",
        "  content differs: SMS [2026-11-01T02:00:00Z, 2026-11-01T03:00:00Z): the same 2 records",
        "  missing: SMS [2026-11-01T03:00:00Z, 2026-11-01T04:00:00Z): not archived; 1 records in the export",
        "In progress (another run works on them; not compared):",
        "To repair, run:\n  cdr-sink archive --type SMS",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["differences"][0]["kind"], "count");
    assert_eq!(json["differences"][2]["kind"], "missing");
    assert_eq!(
        json["differences"][2]["ledger_records"],
        serde_json::Value::Null
    );
    assert_eq!(json["types"]["SMS"]["in_progress"], 1);
}

#[test]
fn equal_windows_are_ok_and_unstorable_rows_the_archive_lacks_are_not_compared() {
    let p = plan(|_| {});
    let types = planned(&[(CdrType::Sms, "csv")]);
    let archived = export(&[sms("1")]);
    let mut odd = archived.clone();
    odd.unstorable = 1;
    odd.first_unstorable = Some("row 2: `charge`: invalid decimal `N/A`".into());
    let dest = cdr_sink_api::memory::MemoryDir::new("mem");
    let ok = finish(
        &dest,
        &p,
        &types,
        vec![Outcome::Compared {
            t: CdrType::Sms,
            window: hour(0),
            entry: entry(0, 1, &archived.hash),
            export: archived.clone(),
        }],
        BTreeMap::new(),
    );
    assert!(ok.is_ok(), "{ok}");
    assert_eq!(ok.status, "ok");
    assert!(ok.to_string().contains("OK: every window compared"));
    let report = finish(
        &dest,
        &p,
        &types,
        vec![Outcome::Compared {
            t: CdrType::Sms,
            window: hour(0),
            entry: entry(0, 1, &archived.hash),
            export: odd,
        }],
        BTreeMap::new(),
    );
    assert_eq!(report.status, "unchecked");
    assert!(!report.is_ok());
    assert!(report.differences.is_empty());
    assert!(
        report.unchecked[0]
            .message
            .contains("invalid decimal `N/A`"),
        "{:?}",
        report.unchecked
    );
}
