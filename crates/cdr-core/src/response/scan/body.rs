//! The structure of a body as the scanner reads it: the envelope, the page,
//! `paginationInfo` and the elements of `cdrs`, each element decoded into a
//! record of the member asked for, or handed to the element decoder.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::lexer::{Lexer, Reader};
use super::values::{self, Datetimes};
use crate::record::RecordKind;
use crate::record::{ApiCdr, Cdr, MessageCdr, VoiceCdr};
use crate::response::element::decode_member;
use crate::response::page::{BadRecord, Member, Page, UnknownMember};
use crate::secret::ExportLink;

/// Member fields, with their bit in a member's set of seen fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum F {
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
pub(super) const KEYS: [(F, &str); 18] = [
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

pub(super) fn field_of(key: &str) -> Option<F> {
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

/// Reads a body into a page.
pub(super) struct Scanner<'a> {
    lx: Lexer<'a>,
    datetimes: Datetimes,
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

impl<'a> Reader<'a> for Scanner<'a> {
    #[inline]
    fn lexer(&mut self) -> &mut Lexer<'a> {
        &mut self.lx
    }
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str, expected: RecordKind, spare: Vec<Cdr>) -> Scanner<'a> {
        Scanner {
            lx: Lexer::new(text),
            datetimes: Datetimes::default(),
            order: Vec::with_capacity(KEYS.len()),
            spare,
            expected,
        }
    }

    /// The whole body, or `None`.
    pub(super) fn body(mut self) -> Option<Page> {
        let page = self.envelope()?;
        self.lx.at_end().then_some(page)
    }

    fn envelope(&mut self) -> Option<Page> {
        let mut page = None;
        self.object(|s, key| match key {
            "data" if page.is_none() => {
                page = Some(s.data()?);
                Some(())
            }
            "data" | "errors" => None,
            _ => s.lx.skip_value(0),
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
            _ => s.lx.skip_value(0),
        })?;
        page
    }

    fn page(&mut self) -> Option<Page> {
        let mut link = None;
        let mut info = None;
        let mut cdrs = None;
        self.object(|s, key| {
            match key {
                "exportLink" if link.is_none() => link = Some(s.lx.opt_string()?),
                "paginationInfo" if info.is_none() => info = Some(s.info()?),
                "cdrs" if cdrs.is_none() => cdrs = Some(s.members()?),
                "exportLink" | "paginationInfo" | "cdrs" => return None,
                _ => s.lx.skip_value(0)?,
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
                "nextCursor" if next.is_none() => next = Some(s.lx.opt_string()?),
                "limit" if limit.is_none() => {
                    limit = Some(if s.lx.null() { None } else { Some(s.lx.u32()?) });
                }
                "nextCursor" | "limit" => return None,
                _ => s.lx.skip_value(0)?,
            }
            Some(())
        })?;
        Some((next?, limit.flatten()))
    }

    fn members(&mut self) -> Option<Members> {
        self.lx.eat(b'[')?;
        // Records are written over the spare ones, reusing their text.
        let mut out = std::mem::take(&mut self.spare);
        if out.is_empty() {
            // A page's records are at least about 100 bytes each.
            out.reserve((self.lx.remaining() / 100).min(1000));
        }
        let mut unknown = Vec::new();
        let mut bad = Vec::new();
        let mut n = 0;
        let mut index = 0;
        if !self.lx.eat_if(b']') {
            loop {
                self.lx.ws();
                let start = self.lx.pos();
                let record = match self.member(out.get_mut(n)) {
                    Some(record) => Some(record),
                    None => {
                        // Not a plain record of ours: the element decoder
                        // judges its text.
                        self.lx.rewind(start);
                        self.lx.skip_value(0)?;
                        let raw = self.lx.since(start)?;
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
                match self.lx.next_byte()? {
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

    #[inline]
    fn member_key(&mut self, position: usize) -> Option<F> {
        if let Some(&f) = self.order.get(position)
            && self.lx.expected_key(KEYS[f as usize].1)
        {
            return Some(f);
        }
        let f = field_of(self.lx.key()?)?;
        self.lx.eat(b':')?;
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
        self.lx.eat(b'{')?;
        let mut position = 0;
        if !self.lx.eat_if(b'}') {
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
                        let name = self.lx.string()?;
                        m.kind = Some(RecordKind::from_typename(&name)?);
                    }
                    F::Datetime => m.datetime = Some(self.datetimes.read(&mut self.lx)?),
                    F::SessionTime => m.session_time = values::integer(&mut self.lx)?,
                    F::Charge => m.charge = values::money(&mut self.lx)?,
                    F::CalledRate => m.called_rate = values::money(&mut self.lx)?,
                    text => {
                        let i = text as usize - FIRST_TEXT;
                        let value = self.lx.opt_string_into(m.spare.get_mut(i)?.take())?;
                        *m.text.get_mut(i)? = value;
                    }
                }
                match self.lx.next_byte()? {
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
}
