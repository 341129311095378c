//! The values of record fields as the scanner reads them, in place: money
//! and whole numbers from JSON numbers or strings, datetimes in the form the
//! service writes without an intermediate string, other forms through the
//! parsers of [`crate::parse`]. Each gives `None` for a value the scanner
//! does not take, which the element decoder then judges.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::lexer::Lexer;
use crate::field::Slot;
use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::schema::check_money;

/// Reads the next value into a field, by the field's column type; text of
/// at most `max_text` bytes.
#[inline]
pub(super) fn read(
    lx: &mut Lexer<'_>,
    datetimes: &mut Datetimes,
    field: Slot<'_>,
    max_text: usize,
) -> Option<()> {
    match field {
        Slot::Timestamp(v) => *v = datetimes.read(lx)?,
        Slot::Decimal(v) => *v = money(lx)?,
        Slot::Int64(v) => *v = integer(lx)?,
        Slot::Utf8(v) => text(lx, v, max_text)?,
    }
    Some(())
}

/// A string of at most `max` bytes or null, into `field`. A short value
/// goes inside the record ([`Text`](crate::Text)); a longer one into the
/// field's allocation from a record of an earlier page, unless that is
/// large, so that one long value does not keep memory for the rest of a
/// stream of pages.
#[inline]
fn text(lx: &mut Lexer<'_>, field: &mut Option<crate::Text>, max: usize) -> Option<()> {
    const KEEP: usize = 256;
    if lx.null() {
        *field = None;
        return Some(());
    }
    let s = lx.string()?;
    if s.len() > max {
        return None;
    }
    match (s, field) {
        (Cow::Borrowed(s), Some(buf)) if buf.capacity() <= KEEP => {
            buf.clear();
            buf.push_str(s);
        }
        (s, field) => *field = Some(crate::Text::from(s)),
    }
    Some(())
}

/// Money: a JSON number or string, read from its text, that a money column
/// holds; `Some(None)` for null.
pub(super) fn money(lx: &mut Lexer<'_>) -> Option<Option<Decimal>> {
    let d = match lx.peek()? {
        b'n' => return lx.literal(b"null").map(|_| None),
        b'"' => {
            let t = lx.string()?;
            decimal(&t)?
        }
        _ => decimal(lx.number()?)?,
    };
    check_money(&d).ok()?;
    Some(Some(d))
}

/// A whole number: a JSON number or string; `Some(None)` for null.
pub(super) fn integer(lx: &mut Lexer<'_>) -> Option<Option<i64>> {
    match lx.peek()? {
        b'n' => lx.literal(b"null").map(|_| None),
        b'"' => {
            let t = lx.string()?;
            parse_integer(&t).ok().map(Some)
        }
        _ => parse_integer(lx.number()?).ok().map(Some),
    }
}

/// Reads datetimes, remembering the day of the last one: records come in
/// datetime order, so most share the previous one's day.
#[derive(Default)]
pub(super) struct Datetimes {
    /// The date part of the last datetime read and its day number.
    day: Option<([u8; 10], i64)>,
}

impl Datetimes {
    /// A datetime string.
    pub(super) fn read(&mut self, lx: &mut Lexer<'_>) -> Option<DateTime<Utc>> {
        let t = lx.string()?;
        match self.utc_datetime(t.as_bytes()) {
            Some(d) => Some(d),
            None => parse_datetime(&t).ok(),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with up to 9 fractional digits, the
    /// form the service writes; other forms go to [`parse_datetime`].
    fn utc_datetime(&mut self, b: &[u8]) -> Option<DateTime<Utc>> {
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[b.len() - 1] != b'Z'
        {
            return None;
        }
        let date = &b[..10];
        let days = match self.day {
            Some((d, n)) if d == date => n,
            _ => {
                let n = day_number(date)?;
                self.day = Some((date.try_into().ok()?, n));
                n
            }
        };
        let (h, mi, s) = (two(&b[11..13])?, two(&b[14..16])?, two(&b[17..19])?);
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        let frac = &b[19..b.len() - 1];
        let nanos = match frac {
            [] => 0,
            [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
                let mut n = 0u32;
                for &c in digits {
                    if !c.is_ascii_digit() {
                        return None;
                    }
                    n = n * 10 + u32::from(c - b'0');
                }
                n * 10u32.pow(9 - digits.len() as u32)
            }
            _ => return None,
        };
        DateTime::from_timestamp(days * 86_400 + i64::from(h * 3600 + mi * 60 + s), nanos)
    }
}

/// Two ASCII digits.
fn two(b: &[u8]) -> Option<u32> {
    match b {
        [x @ b'0'..=b'9', y @ b'0'..=b'9'] => Some(u32::from(x - b'0') * 10 + u32::from(y - b'0')),
        _ => None,
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
fn day_number(b: &[u8]) -> Option<i64> {
    let year = i32::try_from(two(&b[0..2])? * 100 + two(&b[2..4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, two(&b[5..7])?, two(&b[8..10])?)?;
    Some(
        date.and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp()
            .div_euclid(86_400),
    )
}

/// Exact money from its text: plain decimals of up to 18 digits directly,
/// anything else through [`parse_decimal`].
fn decimal(t: &str) -> Option<Decimal> {
    match plain_decimal(t) {
        Some(d) => Some(d),
        None => parse_decimal(t).ok(),
    }
}

/// `-?D+(.D+)?` with at most 18 digits, except negative zero (whose sign
/// [`parse_decimal`] keeps).
fn plain_decimal(t: &str) -> Option<Decimal> {
    let (negative, body) = match t.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    let mut mantissa = 0i64;
    let mut digits = 0u32;
    let mut scale = 0u32;
    let mut dot = false;
    for &c in body {
        match c {
            b'0'..=b'9' if digits < 18 => {
                mantissa = mantissa * 10 + i64::from(c - b'0');
                digits += 1;
                scale += u32::from(dot);
            }
            b'.' if !dot && digits > 0 => dot = true,
            _ => return None,
        }
    }
    if digits == 0 || (dot && scale == 0) || (negative && mantissa == 0) {
        return None;
    }
    let signed = if negative { -mantissa } else { mantissa };
    Decimal::try_from_i128_with_scale(i128::from(signed), scale).ok()
}
