//! The fast path of [`decode_page`](super::decode_page): a scanner for the
//! answers the service sends. It reads the body once, in place, parses values
//! where they lie (datetimes and money without an intermediate string) and
//! copies only the text that ends up in records.
//!
//! An element of `cdrs` that is not a plain record of the member asked for
//! (a member of unknown type or of another member, an unknown or repeated
//! field, a value that does not parse or does not fit, a key with escapes) is
//! skipped over as JSON and handed, as text, to the element decoder of the
//! serde path ([`decode_member`]), which reports it.
//!
//! For the rest of the body the scanner accepts a subset of what the serde
//! path accepts and gives up (returns `None`) on anything else: an `errors`
//! key, a missing or `null` page, `paginationInfo`, `nextCursor` or `cdrs`,
//! malformed JSON. The serde path then decodes the body and words its
//! errors. For every body the scanner accepts, its page equals the serde
//! path's (a property test checks this).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::element::decode_member;
use super::page::{BadRecord, Member, Page, UnknownMember};
use crate::parse::{parse_datetime, parse_decimal, parse_integer};
use crate::record::{ApiCdr, Cdr, MessageCdr, VoiceCdr};
use crate::schema::{RecordKind, check_money};
use crate::secret::ExportLink;

/// Deepest nesting followed in skipped values (serde_json stops at 128).
const MAX_DEPTH: u32 = 100;

/// Decodes a whole body, or gives up. The vector of `spare` and the text of
/// its records are reused for the page's records.
pub(super) fn decode(text: &str, expected: RecordKind, spare: Vec<Cdr>) -> Option<Page> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
        day: None,
        order: Vec::with_capacity(KEYS.len()),
        spare,
        expected,
    };
    let page = s.envelope()?;
    s.ws();
    (s.i == s.b.len()).then_some(page)
}

/// The `nextCursor` of a body that starts with `data.cdrRecords` and has
/// `paginationInfo` before `cdrs`, read without decoding the records.
pub(super) fn peek_next_cursor(body: &[u8]) -> Option<String> {
    // The cursor is near the start; the head must be whole characters.
    let head = &body[..body.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
        day: None,
        order: Vec::new(),
        spare: Vec::new(),
        expected: RecordKind::Message,
    };
    for outer in ["data", "cdrRecords"] {
        s.eat(b'{')?;
        if s.key()? != outer {
            return None;
        }
        s.eat(b':')?;
    }
    s.eat(b'{')?;
    loop {
        let key = s.key()?;
        s.eat(b':')?;
        match key {
            "paginationInfo" => break,
            "cdrs" => return None,
            _ => {
                s.skip_value(0)?;
                s.eat(b',')?;
            }
        }
    }
    s.eat(b'{')?;
    loop {
        let key = s.key()?;
        s.eat(b':')?;
        if key == "nextCursor" {
            return s.opt_string()?;
        }
        s.skip_value(0)?;
        s.eat(b',')?;
    }
}

/// Member fields, with their bit in a member's set of seen fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Typename = 0,
    Datetime,
    SessionTime,
    Charge,
    CalledRate,
    // Text fields, in the order of `Fields::text`.
    From,
    Destination,
    Status,
    Type,
    FromNumber,
    ToNumber,
    Direction,
    CallId,
    SourceAni,
    DestinationNumber,
    DidUsed,
    CallType,
    AniIi,
}

const FIRST_TEXT: usize = F::From as usize;
const TEXT_FIELDS: usize = F::AniIi as usize - FIRST_TEXT + 1;

/// Every field with its key, in the order of [`F`].
const KEYS: [(F, &str); 18] = [
    (F::Typename, "__typename"),
    (F::Datetime, "datetime"),
    (F::SessionTime, "sessionTime"),
    (F::Charge, "charge"),
    (F::CalledRate, "calledRate"),
    (F::From, "from"),
    (F::Destination, "destination"),
    (F::Status, "status"),
    (F::Type, "type"),
    (F::FromNumber, "fromNumber"),
    (F::ToNumber, "toNumber"),
    (F::Direction, "direction"),
    (F::CallId, "callId"),
    (F::SourceAni, "sourceAni"),
    (F::DestinationNumber, "destinationNumber"),
    (F::DidUsed, "didUsed"),
    (F::CallType, "callType"),
    (F::AniIi, "aniIi"),
];

