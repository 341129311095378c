//! The JSON lexer of the scanner: tokens of a body held in memory, read in
//! place. Strings are borrowed from the body unless they hold escapes;
//! numbers are checked against the JSON grammar and handed on as their text.
//! Every method returns `None` on anything it does not take, and the scanner
//! gives up.

use std::borrow::Cow;

/// Deepest nesting followed in skipped values (serde_json stops at 128).
const MAX_DEPTH: u32 = 100;

/// A position in a body.
pub(super) struct Lexer<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Something that reads a body with a [`Lexer`]: the lexer itself, or a
/// reader of a larger structure built on it.
pub(super) trait Reader<'a>: Sized {
    fn lexer(&mut self) -> &mut Lexer<'a>;

    /// An object, handing each key to `field`, which must consume the value.
    #[inline]
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.lexer().eat(b'{')?;
        if self.lexer().eat_if(b'}') {
            return Some(());
        }
        loop {
            let key = self.lexer().key()?;
            self.lexer().eat(b':')?;
            field(self, key)?;
            match self.lexer().next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }
}

impl<'a> Reader<'a> for Lexer<'a> {
    #[inline]
    fn lexer(&mut self) -> &mut Lexer<'a> {
        self
    }
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            b: text.as_bytes(),
            i: 0,
        }
    }

    /// The position of the next byte.
    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.i
    }

    /// Goes back to `pos`, a position this lexer was at.
    pub(super) fn rewind(&mut self, pos: usize) {
        self.i = pos;
    }

    /// The text from `start` to the current position.
    pub(super) fn since(&self, start: usize) -> Option<&'a str> {
        self.text.get(start..self.i)
    }

    /// Bytes left to read.
    pub(super) fn remaining(&self) -> usize {
        self.b.len() - self.i
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    /// Consumes `"key":` if it comes next, exactly so.
    #[inline]
    pub(super) fn expected_key(&mut self, key: &str) -> bool {
        self.ws();
        let key = key.as_bytes();
        let n = key.len();
        let found = self.b.get(self.i..self.i + n + 3).is_some_and(|r| {
            r[0] == b'"' && short_eq(&r[1..=n], key) && r[n + 1] == b'"' && r[n + 2] == b':'
        });
        if found {
            self.i += n + 3;
        }
        found
    }

    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(super) fn next_byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    pub(super) fn eat(&mut self, c: u8) -> Option<()> {
        (self.next_byte()? == c).then_some(())
    }

    /// Consumes `c` if it comes next.
    #[inline]
    pub(super) fn eat_if(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.i += 1;
        }
        found
    }

    pub(super) fn literal(&mut self, lit: &[u8]) -> Option<()> {
        self.ws();
        let rest = self.b.get(self.i..)?;
        rest.starts_with(lit).then(|| self.i += lit.len())
    }

    /// Consumes a `null` if one comes next.
    #[inline]
    pub(super) fn null(&mut self) -> bool {
        self.literal(b"null").is_some()
    }

    #[inline]
    pub(super) fn key(&mut self) -> Option<&'a str> {
        match self.string()? {
            Cow::Borrowed(k) => Some(k),
            Cow::Owned(_) => None,
        }
    }

    /// A string, borrowed from the body unless it has escapes.
    #[inline]
    pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
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
    pub(super) fn opt_string(&mut self) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(self.string()?.into_owned()))
    }

    /// A JSON number, checked against the grammar, as its text.
    pub(super) fn number(&mut self) -> Option<&'a str> {
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
    pub(super) fn skip_value(&mut self, depth: u32) -> Option<()> {
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

    /// A whole number that fits `u32`, as serde reads one.
    pub(super) fn u32(&mut self) -> Option<u32> {
        let t = self.number()?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
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

/// `a == b` for short byte strings (keys, member names) as two fixed-size
/// comparisons that may overlap in the middle, which the compiler writes as
/// a few loads; longer ones through the slice comparison. Comparing keys with
/// `==` spent most of its time calling the C library's `memcmp` (2.4% of the
/// archiver's CPU, perf).
#[inline(always)]
pub(super) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    #[inline(always)]
    fn ends<const K: usize>(s: &[u8]) -> Option<(&[u8; K], &[u8; K])> {
        Some((s.first_chunk()?, s.last_chunk()?))
    }
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0 => true,
        1 => a[0] == b[0],
        2..=3 => ends::<2>(a) == ends::<2>(b),
        4..=7 => ends::<4>(a) == ends::<4>(b),
        8..=15 => ends::<8>(a) == ends::<8>(b),
        16..=32 => ends::<16>(a) == ends::<16>(b),
        _ => a == b,
    }
}
