//! The structure of a body as the scanner reads it: the envelope, the page,
//! `paginationInfo` and the elements of `cdrs`, each element decoded into a
//! record of the member asked for, or handed to the element decoder.

use super::lexer::{Lexer, Reader, short_eq};
use super::values::{self, Datetimes};
use crate::record::{Cdr, MAX_COLUMNS, RecordKind};
use crate::response::element::decode_member;
use crate::response::page::{BadRecord, Member, Page, UnknownMember};
use crate::schema::Column;
use crate::secret::ExportLink;

/// A key of a member object the scanner takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Typename,
    /// Column `i` of the member asked for.
    Column(usize),
}

impl Key {
    /// The key named `name` among `columns`.
    fn of(columns: &[Column], name: &str) -> Option<Key> {
        if name == "__typename" {
            return Some(Key::Typename);
        }
        columns
            .iter()
            .position(|c| c.graphql == name)
            .map(Key::Column)
    }

    fn name(self, columns: &[Column]) -> &str {
        match self {
            Key::Typename => "__typename",
            Key::Column(i) => columns.get(i).map_or("", |c| c.graphql),
        }
    }

    /// Its bit in a member's set of seen keys.
    fn bit(self) -> u64 {
        match self {
            Key::Typename => TYPENAME,
            Key::Column(i) => 1 << i,
        }
    }
}

/// The bit of `__typename`, above those of the columns ([`MAX_COLUMNS`]).
const TYPENAME: u64 = 1 << MAX_COLUMNS;

/// Reads a body into a page.
pub(super) struct Scanner<'a> {
    lx: Lexer<'a>,
    datetimes: Datetimes,
    /// The keys of the last member, in its order: the next member most
    /// likely has the same keys in the same order, and a key that is where it
    /// is expected is recognised with one comparison.
    order: Vec<Key>,
    /// Records of an earlier page whose allocations the members reuse.
    spare: Vec<Cdr>,
    /// The member the query asked for, and its columns.
    expected: RecordKind,
    columns: &'static [Column],
    /// The longest text a field may hold, in bytes.
    max_text: usize,
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
    pub(super) fn new(
        text: &'a str,
        expected: RecordKind,
        max_text: usize,
        spare: Vec<Cdr>,
    ) -> Scanner<'a> {
        Scanner {
            lx: Lexer::new(text),
            datetimes: Datetimes::default(),
            order: Vec::with_capacity(expected.columns().len() + 1),
            spare,
            expected,
            columns: expected.columns(),
            max_text,
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
                // The next record is read over a spare one of the same kind.
                match out.get_mut(n) {
                    Some(r) if r.kind() == self.expected => {}
                    Some(r) => *r = Cdr::empty(self.expected),
                    None => out.push(Cdr::empty(self.expected)),
                }
                let mut taken = self.member(&mut out[n]).is_some();
                if !taken {
                    // Not a plain record of ours: the element decoder judges
                    // its text.
                    self.lx.rewind(start);
                    self.lx.skip_value(0)?;
                    let raw = self.lx.since(start)?;
                    match decode_member(raw, index, self.expected, self.max_text).ok()? {
                        Member::Known(record) => {
                            out[n] = record;
                            taken = true;
                        }
                        Member::Unknown(m) => unknown.push(m),
                        Member::Bad(b) => bad.push(b),
                    }
                }
                n += usize::from(taken);
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

    /// The next key of a member and its colon.
    #[inline]
    fn member_key(&mut self, position: usize) -> Option<Key> {
        if let Some(&key) = self.order.get(position)
            && self.lx.expected_key(key.name(self.columns))
        {
            return Some(key);
        }
        let key = Key::of(self.columns, self.lx.key()?)?;
        self.lx.eat(b':')?;
        self.order.truncate(position);
        self.order.push(key);
        Some(key)
    }

    /// Reads a member into `record`, a record of the member asked for, if it
    /// is a plain one: that `__typename`, each key at most once, only keys
    /// of the member, every value read and storable, the required ones
    /// given. Keys not given leave their fields null.
    fn member(&mut self, record: &mut Cdr) -> Option<()> {
        let mut seen = 0u64;
        self.lx.eat(b'{')?;
        let mut position = 0;
        if !self.lx.eat_if(b'}') {
            loop {
                let key = self.member_key(position)?;
                position += 1;
                if seen & key.bit() != 0 {
                    return None;
                }
                seen |= key.bit();
                match key {
                    Key::Typename => {
                        let name = self.lx.string()?;
                        if !short_eq(name.as_bytes(), self.expected.typename().as_bytes()) {
                            return None;
                        }
                    }
                    Key::Column(i) => {
                        let field = record.slot(i)?;
                        values::read(&mut self.lx, &mut self.datetimes, field, self.max_text)?;
                    }
                }
                match self.lx.next_byte()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        if seen & TYPENAME == 0 {
            return None;
        }
        let all = (1 << self.columns.len()) - 1;
        if seen & all != all {
            for i in (0..self.columns.len()).filter(|i| seen & (1 << i) == 0) {
                if !record.slot(i)?.clear() {
                    return None;
                }
            }
        }
        Some(())
    }
}
