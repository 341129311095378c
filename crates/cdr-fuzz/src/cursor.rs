//! The cursor peek: reading `nextCursor` from the start of a body never
//! panics (cut UTF-8, a cursor cut by the 4 KiB head, deep nesting), and a
//! cursor it reads is the one the decoded page holds, whenever the body
//! decodes.

use cdr_core::{RecordKind, decode_page, peek_next_cursor};

pub fn check(body: &[u8]) {
    let Some(peeked) = peek_next_cursor(body) else {
        return;
    };
    for kind in RecordKind::ALL {
        if let Ok(page) = decode_page(body, kind) {
            assert_eq!(
                page.next_cursor.as_deref(),
                Some(peeked.as_str()),
                "the peeked cursor is not the page's ({kind:?})"
            );
        }
    }
}
