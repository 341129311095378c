//! Plans from flags: good ones, bad ones, clocks.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use cdr_core::{CdrType, Window, parse_datetime};

use super::*;

fn raw() -> RawArchive {
    RawArchive {
        types: "SMS,voice".into(),
        start: "2026-11-01T00:00:00Z".into(),
        end: "2026-11-01T03:00:00Z".into(),
        out: "./archive".into(),
        format: "parquet".into(),
        limit: 1000,
        concurrency: "4".into(),
        window: "1h".into(),
        company_id: None,
        ..RawArchive::default()
    }
}

fn incremental(start: &str) -> RawArchive {
    RawArchive {
        start: start.into(),
        end: String::new(),
        incremental: true,
        ..raw()
    }
}

fn t(s: &str) -> DateTime<Utc> {
    parse_datetime(s).unwrap()
}

fn w(a: &str, b: &str) -> Window {
    Window::new(t(a), t(b)).unwrap()
}

fn windows(p: &ArchivePlan, ty: CdrType) -> Vec<String> {
    p.units
        .iter()
        .filter(|u| u.cdr_type == ty)
        .map(|u| u.window.to_string())
        .collect()
}

fn now() -> DateTime<Utc> {
    parse_datetime("2026-11-27T00:00:00Z").unwrap()
}

#[test]
fn a_good_plan() {
    let p = ArchivePlan::new(&raw(), now()).unwrap();
    assert_eq!(p.units.len(), 6);
    assert_eq!(p.units[0].cdr_type, CdrType::Sms);
    assert_eq!(p.units[1].cdr_type, CdrType::Voice);
    assert_eq!(p.units[0].window, p.units[1].window);
    assert_eq!(p.clamped_from, None);
    assert_eq!(p.output, Output::Local("./archive".into()));
}

#[test]
fn an_end_that_has_not_settled_is_cut_at_a_window_boundary() {
    let mut r = raw();
    r.end = "2026-12-01T00:00:00Z".into();
    r.start = "2026-11-26T21:30:00Z".into();
    // now - 15m = 23:45: the last settled window ends at 23:00.
    let p = ArchivePlan::new(&r, now()).unwrap();
    assert_eq!(p.end, t("2026-11-26T23:00:00Z"));
    assert_eq!(p.clamped_from, Some(t("2026-12-01T00:00:00Z")));
    assert_eq!(p.units.len(), 4); // 21:30-22:00, 22:00-23:00, for two types
    // A past end inside the settle time is cut too.
    r.end = "2026-11-26T23:50:00Z".into();
    let p = ArchivePlan::new(&r, now()).unwrap();
    assert_eq!(p.end, t("2026-11-26T23:00:00Z"));
    // With --settle 0s, the cut is at now's window boundary.
    r.settle = "0s".into();
    let p = ArchivePlan::new(&r, now()).unwrap();
    assert_eq!(p.end, t("2026-11-26T23:50:00Z"));
    assert_eq!(p.clamped_from, None);
}

#[test]
fn a_range_that_has_not_settled_at_all_plans_nothing() {
    let mut r = raw();
    r.start = "2026-11-26T23:10:00Z".into();
    r.end = "2026-11-27T01:00:00Z".into();
    let p = ArchivePlan::new(&r, now()).unwrap();
    assert!(p.units.is_empty());
    assert_eq!(p.end, p.start);
    r.start = "2026-11-27T00:10:00Z".into();
    let e = ArchivePlan::new(&r, now()).unwrap_err().to_string();
    assert!(e.contains("in the future"), "{e}");
}

