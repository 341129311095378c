//! Hand-written text output shared by the JSON fast path, the CSV export and
//! the conversion to `cdr-core` records: RFC 3339 datetimes, exact decimals,
//! JSON strings (escaped exactly as `serde_json` escapes them) and RFC 4180
//! CSV cells. No float ever takes part.

use chrono::{DateTime, Utc};

/// Parses an RFC 3339 datetime with `Z` or an offset, with or without
/// fractional seconds (the simulator's own reading, independent of clients').
pub(crate) fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One cell of a record, borrowed or computed, before it becomes text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell<'a> {
    Null,
    /// An instant as nanoseconds since the Unix epoch.
    Time(i64),
    Str(&'a str),
    /// A North American number: `+1` followed by the ten digits of the value.
    Phone(u64),
    /// A UUID-shaped identifier (8-4-4-4-12 lowercase hex digits).
    Uuid(u128),
    Int(i64),
    /// Text known when compiling, with its JSON form ready.
    Known(&'static Known),
    /// An exact decimal `mantissa * 10^-scale`.
    Money {
        mantissa: i128,
        scale: u32,
    },
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A constant string with its JSON literal built when compiling.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Known {
    pub text: &'static str,
    json: [u8; 64],
    json_len: usize,
}

impl Known {
    /// Escapes `text` as `serde_json` does; a text whose literal exceeds 64
    /// bytes does not compile.
    pub(crate) const fn new(text: &'static str) -> Known {
        let bytes = text.as_bytes();
        let mut json = [0u8; 64];
        json[0] = b'"';
        let mut n = 1;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x08 => b'b',
                0x0c => b'f',
                _ => 0,
            };
            if short != 0 {
                json[n] = b'\\';
                json[n + 1] = short;
                n += 2;
            } else if b < 0x20 {
                json[n] = b'\\';
                json[n + 1] = b'u';
                json[n + 2] = b'0';
                json[n + 3] = b'0';
                json[n + 4] = HEX[(b >> 4) as usize];
                json[n + 5] = HEX[(b & 0xf) as usize];
                n += 6;
            } else {
                json[n] = b;
                n += 1;
            }
            i += 1;
        }
        json[n] = b'"';
        Known {
            text,
            json,
            json_len: n + 1,
        }
    }

    #[inline]
    fn put_json(&self, out: &mut Vec<u8>) {
        let len = out.len() + self.json_len;
        out.extend_from_slice(&self.json);
        out.truncate(len);
    }
}

/// "00" to "99", for writing two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// A stack buffer a value is formatted into before one copy to the output
/// (many small copies cost more than the formatting). Its capacity is fixed
/// by what is written into it, never by input.
struct Buf<const N: usize> {
    b: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf { b: [0; N], len: 0 }
    }

    #[inline]
    fn push(&mut self, x: u8) {
        self.b[self.len] = x;
        self.len += 1;
    }

    #[inline]
    fn extend(&mut self, s: &[u8]) {
        self.b[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }

    /// Two digits of `v` (0..100).
    #[inline]
    fn two(&mut self, v: u32) {
        let i = (v as usize % 100) * 2;
        self.b[self.len] = PAIRS[i];
        self.b[self.len + 1] = PAIRS[i + 1];
        self.len += 2;
    }

    /// Exactly `width` digits of `v` (width even or odd), most significant first.
    #[inline]
    fn fixed(&mut self, mut v: u64, width: usize) {
        let end = self.len + width;
        let mut pos = end;
        while pos >= self.len + 2 {
            let i = (v % 100) as usize * 2;
            v /= 100;
            pos -= 2;
            self.b[pos] = PAIRS[i];
            self.b[pos + 1] = PAIRS[i + 1];
        }
        if pos > self.len {
            self.b[pos - 1] = b'0' + (v % 10) as u8;
        }
        self.len = end;
    }

    /// The digits of `v`, as few as needed.
    fn uint(&mut self, v: u64) {
        let digits = if v == 0 { 1 } else { v.ilog10() as usize + 1 };
        self.fixed(v, digits);
    }

    #[inline]
    fn flush(&self, out: &mut Vec<u8>) {
        // Copying the whole fixed-size buffer and cutting back is one inlined
        // copy; a copy of a variable length is a call to memmove.
        let len = out.len() + self.len;
        out.extend_from_slice(&self.b);
        out.truncate(len);
    }
}

/// A short constant byte string (a JSON key, a key with its value) copied
/// the same way as [`Buf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    short: [u8; 48],
    len: usize,
    long: Vec<u8>,
}

impl Piece {
    pub(crate) fn new(bytes: &[u8]) -> Piece {
        let mut short = [0u8; 48];
        let long = if bytes.len() <= short.len() {
            short[..bytes.len()].copy_from_slice(bytes);
            Vec::new()
        } else {
            bytes.to_vec()
        };
        Piece {
            short,
            len: bytes.len(),
            long,
        }
    }