fn field_of(key: &str) -> Option<F> {
    KEYS.iter().find(|(_, k)| *k == key).map(|(f, _)| *f)
}

const fn bits(fields: &[F]) -> u32 {
    let mut out = 0;
    let mut i = 0;
    while i < fields.len() {
        out |= 1 << fields[i] as u32;
        i += 1;
    }
    out
}

/// The fields each kind has; a member with any other field is left to serde.
const API_FIELDS: u32 = bits(&[
    F::Typename,
    F::Datetime,
    F::From,
    F::Destination,
    F::Status,
    F::Charge,
    F::Type,
]);
const MESSAGE_FIELDS: u32 = bits(&[
    F::Typename,
    F::Datetime,
    F::FromNumber,
    F::ToNumber,
    F::Direction,
    F::Status,
    F::Charge,
    F::Type,
]);
const VOICE_FIELDS: u32 = bits(&[
    F::Typename,
    F::Datetime,
    F::CallId,
    F::SourceAni,
    F::DestinationNumber,
    F::DidUsed,
    F::SessionTime,
    F::Status,
    F::CalledRate,
    F::Charge,
    F::CallType,
    F::AniIi,
]);

/// The values of one member as they are read.
#[derive(Default)]
struct Fields {
    kind: Option<RecordKind>,
    datetime: Option<DateTime<Utc>>,
    session_time: Option<i64>,
    charge: Option<Decimal>,
    called_rate: Option<Decimal>,
    text: [Option<String>; TEXT_FIELDS],
    /// Strings of a record no longer needed, to be filled anew.
    spare: [Option<String>; TEXT_FIELDS],
}

impl Fields {
    fn take(&mut self, f: F) -> Option<String> {
        self.text
            .get_mut(f as usize - FIRST_TEXT)
            .and_then(Option::take)
    }