#[test]
fn the_same_command_later_continues_for_any_window() {
    // Runs of one command at many instants, across window boundaries:
    // their windows never overlap, and together they cover the range.
    for window in ["15m", "1h", "6h", "1d"] {
        let mut r = raw();
        r.start = "2026-11-20T00:00:00Z".into();
        r.end = "2026-12-30T00:00:00Z".into();
        r.window = window.into();
        let mut done: BTreeSet<Window> = BTreeSet::new();
        let mut at = t("2026-11-22T00:07:00Z");
        while at < t("2026-11-25T00:00:00Z") {
            let p = ArchivePlan::new(&r, at).unwrap();
            for u in p.units.iter().filter(|u| u.cdr_type == CdrType::Sms) {
                assert!(u.window.end() <= at - TimeDelta::minutes(15));
                if !done.contains(&u.window) {
                    assert!(
                        done.iter()
                            .all(|d| d.end() <= u.window.start() || u.window.end() <= d.start()),
                        "{window}: {} overlaps an earlier run's window",
                        u.window
                    );
                    done.insert(u.window);
                }
            }
            at += TimeDelta::minutes(37);
        }
        let mut cur = t("2026-11-20T00:00:00Z");
        for w in &done {
            assert_eq!(w.start(), cur, "{window}: a hole before {w}");
            cur = w.end();
        }
        assert!(cur >= t("2026-11-24T23:00:00Z") - TimeDelta::days(1));
    }
}

#[test]
fn each_bad_input_says_what_to_change() {
    let check = |f: &dyn Fn(&mut RawArchive), needle: &str| {
        let mut r = raw();
        f(&mut r);
        let e = ArchivePlan::new(&r, now()).unwrap_err().to_string();
        assert!(e.contains(needle), "{e} does not contain {needle}");
        assert!(!e.contains('\n'), "not one line: {e}");
    };
    check(
        &|r| {
            r.start = "1970-01-01T00:00:00Z".into();
            r.window = "1s".into();
        },
        "give a larger --window",
    );
    check(
        &|r| r.types = "SMS,FAX".into(),
        "valid types are SMS, MMS, VOICE, API",
    );
    check(
        &|r| r.start = "yesterday".into(),
        "--start `yesterday` is not an RFC 3339",
    );
    check(&|r| r.end = "2026-11-01".into(), "--end `2026-11-01`");
    check(
        &|r| r.end = "2026-10-01T00:00:00Z".into(),
        "is not later than --start",
    );
    check(&|r| r.limit = 0, "use a page size from 1 to 1000");
    check(&|r| r.limit = 1001, "use a page size from 1 to 1000");
    check(&|r| r.concurrency = "0".into(), "--concurrency 0");
    check(
        &|r| r.concurrency = "lots".into(),
        "--concurrency `lots` is neither `auto` nor a number",
    );
    check(
        &|r| {
            r.concurrency = "auto".into();
            r.max_concurrency = 0;
        },
        "--max-concurrency 0 is out of range",
    );
    check(&|r| r.max_rps = Some(0.0), "--max-rps 0 is not a positive");
    check(&|r| r.window = "7h".into(), "--window");
    check(&|r| r.out = "s3:///x".into(), "names no bucket");
    check(
        &|r| r.out = "gs://b/x".into(),
        "only local directories and s3://",
    );
    check(&|r| r.format = "orc".into(), "use parquet or csv");
    check(
        &|r| r.company_id = Some(" ".into()),
        "--company-id is empty",
    );
    check(
        &|r| {
            r.start = "2027-01-01T00:00:00Z".into();
            r.end = "2027-01-02T00:00:00Z".into();
        },
        "future",
    );
}

#[test]
fn incremental_ends_at_now_minus_settle_aligned_down() {
    let now = t("2026-11-27T10:20:00Z");
    let p = ArchivePlan::new(&incremental(""), now).unwrap();
    // 10:20 - 15m = 10:05, aligned down to the hour.
    assert_eq!(p.end, t("2026-11-27T10:00:00Z"));
    assert!(p.units.is_empty(), "units come from the ledger");
    let mut r = incremental("");
    r.settle = "25m".into();
    assert_eq!(
        ArchivePlan::new(&r, now).unwrap().end,
        t("2026-11-27T09:00:00Z")
    );
    r.settle = "0s".into();
    r.window = "15m".into();
    assert_eq!(
        ArchivePlan::new(&r, now).unwrap().end,
        t("2026-11-27T10:15:00Z")
    );
    // --end is an upper bound.
    r.end = "2026-11-27T08:30:00Z".into();
    assert_eq!(
        ArchivePlan::new(&r, now).unwrap().end,
        t("2026-11-27T08:30:00Z")
    );
}

