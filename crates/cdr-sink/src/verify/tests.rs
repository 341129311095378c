//! Data file names and repair commands.

use std::collections::{BTreeMap, BTreeSet};

use cdr_core::{CdrType, Step, Window};

use super::orphans::data_file_type;
use super::report::{repair_commands, shell_quote, typical_step};
use super::*;
use cdr_core::parse_datetime;

fn w(a: &str, b: &str) -> Window {
    Window::new(parse_datetime(a).unwrap(), parse_datetime(b).unwrap()).unwrap()
}

#[test]
fn data_files_are_recognised() {
    assert_eq!(
        data_file_type("cdr_type=sms/date=2026-11-01/part-x.csv"),
        Some("sms")
    );
    assert_eq!(
        data_file_type("cdr_type=sms/date=2026-11-01/.part-x.csv"),
        None
    );
    assert_eq!(data_file_type("_cdr_sink/ledger/cdr_type=sms/x.json"), None);
    assert_eq!(data_file_type("cdr_type=sms/notes.txt"), None);
    assert_eq!(data_file_type("other/date=2026-11-01/x"), None);
}

#[test]
fn repair_commands_merge_neighbours() {
    let mut found = Findings {
        problems: vec![],
        fixes: BTreeSet::new(),
        notes: vec![],
        delta: BTreeSet::new(),
    };
    let hours = [
        w("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"),
        w("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
        w("2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z"),
    ];
    for h in hours {
        found.fixes.insert((CdrType::Sms, Fix::Redo, h));
    }
    found.fixes.insert((
        CdrType::Sms,
        Fix::Archive,
        w("2026-11-01T02:00:00Z", "2026-11-01T04:00:00Z"),
    ));
    let windows = BTreeMap::from([(CdrType::Sms, hours.to_vec())]);
    let lines = repair_commands(&found, &BTreeMap::new(), &windows, "/data/my archive");
    assert_eq!(
        lines,
        [
            "cdr-sink archive --type SMS --start 2026-11-01T02:00:00Z --end 2026-11-01T04:00:00Z --out '/data/my archive' --window 1h --format parquet",
            "cdr-sink archive --type SMS --start 2026-11-01T00:00:00Z --end 2026-11-01T02:00:00Z --out '/data/my archive' --window 1h --format parquet --redo",
            "cdr-sink archive --type SMS --start 2026-11-01T04:00:00Z --end 2026-11-01T05:00:00Z --out '/data/my archive' --window 1h --format parquet --redo",
        ]
    );
    assert_eq!(shell_quote("s3://b/p/"), "s3://b/p/");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

#[test]
fn the_typical_step_is_the_most_common_valid_length() {
    let ws = [
        w("2026-11-01T00:30:00Z", "2026-11-01T01:00:00Z"),
        w("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
        w("2026-11-01T02:00:00Z", "2026-11-01T03:00:00Z"),
    ];
    assert_eq!(typical_step(&ws), Step::HOUR);
    assert_eq!(typical_step(&[]), Step::HOUR);
    assert_eq!(
        typical_step(&[w("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")]),
        Step::DAY
    );
}
