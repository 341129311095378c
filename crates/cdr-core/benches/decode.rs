//! Decoding throughput of `decode_page`, in records per second, on pages of
//! 1000 records as the simulator writes them (`cdr-sim`'s fast path): compact
//! JSON, `__typename` first, RFC 3339 datetimes with microseconds, phone
//! numbers, UUIDs, about one null in 32 per field, one status in 16 with
//! quotes, line breaks or non-ASCII text, money as a JSON number for half of
//! the records and a string for the others.
//!
//! `page` decodes each page into new memory; `reusing` decodes each into the
//! records of the page before, as the archiver does. `walk` is a reference,
//! not ours: serde_json reading each page into `IgnoredAny`, which checks the
//! JSON and keeps nothing, the cost of merely walking the bytes with a mature
//! scalar parser.
//!
//! When `CDR_BENCH_PAGES` names a directory, the pages are read from its
//! `sms-*.json` and `voice-*.json` files instead (`cargo xtask bench` saves
//! pages fetched from the simulator there), so the stage is measured on
//! exactly the bytes the end-to-end run decodes.

use std::hint::black_box;
use std::path::Path;

use cdr_core::{RecordKind, decode_page, decode_page_reusing, format_datetime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const PAGES: u64 = 16;
const LIMIT: u64 = 1000;

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const ODD: [&str; 6] = [
    r#""délivré à l'opérateur""#,
    r#""配達済み""#,
    r#""failed, \"carrier\" said:\nno route""#,
    r#""rejected,\r\nretry later""#,
    r#""Zurückgewiesen; Grund: \"ungültig\"""#,
    r#""emoji 📞, \"quoted\"""#,
];

/// One of `common` as a JSON string, or (one time in 16) an odd text.
fn text(out: &mut String, w: u64, common: &[&str]) {
    if w & 15 == 0 {
        out.push_str(ODD[(w >> 4) as usize % ODD.len()]);
    } else {
        out.push('"');
        out.push_str(common[(w >> 4) as usize % common.len()]);
        out.push('"');
    }
}

fn phone(out: &mut String, w: u64) {
    out.push_str(&format!("\"+1{}\"", 2_000_000_000 + w % 8_000_000_000));
}

/// Money with `min_scale` to 5 decimals, as a number or a string.
fn money(out: &mut String, w: u64, max: u64, min_scale: u32, as_string: bool) {
    let scale = min_scale + (w % u64::from(6 - min_scale)) as u32;
    let value = (w / 6) % (max + 1) / 10u64.pow(5 - scale);
    let digits = format!("{value:0>width$}", width = scale as usize + 1);
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let text = if scale == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    if as_string {
        out.push_str(&format!("\"{text}\""));
    } else {
        out.push_str(&text);
    }
}

/// `"key":value` or `"key":null` (one time in 32).
fn field(out: &mut String, key: &str, w: u64, value: impl FnOnce(&mut String)) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    if w.is_multiple_of(32) {
        out.push_str("null");
    } else {
        value(out);
    }
}