#[test]
fn incremental_continues_per_type_from_the_first_hole() {
    let now = t("2026-11-02T03:20:00Z");
    let p = ArchivePlan::new(&incremental("2026-11-01T22:00:00Z"), now).unwrap();
    let finished = BTreeMap::from([
        (
            CdrType::Sms,
            BTreeSet::from([
                w("2026-11-01T22:00:00Z", "2026-11-01T23:00:00Z"),
                w("2026-11-01T23:00:00Z", "2026-11-02T00:00:00Z"),
                // A hole at 00:00-01:00 (a unit that failed).
                w("2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z"),
            ]),
        ),
        (CdrType::Voice, BTreeSet::new()),
    ]);
    let r = p.resolve(&finished).unwrap();
    assert_eq!(r.end, t("2026-11-02T03:00:00Z"));
    assert_eq!(
        windows(&r, CdrType::Sms),
        [
            "[2026-11-02T00:00:00Z, 2026-11-02T01:00:00Z)",
            "[2026-11-02T01:00:00Z, 2026-11-02T02:00:00Z)",
            "[2026-11-02T02:00:00Z, 2026-11-02T03:00:00Z)",
        ]
    );
    // VOICE has no finished window: from --start.
    assert_eq!(windows(&r, CdrType::Voice).len(), 5);
    assert_eq!(r.start, t("2026-11-01T22:00:00Z"));
    // Ordered by window, then type.
    assert!(
        r.units
            .windows(2)
            .all(|p| (p[0].window.start(), p[0].cdr_type) <= (p[1].window.start(), p[1].cdr_type))
    );

    // Without --start, each type continues from its own ledger.
    let p = ArchivePlan::new(&incremental(""), now).unwrap();
    let sms_only = BTreeMap::from([(CdrType::Sms, finished[&CdrType::Sms].clone())]);
    let mut only_sms = p.clone();
    only_sms.types = vec![CdrType::Sms];
    let r = only_sms.resolve(&sms_only).unwrap();
    assert_eq!(windows(&r, CdrType::Sms).len(), 3);
    let err = p.resolve(&sms_only).unwrap_err().to_string();
    assert!(
        err.contains("--start is required on the first --incremental run") && err.contains("VOICE"),
        "{err}"
    );
}

#[test]
fn incremental_with_nothing_new_plans_nothing() {
    let now = t("2026-11-02T01:10:00Z");
    let p = ArchivePlan::new(&incremental("2026-11-02T00:00:00Z"), now).unwrap();
    // 01:10 - 15m = 00:55 -> 00:00: the first hour has not settled yet.
    assert_eq!(p.end, t("2026-11-02T00:00:00Z"));
    let r = p.resolve(&BTreeMap::new()).unwrap();
    assert!(r.units.is_empty());
    let p = ArchivePlan::new(&incremental("2026-11-01T22:00:00Z"), now).unwrap();
    let all = BTreeMap::from([(
        CdrType::Sms,
        BTreeSet::from([w("2026-11-01T22:00:00Z", "2026-11-02T00:00:00Z")]),
    )]);
    let r = p.resolve(&all).unwrap();
    assert!(windows(&r, CdrType::Sms).is_empty());
    assert_eq!(windows(&r, CdrType::Voice).len(), 2);
}