    #[inline]
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        if self.long.is_empty() {
            let len = out.len() + self.len;
            out.extend_from_slice(&self.short);
            out.truncate(len);
        } else {
            out.extend_from_slice(&self.long);
        }
    }
}

/// Appends the decimal digits of `v`.
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = Buf::<20>::new();
    b.uint(v);
    b.flush(out);
}

/// Appends the decimal digits of `v`, with a `-` when negative.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut b = Buf::<21>::new();
    if v < 0 {
        b.push(b'-');
    }
    b.uint(v.unsigned_abs());
    b.flush(out);
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (proleptic
/// Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe as i64 + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Remembers the text of the last whole second written, since consecutive
/// records mostly share it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatetimeCache {
    secs: i64,
    head: [u8; 19],
}

impl Default for DatetimeCache {
    fn default() -> Self {
        DatetimeCache {
            secs: i64::MIN,
            head: [0; 19],
        }
    }
}

/// Appends the instant `ns` (nanoseconds since the epoch) exactly as
/// [`cdr_core::format_datetime`] formats it: RFC 3339 in UTC with `Z`, with 3,
/// 6 or 9 fractional digits when the sub-second part is not zero. With
/// `quoted`, as a JSON string.
pub(crate) fn write_datetime_with(
    out: &mut Vec<u8>,
    ns: i64,
    quoted: bool,
    cache: &mut DatetimeCache,
) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    if secs != cache.secs {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            // Years outside four digits are rare enough to leave to chrono.
            if let Some(t) = DateTime::from_timestamp(secs, nanos) {
                let text = cdr_core::format_datetime(&t);
                if quoted {
                    write_json_str(out, &text);
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            return;
        }
        let mut b = Buf::<19>::new();
        b.fixed(year as u64, 4);
        b.push(b'-');
        b.two(month);
        b.push(b'-');
        b.two(day);
        b.push(b'T');
        b.two(sod / 3600);
        b.push(b':');
        b.two(sod / 60 % 60);
        b.push(b':');
        b.two(sod % 60);
        cache.secs = secs;
        cache.head = b.b;
    }
    let mut b = Buf::<32>::new();
    if quoted {
        b.push(b'"');
    }
    b.extend(&cache.head);
    if nanos != 0 {
        b.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            b.fixed(u64::from(nanos / 1_000_000), 3);
        } else if nanos.is_multiple_of(1000) {
            b.fixed(u64::from(nanos / 1000), 6);
        } else {
            b.fixed(u64::from(nanos), 9);
        }
    }
    b.push(b'Z');
    if quoted {
        b.push(b'"');
    }
    b.flush(out);
}

/// [`write_datetime_with`] without quotes or cache.
pub(crate) fn write_datetime(out: &mut Vec<u8>, ns: i64) {
    write_datetime_with(out, ns, false, &mut DatetimeCache::default());
}

/// Appends the exact decimal text of `mantissa * 10^-scale`, keeping the
/// scale as given (`0.00350`), as `rust_decimal` displays it; with `quoted`,
/// as a JSON string.
fn write_decimal_with(out: &mut Vec<u8>, mantissa: i128, scale: u32, quoted: bool) {
    if let Ok(m) = u64::try_from(mantissa.unsigned_abs())
        && scale <= 19
    {
        // The common case: whole part, point, fraction padded to the scale.
        let mut b = Buf::<44>::new();
        if quoted {
            b.push(b'"');
        }
        if mantissa < 0 {
            b.push(b'-');
        }
        let p = 10u64.pow(scale);
        b.uint(m / p);
        if scale > 0 {
            b.push(b'.');
            b.fixed(m % p, scale as usize);
        }
        if quoted {
            b.push(b'"');
        }
        b.flush(out);
        return;
    }
    // Up to 39 digits, a sign, "0." and 28 leading zeros, two quotes.
    let mut digits = Buf::<40>::new();
    let mag = mantissa.unsigned_abs();
    match u64::try_from(mag) {
        Ok(small) => digits.uint(small),
        Err(_) => {
            let mut tmp = [0u8; 40];
            let mut pos = tmp.len();
            let mut m = mag;
            while m > 0 && pos > 0 {
                pos -= 1;
                tmp[pos] = b'0' + (m % 10) as u8;
                m /= 10;
            }
            digits.extend(&tmp[pos..]);
        }
    }
    let digits = &digits.b[..digits.len];
    let mut b = Buf::<80>::new();
    if quoted {
        b.push(b'"');
    }
    if mantissa < 0 {
        b.push(b'-');
    }
    let scale = (scale as usize).min(40);
    if scale == 0 {
        b.extend(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        b.extend(int);
        b.push(b'.');
        b.extend(frac);
    } else {
        b.extend(b"0.");
        for _ in digits.len()..scale {
            b.push(b'0');
        }
        b.extend(digits);
    }
    if quoted {
        b.push(b'"');
    }
    b.flush(out);
}

/// Appends the exact decimal text of `mantissa * 10^-scale`.
pub(crate) fn write_decimal(out: &mut Vec<u8>, mantissa: i128, scale: u32) {
    write_decimal_with(out, mantissa, scale, false);
}

fn write_phone(out: &mut Vec<u8>, n: u64, quoted: bool) {
    let mut b = Buf::<14>::new();
    if quoted {
        b.push(b'"');
    }
    b.extend(b"+1");
    b.fixed(n % 10_000_000_000, 10);
    if quoted {
        b.push(b'"');
    }
    b.flush(out);
}

fn write_uuid(out: &mut Vec<u8>, v: u128, quoted: bool) {
    let mut b = Buf::<38>::new();
    if quoted {
        b.push(b'"');
    }
    for (i, byte) in v.to_be_bytes().into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            b.push(b'-');
        }
        b.push(HEX[usize::from(byte >> 4)]);
        b.push(HEX[usize::from(byte & 0xf)]);
    }
    if quoted {
        b.push(b'"');
    }
    b.flush(out);
}

