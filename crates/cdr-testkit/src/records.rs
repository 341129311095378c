//! Records for tests and benchmarks: deterministic samples, hand-picked edge
//! cases, and proptest strategies, for every record kind.

use cdr_core::chrono::{DateTime, Duration, TimeZone, Utc};
use cdr_core::rust_decimal::Decimal;
use cdr_core::{
    ApiCdr, Cdr, MessageCdr, RecordKind, Text, VoiceCdr, parse_datetime, parse_decimal,
};
use proptest::prelude::*;

pub fn t(text: &str) -> DateTime<Utc> {
    parse_datetime(text).expect("test datetime")
}

pub fn dec(text: &str) -> Decimal {
    parse_decimal(text).expect("test decimal")
}

fn some(s: &str) -> Option<Text> {
    Some(s.into())
}

/// Awkward text: separators, quotes, line breaks, non-ASCII, padding.
pub const AWKWARD: [&str; 9] = [
    "Zürich → 東京 🙂",
    "a,b,c",
    "say \"hi\"",
    "line1\nline2",
    "crlf\r\nend",
    " padded ",
    "\"",
    "naïve,\"quoted\"\nmulti-line, ünïcödé",
    "+15551230000",
];

/// Money with up to 5 decimals, as the provider sends it.
pub const MONEY: [&str; 9] = [
    "0.1",
    "0.00350",
    "1234567890.12345",
    "-0.00001",
    "-1234567890.12345",
    "0",
    "0.00000",
    "99999999.99999",
    "12.5",
];

/// A deterministic record of `kind`: varied values, about one null in five,
/// timestamps that repeat (ten records per instant) with microseconds.
pub fn sample(kind: RecordKind, i: usize) -> Cdr {
    let base = t("2026-11-01T00:00:00Z");
    let datetime = base + Duration::microseconds((i / 10) as i64 * 1_234_567);
    let text = |salt: usize, prefix: &str| -> Option<Text> {
        match (i + salt) % 13 {
            0 => None,
            1 => Some(AWKWARD[(i / 13) % AWKWARD.len()].into()),
            _ => Some(format!("{prefix}{}", (i * 7919 + salt) % 1_000_003).into()),
        }
    };
    let money = |salt: usize| -> Option<Decimal> {
        match (i + salt) % 11 {
            0 => None,
            n => Some(dec(MONEY[n % MONEY.len()]) + Decimal::new((i % 1000) as i64, 5)),
        }
    };
    match kind {
        RecordKind::Api => Cdr::Api(ApiCdr {
            datetime,
            from: text(1, "+1555"),
            destination: text(2, "+4420"),
            status: [some("ok"), some("failed"), None][i % 3].clone(),
            charge: money(3),
            r#type: some("API"),
        }),
        RecordKind::Message => Cdr::Message(MessageCdr {
            datetime,
            from_number: text(1, "1555"),
            to_number: text(2, "1444"),
            direction: [some("outbound"), some("inbound")][i % 2].clone(),
            status: [some("delivered"), some("sent"), some("failed"), None][i % 4].clone(),
            charge: money(3),
            r#type: [some("SMS"), some("MMS")][i % 2].clone(),
        }),
        RecordKind::Voice => Cdr::Voice(VoiceCdr {
            datetime,
            call_id: Some(format!("call-{i:08}-{:x}", i * 2_654_435_761 % 1_000_000_007).into()),
            source_ani: text(1, "1555"),
            destination_number: text(2, "1444"),
            did_used: text(4, "1800"),
            session_time: if i.is_multiple_of(9) {
                None
            } else {
                Some((i * 37 % 3600) as i64)
            },
            status: [some("answered"), some("busy"), some("no-answer")][i % 3].clone(),
            called_rate: money(5),
            charge: money(6),
            call_type: [some("outbound"), some("inbound"), None][i % 3].clone(),
            ani_ii: if i.is_multiple_of(5) {
                some("00")
            } else {
                None
            },
        }),
    }
}

pub fn samples(kind: RecordKind, n: usize) -> Vec<Cdr> {
    (0..n).map(|i| sample(kind, i)).collect()
}

/// `n` records of `kind` for a benchmark, and where they come from: when
/// `CDR_BENCH_PAGES` names a directory of response bodies saved from the
/// simulator (`<prefix>-*.json`, prefix `sms`, `voice` or `api`, as `cargo
/// xtask bench` saves them), the records of those pages, so that a stage is
/// measured on the bytes the end-to-end runs move; otherwise [`samples`].
pub fn bench_records(kind: RecordKind, n: usize) -> (Vec<Cdr>, &'static str) {
    let prefix = match kind {
        RecordKind::Voice => "voice-",
        RecordKind::Message => "sms-",
        RecordKind::Api => "api-",
    };
    let mut files: Vec<_> = std::env::var_os("CDR_BENCH_PAGES")
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in &files {
        if out.len() >= n {
            break;
        }
        let body = std::fs::read(file).expect("a saved page can be read");
        let page = cdr_core::decode_page(&body, kind).expect("a saved page decodes");
        out.extend(page.records.into_iter().filter(|r| r.kind() == kind));
    }
    if out.is_empty() {
        return (samples(kind, n), "generated samples");
    }
    out.truncate(n);
    (out, "simulator pages")
}

