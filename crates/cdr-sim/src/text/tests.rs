//! Tests of the text writers against `cdr-core`, `serde_json` and `rust_decimal`.

use super::*;
use rust_decimal::Decimal;

fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn datetimes_match_cdr_core_formatting() {
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut cases: Vec<i64> = vec![
        0,
        -1,
        1_000_000,
        1_000,
        1,
        951_782_400_000_000_000, // 2000-02-29
        4_107_542_400_000_000_000,
    ];
    for _ in 0..20_000 {
        x = crate::data::mix(x);
        let ns = (x as i64) % 4_000_000_000_000_000_000;
        // Every precision class: whole seconds, millis, micros, nanos.
        let ns = match x % 4 {
            0 => ns - ns.rem_euclid(1_000_000_000),
            1 => ns - ns.rem_euclid(1_000_000),
            2 => ns - ns.rem_euclid(1_000),
            _ => ns,
        };
        cases.push(ns);
    }
    for ns in cases {
        let want = cdr_core::format_datetime(&DateTime::from_timestamp_nanos(ns));
        assert_eq!(text(|o| write_datetime(o, ns)), want, "{ns}");
    }
}

#[test]
fn decimals_match_rust_decimal_display() {
    for (m, s) in [
        (0i128, 0u32),
        (0, 2),
        (5, 3),
        (-5, 3),
        (350, 5),
        (12_345, 2),
        (-100, 0),
        (i128::from(i64::MAX) * 1000, 4),
        (79_228_162_514_264_337_593_543_950_335, 28),
        (i128::from(u64::MAX), 19),
        (-i128::from(u64::MAX), 20),
        (1, 19),
        (-79_228_162_514_264_337_593_543_950_335, 0),
    ] {
        let d = Decimal::from_i128_with_scale(m, s);
        assert_eq!(text(|o| write_decimal(o, m, s)), d.to_string(), "{m}e-{s}");
    }
}

#[test]
fn json_strings_escape_like_serde_json() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    for s in [
        "plain",
        "quote \" and backslash \\",
        "line\nbreak\r\ttab",
        "配達済み 📞 délivré",
        "\u{7f}\u{80}/</script>",
        &all_controls,
    ] {
        assert_eq!(
            text(|o| write_json_str(o, s)),
            serde_json::to_string(s).unwrap()
        );
    }
}

#[test]
fn known_texts_are_escaped_like_serde_json() {
    const ALL: [Known; 4] = [
        Known::new("plain"),
        Known::new("a \"b\" \\ c\n\r\t\u{8}\u{c}\u{1}\u{1f}"),
        Known::new("配達済み 📞"),
        Known::new(""),
    ];
    for k in &ALL {
        let mut out = Vec::new();
        write_json_cell(
            &mut out,
            Cell::Known(k),
            false,
            &mut DatetimeCache::default(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(k.text).unwrap()
        );
    }
}

#[test]
fn csv_cells_follow_rfc_4180() {
    let cases = [
        (Cell::Null, ""),
        (Cell::Str(""), "\"\""),
        (Cell::Str("plain"), "plain"),
        (Cell::Str("a,b"), "\"a,b\""),
        (Cell::Str("say \"hi\""), "\"say \"\"hi\"\"\""),
        (Cell::Str("two\nlines"), "\"two\nlines\""),
        (Cell::Str("cr\r"), "\"cr\r\""),
        (Cell::Str("配達済み"), "配達済み"),
        (Cell::Phone(2_125_550_123), "+12125550123"),
        (Cell::Int(-42), "-42"),
        (
            Cell::Money {
                mantissa: 350,
                scale: 5,
            },
            "0.00350",
        ),
        (Cell::Time(0), "1970-01-01T00:00:00Z"),
        (
            Cell::Uuid(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            "01234567-89ab-cdef-0123-456789abcdef",
        ),
    ];
    for (cell, want) in cases {
        assert_eq!(text(|o| write_csv_cell(o, cell)), want, "{cell:?}");
    }
}

#[test]
fn money_is_a_number_or_a_string_with_the_same_text() {
    let m = Cell::Money {
        mantissa: -1_50,
        scale: 2,
    };
    let c = &mut DatetimeCache::default();
    assert_eq!(text(|o| write_json_cell(o, m, false, c)), "-1.50");
    assert_eq!(text(|o| write_json_cell(o, m, true, c)), "\"-1.50\"");
    assert_eq!(text(|o| write_json_cell(o, Cell::Null, true, c)), "null");
}