    /// Moves the strings of `old` into the spares. Large ones are left to be
    /// freed, so that one long value does not keep memory for the rest of a
    /// stream of pages.
    fn recycle(&mut self, old: &mut Cdr) {
        const KEEP: usize = 256;
        let mut put = |f: F, s: &mut Option<String>| {
            if let Some(slot) = self.spare.get_mut(f as usize - FIRST_TEXT)
                && s.as_ref().is_some_and(|s| s.capacity() <= KEEP)
            {
                *slot = s.take();
            }
        };
        match old {
            Cdr::Api(r) => {
                put(F::From, &mut r.from);
                put(F::Destination, &mut r.destination);
                put(F::Status, &mut r.status);
                put(F::Type, &mut r.r#type);
            }
            Cdr::Message(r) => {
                put(F::FromNumber, &mut r.from_number);
                put(F::ToNumber, &mut r.to_number);
                put(F::Direction, &mut r.direction);
                put(F::Status, &mut r.status);
                put(F::Type, &mut r.r#type);
            }
            Cdr::Voice(r) => {
                put(F::CallId, &mut r.call_id);
                put(F::SourceAni, &mut r.source_ani);
                put(F::DestinationNumber, &mut r.destination_number);
                put(F::DidUsed, &mut r.did_used);
                put(F::Status, &mut r.status);
                put(F::CallType, &mut r.call_type);
                put(F::AniIi, &mut r.ani_ii);
            }
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    /// The date part of the last datetime read and its day number: records
    /// come in datetime order, so most share the previous one's day.
    day: Option<([u8; 10], i64)>,
    /// The fields of the last member, in its key order: the next member most
    /// likely has the same keys in the same order, and a key that is where it
    /// is expected is recognised with one comparison.
    order: Vec<F>,
    /// Records of an earlier page whose allocations the members reuse.
    spare: Vec<Cdr>,
    /// The member the query asked for.
    expected: RecordKind,
}

/// The elements of `cdrs`, sorted.
struct Members {
    records: Vec<Cdr>,
    unknown: Vec<UnknownMember>,
    bad: Vec<BadRecord>,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next_byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next_byte()? == c).then_some(())
    }

    /// Consumes `c` if it comes next.
    #[inline]
    fn eat_if(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.i += 1;
        }
        found
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        self.ws();
        let rest = self.b.get(self.i..)?;
        rest.starts_with(lit).then(|| self.i += lit.len())
    }

    /// Consumes a `null` if one comes next.
    #[inline]
    fn null(&mut self) -> bool {
        self.literal(b"null").is_some()
    }

    /// An object, handing each key to `field`, which must consume the value.
    #[inline]
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat_if(b'}') {
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A key without escapes.
    #[inline]
    fn key(&mut self) -> Option<&'a str> {
        match self.string()? {
            Cow::Borrowed(k) => Some(k),
            Cow::Owned(_) => None,
        }
    }

    /// A string, borrowed from the body unless it has escapes.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let j = special_at(self.b, start)?;
        match self.b[j] {
            b'"' => {
                self.i = j + 1;
                // Both ends are ASCII quotes, so the slice is whole characters.
                self.text.get(start..j).map(Cow::Borrowed)
            }
            b'\\' => self.escaped(start, j).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string whose first escape is at `j`.
    #[cold]
    fn escaped(&mut self, start: usize, mut j: usize) -> Option<String> {
        let mut out = String::with_capacity(j - start + 16);
        out.push_str(self.text.get(start..j)?);
        loop {
            match *self.b.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.b.get(j + 1)?;
                    j += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let (c, used) = self.unicode_escape(j)?;
                            out.push(c);
                            j += used;
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => {
                    let run = j;
                    j = special_at(self.b, j)?;
                    out.push_str(self.text.get(run..j)?);
                }
            }
        }
    }

    /// The character of a `\u` escape whose hex digits start at `j`, and the
    /// bytes it used after the `\u`. Lone surrogates give up.
    fn unicode_escape(&self, j: usize) -> Option<(char, usize)> {
        let hex = |at: usize| -> Option<u32> {
            let digits = self.text.get(at..at + 4)?;
            if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(digits, 16).ok()
        };
        let first = hex(j)?;
        match first {
            0xD800..=0xDBFF => {
                if self.b.get(j + 4..j + 6)? != b"\\u" {
                    return None;
                }
                let low = hex(j + 6)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                let c = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                Some((char::from_u32(c)?, 10))
            }
            0xDC00..=0xDFFF => None,
            c => Some((char::from_u32(c)?, 4)),
        }
    }

    /// A string or null, owned.
    fn opt_string(&mut self) -> Option<Option<String>> {
        self.opt_string_into(None)
    }

    /// A string or null, owned: in `spare`'s allocation when there is one.
    #[inline]
    fn opt_string_into(&mut self, spare: Option<String>) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(match (self.string()?, spare) {
            (Cow::Borrowed(s), Some(mut buf)) => {
                buf.clear();
                buf.push_str(s);
                buf
            }
            (s, _) => s.into_owned(),
        }))
    }

    /// A JSON number, checked against the grammar, as its text.
    fn number(&mut self) -> Option<&'a str> {
        self.ws();
        let b = self.b;
        let start = self.i;
        let mut k = start;
        let digits = |mut k: usize| {
            while b.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            k
        };
        if b.get(k) == Some(&b'-') {
            k += 1;
        }
        match b.get(k)? {
            b'0' => k += 1,
            b'1'..=b'9' => k = digits(k + 1),
            _ => return None,
        }
        if b.get(k) == Some(&b'.') {
            let d = k + 1;
            k = digits(d);
            if k == d {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(k) {
            k += 1;
            if let Some(b'+' | b'-') = b.get(k) {
                k += 1;
            }
            let d = k;
            k = digits(d);
            if k == d {
                return None;
            }
        }
        self.i = k;
        self.text.get(start..k)
    }

    /// Any JSON value, checked and skipped.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|s, _| s.skip_value(depth + 1)),
            b'[' => {
                self.i += 1;
                if self.eat_if(b']') {
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    match self.next_byte()? {
                        b',' => {}
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    fn envelope(&mut self) -> Option<Page> {
        let mut page = None;
        self.object(|s, key| match key {
            "data" if page.is_none() => {
                page = Some(s.data()?);
                Some(())
            }
            "data" | "errors" => None,
            _ => s.skip_value(0),
        })?;
        page
    }

    fn data(&mut self) -> Option<Page> {
        let mut page = None;
        self.object(|s, key| match key {
            "cdrRecords" if page.is_none() => {
                page = Some(s.page()?);
                Some(())
            }
            "cdrRecords" => None,
            _ => s.skip_value(0),
        })?;
        page
    }

    fn page(&mut self) -> Option<Page> {
        let mut link = None;
        let mut info = None;
        let mut cdrs = None;
        self.object(|s, key| {
            match key {
                "exportLink" if link.is_none() => link = Some(s.opt_string()?),
                "paginationInfo" if info.is_none() => info = Some(s.info()?),
                "cdrs" if cdrs.is_none() => cdrs = Some(s.members()?),
                "exportLink" | "paginationInfo" | "cdrs" => return None,
                _ => s.skip_value(0)?,
            }
            Some(())
        })?;
        // Both are required: a page without them must not pass for the last.
        let (next_cursor, limit) = info?;
        let Members {
            records,
            unknown,
            bad,
        } = cdrs?;
        Some(Page {
            records,
            unknown,
            bad,
            next_cursor,
            limit,
            export_link: link.flatten().map(ExportLink::new),
        })
    }

    fn info(&mut self) -> Option<(Option<String>, Option<u32>)> {
        let mut next = None;
        let mut limit = None;
        self.object(|s, key| {
            match key {
                "nextCursor" if next.is_none() => next = Some(s.opt_string()?),
                "limit" if limit.is_none() => {
                    limit = Some(if s.null() { None } else { Some(s.u32()?) });
                }
                "nextCursor" | "limit" => return None,
                _ => s.skip_value(0)?,
            }
            Some(())
        })?;
        Some((next?, limit.flatten()))
    }

    /// A whole number that fits `u32`, as serde reads one.
    fn u32(&mut self) -> Option<u32> {
        let t = self.number()?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    }

    fn members(&mut self) -> Option<Members> {
        self.eat(b'[')?;
        // Records are written over the spare ones, reusing their text.
        let mut out = std::mem::take(&mut self.spare);
        if out.is_empty() {
            // A page's records are at least about 100 bytes each.
            out.reserve(((self.b.len() - self.i) / 100).min(1000));
        }
        let mut unknown = Vec::new();
        let mut bad = Vec::new();
        let mut n = 0;
        let mut index = 0;
        if !self.eat_if(b']') {
            loop {
                self.ws();
                let start = self.i;
                let record = match self.member(out.get_mut(n)) {
                    Some(record) => Some(record),
                    None => {
                        // Not a plain record of ours: the element decoder
                        // judges its text.
                        self.i = start;
                        self.skip_value(0)?;
                        let raw = self.text.get(start..self.i)?;
                        match decode_member(raw, index, self.expected).ok()? {
                            Member::Known(record) => Some(record),
                            Member::Unknown(m) => {
                                unknown.push(m);
                                None
                            }
                            Member::Bad(b) => {
                                bad.push(b);
                                None
                            }
                        }
                    }
                };
                if let Some(record) = record {
                    match out.get_mut(n) {
                        Some(slot) => *slot = record,
                        None => out.push(record),
                    }
                    n += 1;
                }
                index += 1;
                match self.next_byte()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        out.truncate(n);
        Some(Members {
            records: out,
            unknown,
            bad,
        })
    }

    /// Consumes `"key":` of field `f` if it comes next, exactly so.
    #[inline]
    fn expected_key(&mut self, f: F) -> bool {
        self.ws();
        let key = KEYS[f as usize].1.as_bytes();
        let n = key.len();
        let found = self.b.get(self.i..self.i + n + 3).is_some_and(|r| {
            r[0] == b'"' && &r[1..=n] == key && r[n + 1] == b'"' && r[n + 2] == b':'
        });
        if found {
            self.i += n + 3;
        }
        found
    }

    /// The next member field's key and colon.
    #[inline]
    fn member_key(&mut self, position: usize) -> Option<F> {
        if let Some(&f) = self.order.get(position)
            && self.expected_key(f)
        {
            return Some(f);
        }
        let f = field_of(self.key()?)?;
        self.eat(b':')?;
        self.order.truncate(position);
        self.order.push(f);
        Some(f)
    }

    fn member(&mut self, old: Option<&mut Cdr>) -> Option<Cdr> {
        let mut m = Fields::default();
        if let Some(old) = old {
            m.recycle(old);
        }
        let mut seen = 0u32;
        self.eat(b'{')?;
        let mut position = 0;
        if !self.eat_if(b'}') {
            loop {
                let f = self.member_key(position)?;
                position += 1;
                let bit = 1 << f as u32;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                match f {
                    F::Typename => {
                        let name = self.string()?;
                        m.kind = Some(RecordKind::from_typename(&name)?);
                    }
                    F::Datetime => m.datetime = Some(self.datetime()?),
                    F::SessionTime => m.session_time = self.integer()?,
                    F::Charge => m.charge = self.money()?,
                    F::CalledRate => m.called_rate = self.money()?,
                    text => {
                        let i = text as usize - FIRST_TEXT;
                        let value = self.opt_string_into(m.spare.get_mut(i)?.take())?;
                        *m.text.get_mut(i)? = value;
                    }
                }
                match self.next_byte()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        let kind = m.kind?;
        if kind != self.expected {
            return None;
        }
        let allowed = match kind {
            RecordKind::Api => API_FIELDS,
            RecordKind::Message => MESSAGE_FIELDS,
            RecordKind::Voice => VOICE_FIELDS,
        };
        if seen & !allowed != 0 {
            return None;
        }
        let datetime = m.datetime?;
        Some(match kind {
            RecordKind::Api => Cdr::Api(ApiCdr {
                datetime,
                from: m.take(F::From),
                destination: m.take(F::Destination),
                status: m.take(F::Status),
                charge: m.charge,
                r#type: m.take(F::Type),
            }),
            RecordKind::Message => Cdr::Message(MessageCdr {
                datetime,
                from_number: m.take(F::FromNumber),
                to_number: m.take(F::ToNumber),
                direction: m.take(F::Direction),
                status: m.take(F::Status),
                charge: m.charge,
                r#type: m.take(F::Type),
            }),
            RecordKind::Voice => Cdr::Voice(VoiceCdr {
                datetime,
                call_id: m.take(F::CallId),
                source_ani: m.take(F::SourceAni),
                destination_number: m.take(F::DestinationNumber),
                did_used: m.take(F::DidUsed),
                session_time: m.session_time,
                status: m.take(F::Status),
                called_rate: m.called_rate,
                charge: m.charge,
                call_type: m.take(F::CallType),
                ani_ii: m.take(F::AniIi),
            }),
        })
    }

    /// Money: a JSON number or string, read from its text, that a money
    /// column holds; `Some(None)` for null.
    fn money(&mut self) -> Option<Option<Decimal>> {
        let d = match self.peek()? {
            b'n' => return self.literal(b"null").map(|_| None),
            b'"' => {
                let t = self.string()?;
                decimal(&t)?
            }
            _ => decimal(self.number()?)?,
        };
        check_money(&d).ok()?;
        Some(Some(d))
    }

    /// A whole number: a JSON number or string; `Some(None)` for null.
    fn integer(&mut self) -> Option<Option<i64>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|_| None),
            b'"' => {
                let t = self.string()?;
                parse_integer(&t).ok().map(Some)
            }
            _ => parse_integer(self.number()?).ok().map(Some),
        }
    }

    fn datetime(&mut self) -> Option<DateTime<Utc>> {
        let t = self.string()?;
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

/// The position of the first byte at or after `from` that ends a run of plain
/// string content: a quote, a backslash or a control character. Eight bytes
/// at a time: a byte matches when subtracting one from it (from its XOR with
/// the sought byte, or 0x20 for control characters) borrows into its high bit
/// while that bit was clear. Borrows only ever travel upwards, so the lowest
/// flagged byte is always a real match.
#[inline]
fn special_at(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut j = from;
    while let Some(chunk) = b.get(j..j + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | w.wrapping_sub(ONES * 0x20) & !w)
            & HIGH;
        if found != 0 {
            return Some(j + (found.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    while let Some(&c) = b.get(j) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return Some(j);
        }
        j += 1;
    }
    None
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

#[cfg(test)]
mod tests;
