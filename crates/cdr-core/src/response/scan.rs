//! The fast path of [`decode_page`](super::decode_page): a scanner for the
//! answers the service sends. It reads the body once, in place, parses values
//! where they lie (datetimes and money without an intermediate string) and
//! copies only the text that ends up in records.
//!
//! An element of `cdrs` that is not a plain record of the member asked for
//! (a member of unknown type or of another member, an unknown or repeated
//! field, a value that does not parse or does not fit, text longer than the
//! limit, a key with escapes) is
//! skipped over as JSON and handed, as text, to the element decoder of the
//! serde path ([`decode_member`](super::element::decode_member)), which reports
//! it.
//!
//! For the rest of the body the scanner accepts a subset of what the serde
//! path accepts and gives up (returns `None`) on anything else: an `errors`
//! key, a missing or `null` page, `paginationInfo`, `nextCursor` or `cdrs`,
//! malformed JSON. The serde path then decodes the body and words its
//! errors. For every body the scanner accepts, its page equals the serde
//! path's (a property test checks this).
//!
//! Three modules, each using only those before it: [`lexer`] (JSON tokens,
//! read in place), [`values`] (field values: money, whole numbers,
//! datetimes) and [`body`] (the envelope, the page and its members).

mod body;
mod lexer;
mod values;

use super::page::Page;
use crate::record::Cdr;
use crate::record::RecordKind;
use body::Scanner;
use lexer::Lexer;

/// Decodes a whole body of a query for member `expected`, whose text fields
/// hold at most `max_text` bytes, or gives up. The vector of `spare` and the
/// text of its records are reused for the page's records.
pub(super) fn decode(
    text: &str,
    expected: RecordKind,
    max_text: usize,
    spare: Vec<Cdr>,
) -> Option<Page> {
    Scanner::new(text, expected, max_text, spare).body()
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
    let mut s = Lexer::new(text);
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

#[cfg(test)]
mod tests;