/// Appends `s` as a JSON string literal, escaped byte for byte as
/// `serde_json` escapes it (so both response paths agree exactly).
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a cell as a JSON value. Money is a JSON number, or a string
/// holding the same text when `money_as_string`.
pub(crate) fn write_json_cell(
    out: &mut Vec<u8>,
    cell: Cell<'_>,
    money_as_string: bool,
    cache: &mut DatetimeCache,
) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Time(ns) => write_datetime_with(out, ns, true, cache),
        Cell::Str(s) => write_json_str(out, s),
        Cell::Known(k) => k.put_json(out),
        Cell::Phone(n) => write_phone(out, n, true),
        Cell::Uuid(v) => write_uuid(out, v, true),
        Cell::Int(v) => write_i64(out, v),
        Cell::Money { mantissa, scale } => {
            write_decimal_with(out, mantissa, scale, money_as_string)
        }
    }
}

/// Appends a cell as one RFC 4180 CSV field: null is an empty field, an empty
/// string is `""`, text with a comma, quote, CR or LF is quoted with inner
/// quotes doubled.
#[cfg(test)]
pub(crate) fn write_csv_cell(out: &mut Vec<u8>, cell: Cell<'_>) {
    write_csv_cell_with(out, cell, &mut DatetimeCache::default());
}

/// [`write_csv_cell`] with a datetime cache shared across rows.
pub(crate) fn write_csv_cell_with(out: &mut Vec<u8>, cell: Cell<'_>, cache: &mut DatetimeCache) {
    match cell {
        Cell::Null => {}
        Cell::Known(k) => write_csv_cell_with(out, Cell::Str(k.text), cache),
        Cell::Str(s) => {
            if s.is_empty() {
                out.extend_from_slice(b"\"\"");
            } else if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
                out.push(b'"');
                for &b in s.as_bytes() {
                    if b == b'"' {
                        out.push(b'"');
                    }
                    out.push(b);
                }
                out.push(b'"');
            } else {
                out.extend_from_slice(s.as_bytes());
            }
        }
        other => write_plain(out, other, cache),
    }
}

/// Appends the plain text of a non-string cell (the same text JSON and CSV use).
fn write_plain(out: &mut Vec<u8>, cell: Cell<'_>, cache: &mut DatetimeCache) {
    match cell {
        Cell::Null => {}
        Cell::Time(ns) => write_datetime_with(out, ns, false, cache),
        Cell::Str(s) => out.extend_from_slice(s.as_bytes()),
        Cell::Known(k) => out.extend_from_slice(k.text.as_bytes()),
        Cell::Phone(n) => write_phone(out, n, false),
        Cell::Uuid(v) => write_uuid(out, v, false),
        Cell::Int(v) => write_i64(out, v),
        Cell::Money { mantissa, scale } => write_decimal(out, mantissa, scale),
    }
}

/// The plain text of a cell, as a record holds it; `None` for null.
pub(crate) fn cell_text(cell: Cell<'_>) -> Option<cdr_core::Text> {
    match cell {
        Cell::Null => None,
        Cell::Str(s) => Some(s.into()),
        Cell::Known(k) => Some(k.text.into()),
        other => {
            let mut out = Vec::with_capacity(40);
            write_plain(&mut out, other, &mut DatetimeCache::default());
            Some(String::from_utf8_lossy(&out).into())
        }
    }
}

#[cfg(test)]
mod tests;