/// Hand-picked records of `kind`: all nulls, every awkward text, every money
/// value, equal timestamps, the epoch and just before it.
pub fn edge_cases(kind: RecordKind) -> Vec<Cdr> {
    let mut out = Vec::new();
    let same = t("2026-11-01T12:00:00.000001Z");
    let instants = [
        t("1970-01-01T00:00:00Z"),
        t("1969-12-31T23:59:59.999999Z"),
        t("2026-11-01T00:00:00.5+02:00"),
        t("2099-12-31T23:59:59.999999Z"),
    ];
    for n in 0..AWKWARD.len().max(MONEY.len()) + instants.len() {
        let datetime = instants.get(n).copied().unwrap_or(same);
        let text: Option<Text> = Some(AWKWARD[n % AWKWARD.len()].into());
        let money = Some(dec(MONEY[n % MONEY.len()]));
        out.push(match kind {
            RecordKind::Api => Cdr::Api(ApiCdr {
                datetime,
                from: text.clone(),
                destination: text.clone(),
                status: text.clone(),
                charge: money,
                r#type: text,
            }),
            RecordKind::Message => Cdr::Message(MessageCdr {
                datetime,
                from_number: text.clone(),
                to_number: text.clone(),
                direction: text.clone(),
                status: text.clone(),
                charge: money,
                r#type: text,
            }),
            RecordKind::Voice => Cdr::Voice(VoiceCdr {
                datetime,
                call_id: text.clone(),
                source_ani: text.clone(),
                destination_number: text.clone(),
                did_used: text.clone(),
                session_time: Some([0, 1, -1, i64::MAX, i64::MIN][n % 5]),
                status: text.clone(),
                called_rate: money,
                charge: money.map(|m| if m.is_zero() { m } else { -m }),
                call_type: text.clone(),
                ani_ii: text,
            }),
        });
    }
    out.push(all_null(kind, same));
    out
}

/// A record of `kind` at `datetime` whose other fields are all null.
pub fn all_null(kind: RecordKind, datetime: DateTime<Utc>) -> Cdr {
    match kind {
        RecordKind::Api => Cdr::Api(ApiCdr {
            datetime,
            from: None,
            destination: None,
            status: None,
            charge: None,
            r#type: None,
        }),
        RecordKind::Message => Cdr::Message(MessageCdr {
            datetime,
            from_number: None,
            to_number: None,
            direction: None,
            status: None,
            charge: None,
            r#type: None,
        }),
        RecordKind::Voice => Cdr::Voice(VoiceCdr {
            datetime,
            call_id: None,
            source_ani: None,
            destination_number: None,
            did_used: None,
            session_time: None,
            status: None,
            called_rate: None,
            charge: None,
            call_type: None,
            ani_ii: None,
        }),
    }
}

/// Limits of generated values, per format.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Finest timestamp step in nanoseconds (1000 for microseconds).
    pub nanos_step: i64,
    /// Largest decimal scale.
    pub max_scale: u32,
    /// Shortest generated text (CSV cannot tell "" from null on read-back).
    pub min_text: usize,
}

fn text(limits: Limits) -> impl Strategy<Value = Option<Text>> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => prop::char::range('a', 'z'),
        1 => Just(','),
        1 => Just('"'),
        1 => Just('\n'),
        1 => Just('\r'),
        1 => Just(' '),
    ];
    prop::option::weighted(
        0.8,
        prop::collection::vec(ch, limits.min_text..24).prop_map(Text::from_iter),
    )
}

fn money(limits: Limits) -> impl Strategy<Value = Option<Decimal>> {
    prop::option::weighted(
        0.8,
        (any::<i64>(), 0..=limits.max_scale).prop_map(|(m, s)| Decimal::new(m, s)),
    )
}

fn datetime(limits: Limits) -> impl Strategy<Value = DateTime<Utc>> {
    // 1900-01-01 .. 2200-01-01
    let lo = -2_208_988_800i64 * 1_000_000_000;
    let hi = 7_258_118_400i64 * 1_000_000_000;
    let step = limits.nanos_step;
    (lo / step..hi / step).prop_map(move |n| Utc.timestamp_nanos(n * step))
}

/// Random records of `kind` within `limits`.
pub fn arb_cdr(kind: RecordKind, limits: Limits) -> BoxedStrategy<Cdr> {
    let tx = || text(limits);
    match kind {
        RecordKind::Api => (datetime(limits), tx(), tx(), tx(), money(limits), tx())
            .prop_map(|(datetime, from, destination, status, charge, r#type)| {
                Cdr::Api(ApiCdr {
                    datetime,
                    from,
                    destination,
                    status,
                    charge,
                    r#type,
                })
            })
            .boxed(),
        RecordKind::Message => (
            datetime(limits),
            tx(),
            tx(),
            tx(),
            tx(),
            money(limits),
            tx(),
        )
            .prop_map(
                |(datetime, from_number, to_number, direction, status, charge, r#type)| {
                    Cdr::Message(MessageCdr {
                        datetime,
                        from_number,
                        to_number,
                        direction,
                        status,
                        charge,
                        r#type,
                    })
                },
            )
            .boxed(),
        RecordKind::Voice => (
            (datetime(limits), tx(), tx(), tx(), tx()),
            (
                any::<Option<i64>>(),
                tx(),
                money(limits),
                money(limits),
                tx(),
                tx(),
            ),
        )
            .prop_map(
                |(
                    (datetime, call_id, source_ani, destination_number, did_used),
                    (session_time, status, called_rate, charge, call_type, ani_ii),
                )| {
                    Cdr::Voice(VoiceCdr {
                        datetime,
                        call_id,
                        source_ani,
                        destination_number,
                        did_used,
                        session_time,
                        status,
                        called_rate,
                        charge,
                        call_type,
                        ani_ii,
                    })
                },
            )
            .boxed(),
    }
}

/// Several random records of one random kind.
pub fn arb_batch(limits: Limits) -> impl Strategy<Value = (RecordKind, Vec<Cdr>)> {
    prop::sample::select(RecordKind::ALL.to_vec()).prop_flat_map(move |kind| {
        (
            Just(kind),
            prop::collection::vec(arb_cdr(kind, limits), 0..40),
        )
    })
}