fn page(kind: RecordKind, number: u64) -> Vec<u8> {
    let start = cdr_core::parse_datetime("2026-01-01T00:30:00Z").expect("datetime");
    let mut out = String::with_capacity(320 * LIMIT as usize);
    out.push_str(r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":"ARiGc_U7-ONYAAAAAAAeiGfpklSjppFjg68-fOxweHD0iUBhEdaGsMTHpVcFK0rxYw","limit":1000},"cdrs":["#);
    for i in 0..LIMIT {
        let n = number * LIMIT + i;
        let [w0, w1, w2, w3] = [mix(n), mix(n ^ 1), mix(n ^ 2), mix(n ^ 3)];
        // Bursts: one block of 64 in 5 shares a datetime.
        let at = if (n / 64).is_multiple_of(5) {
            n / 64 * 64
        } else {
            n
        };
        let t = start + chrono::Duration::microseconds((at * 900 + 747) as i64);
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"__typename\":\"");
        out.push_str(kind.typename());
        out.push_str("\",\"datetime\":\"");
        out.push_str(&format_datetime(&t));
        out.push('"');
        let as_string = w0 & 1 == 1;
        match kind {
            RecordKind::Message | RecordKind::Api => {
                field(&mut out, "fromNumber", w1 >> 3, |o| phone(o, w1));
                field(&mut out, "toNumber", w2 >> 3, |o| phone(o, w2));
                field(&mut out, "direction", w3 >> 3, |o| {
                    text(o, w3 | 1, &["inbound", "outbound"])
                });
                field(&mut out, "status", w1 >> 13, |o| {
                    text(
                        o,
                        w1 >> 40,
                        &["delivered", "sent", "failed", "queued", "undelivered"],
                    )
                });
                field(&mut out, "charge", w2 >> 13, |o| {
                    money(o, w3 >> 8, 200_000, 0, as_string)
                });
                field(&mut out, "type", w3 >> 13, |o| o.push_str("\"SMS\""));
            }
            RecordKind::Voice => {
                field(&mut out, "callId", w3 >> 3, |o| {
                    let u = mix(w3);
                    let v = mix(w2 ^ w1);
                    o.push_str(&format!(
                        "\"{:08x}-{:04x}-{:04x}-{:04x}-{:012x}\"",
                        u >> 32,
                        (u >> 16) & 0xffff,
                        u & 0xffff,
                        v >> 48,
                        v & 0xffff_ffff_ffff
                    ));
                });
                field(&mut out, "sourceAni", w1 >> 3, |o| phone(o, w1));
                field(&mut out, "destinationNumber", w2 >> 3, |o| phone(o, w2));
                field(&mut out, "didUsed", (w1 >> 8) & 3, |o| {
                    phone(o, mix(w1 ^ 0xd1d))
                });
                field(&mut out, "sessionTime", w2 >> 13, |o| {
                    o.push_str(&((w3 >> 40) % 3601).to_string())
                });
                field(&mut out, "status", w1 >> 13, |o| {
                    text(o, w1 >> 40, &["ANSWERED", "NO ANSWER", "BUSY", "FAILED"])
                });
                field(&mut out, "calledRate", w3 >> 13, |o| {
                    money(o, mix(w3) >> 8, 2_000, 3, as_string)
                });
                field(&mut out, "charge", w2 >> 23, |o| {
                    money(o, w3 >> 8, 2_000_000, 0, as_string)
                });
                field(&mut out, "callType", w1 >> 23, |o| {
                    text(
                        o,
                        w2 >> 40,
                        &["inbound", "outbound", "toll_free", "internal"],
                    )
                });
                field(&mut out, "aniIi", w2 % 3, |o| {
                    text(o, (w2 >> 50) | 1, &["00", "01", "07", "27", "61", "62"])
                });
            }
        }
        out.push('}');
    }
    out.push_str("]}}}");
    out.into_bytes()
}

/// Pages saved from the simulator, when `CDR_BENCH_PAGES` names a directory
/// holding `<prefix>-*.json` files.
fn saved_pages(prefix: &str) -> Option<Vec<Vec<u8>>> {
    let dir = std::env::var_os("CDR_BENCH_PAGES")?;
    let mut files: Vec<_> = std::fs::read_dir(Path::new(&dir))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{prefix}-")) && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    let pages: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    (!pages.is_empty()).then_some(pages)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);
    for (kind, prefix) in [(RecordKind::Message, "sms"), (RecordKind::Voice, "voice")] {
        let pages =
            saved_pages(prefix).unwrap_or_else(|| (0..PAGES).map(|n| page(kind, n)).collect());
        let records: usize = pages
            .iter()
            .map(|p| {
                decode_page(p, kind)
                    .expect("the bench pages decode")
                    .records
                    .len()
            })
            .sum();
        let bytes: usize = pages.iter().map(Vec::len).sum();
        println!(
            "decode/{}: {} pages, {records} records, {} bytes per record",
            kind.typename(),
            pages.len(),
            bytes / records.max(1)
        );
        group.throughput(Throughput::Elements(records as u64));
        group.bench_function(BenchmarkId::new("page", kind.typename()), |b| {
            b.iter(|| {
                for p in &pages {
                    black_box(decode_page(black_box(p), kind).ok());
                }
            })
        });
        // As a page stream runs: each page reuses the memory of the one before.
        let mut spare = Vec::new();
        group.bench_function(BenchmarkId::new("reusing", kind.typename()), |b| {
            b.iter(|| {
                for p in &pages {
                    let page = decode_page_reusing(black_box(p), kind, std::mem::take(&mut spare));
                    spare = black_box(page.map(|p| p.records).unwrap_or_default());
                }
            })
        });
        group.bench_function(BenchmarkId::new("walk", kind.typename()), |b| {
            b.iter(|| {
                for p in &pages {
                    black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(p)).ok());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
