//! The page decoder, differentially: the hand-written scanner and the serde
//! decoder read the same body. Whatever the scanner takes, serde takes too and
//! decodes to the same page (records, unknown members, bad records, cursor,
//! limit, export link); the scanner never takes what serde refuses.

use cdr_core::{MAX_TEXT_BYTES, Page, RecordKind, decode_page_both_ways};

/// Text limits tried: the default, and a small one that makes records bad.
const LIMITS: [usize; 2] = [MAX_TEXT_BYTES, 4];

pub fn check(body: &[u8]) {
    for kind in RecordKind::ALL {
        for max_text in LIMITS {
            let (fast, slow) = decode_page_both_ways(body, kind, max_text);
            let Some(fast) = fast else { continue };
            match slow {
                Ok(slow) => assert!(
                    same(&fast, &slow),
                    "the decoders disagree ({kind:?}, text limit {max_text}):\n\
                     scanner {fast:?}\nserde   {slow:?}"
                ),
                Err(e) => panic!(
                    "the scanner took a body serde refuses ({kind:?}, text limit {max_text}): {e}\n\
                     scanner {fast:?}"
                ),
            }
            for b in &fast.bad {
                assert!(b.message.len() <= 204, "a long message: {b:?}");
            }
        }
    }
}

/// Equal, field by field and as printed (which also compares what `==`
/// leaves out, such as the export link's text).
fn same(fast: &Page, slow: &Page) -> bool {
    fast == slow && format!("{fast:?}") == format!("{slow:?}")
}