#[test]
fn rescan_ranges() {
    let now = t("2026-11-02T03:20:00Z");
    let mut r = incremental("2026-11-01T00:00:00Z");
    r.rescan = Some("6h".into());
    let p = ArchivePlan::new(&r, now).unwrap();
    assert_eq!(
        p.rescan_range(),
        Some(w("2026-11-01T21:00:00Z", "2026-11-02T03:00:00Z"))
    );
    // A fixed range: only within it.
    let mut r = raw();
    r.rescan = Some("1d".into());
    let p = ArchivePlan::new(&r, now).unwrap();
    assert_eq!(
        p.rescan_range(),
        Some(w("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"))
    );
    let mut r = raw();
    r.redo = true;
    assert_eq!(
        ArchivePlan::new(&r, now).unwrap().rescan_range(),
        Some(w("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"))
    );
    assert_eq!(ArchivePlan::new(&raw(), now).unwrap().rescan_range(), None);
}

#[test]
fn bad_incremental_input_says_what_to_change() {
    let now = t("2026-11-27T00:00:00Z");
    let check = |r: RawArchive, needle: &str| {
        let e = ArchivePlan::new(&r, now).unwrap_err().to_string();
        assert!(e.contains(needle), "{e} does not contain {needle}");
        assert!(!e.contains('\n'), "not one line: {e}");
    };
    check(
        RawArchive {
            start: String::new(),
            ..raw()
        },
        "--start is required: give the range with --start and --end, or use --incremental",
    );
    check(
        RawArchive {
            end: String::new(),
            ..raw()
        },
        "--end is required",
    );
    check(
        RawArchive {
            settle: "soon".into(),
            ..incremental("")
        },
        "--settle `soon` is not a duration",
    );
    check(
        RawArchive {
            rescan: Some("0h".into()),
            ..incremental("")
        },
        "--rescan `0h` is not a duration",
    );
    check(
        RawArchive {
            rescan: Some("-1h".into()),
            ..incremental("")
        },
        "--rescan `-1h`",
    );
    check(
        RawArchive {
            redo: true,
            ..incremental("")
        },
        "--redo needs a fixed range",
    );
    check(
        RawArchive {
            redo: true,
            rescan: Some("1h".into()),
            ..raw()
        },
        "give one of them",
    );
    check(incremental("2026-12-01T00:00:00Z"), "is in the future");
    check(
        RawArchive {
            end: "2026-10-01T00:00:00Z".into(),
            ..incremental("2026-11-01T00:00:00Z")
        },
        "is not later than --start",
    );
}

#[test]
fn concurrency_starts_at_the_fixed_number_or_at_autos_start() {
    let parse = |c: &str, max| Concurrency::parse(c, max).expect("a concurrency");
    assert_eq!(parse("64", 32).start(), 64);
    assert_eq!(parse("auto", 32).start(), AUTO_START);
    assert_eq!(parse("auto", 32).most(), 32);
    assert_eq!(parse("auto", 2).start(), 2);
}

#[test]
fn concurrency_is_auto_by_default_and_a_number_fixes_it() {
    let now = parse_datetime("2026-11-02T00:00:00Z").expect("time");
    let plan = |r: RawArchive| ArchivePlan::new(&r, now).expect("a good plan");
    let auto = plan(RawArchive {
        concurrency: RawArchive::default().concurrency,
        ..raw()
    });
    assert_eq!(auto.concurrency, Concurrency::Auto { max: 32 });
    let t = auto.throttle();
    assert!(t.is_adaptive());
    assert_eq!(t.limit(), AUTO_START);
    let small = plan(RawArchive {
        concurrency: "AUTO".into(),
        max_concurrency: 2,
        max_rps: Some(7.5),
        ..raw()
    });
    assert_eq!(small.concurrency, Concurrency::Auto { max: 2 });
    assert_eq!(
        small.throttle().limit(),
        2,
        "auto starts no higher than its max"
    );
    assert_eq!(small.throttle().report().max_rps, Some(7.5));
    let fixed = plan(RawArchive {
        concurrency: " 6 ".into(),
        ..raw()
    });
    assert_eq!(fixed.concurrency, Concurrency::Fixed(6));
    assert!(!fixed.throttle().is_adaptive());
    assert_eq!(fixed.throttle().limit(), 6);
    assert_eq!(fixed.concurrency.to_string(), "6");
    assert_eq!(auto.concurrency.to_string(), "auto (at most 32)");
}
