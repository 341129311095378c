//! The export download's record counter ([`CsvLines`]): fed the same text in
//! any pieces it counts the same, and its count (records ended by a line
//! break, plus an unended last one) is the number of records the `csv` crate
//! reads from the text.
//!
//! The first input byte seeds the cut points; the rest is the text.

use std::cell::RefCell;
use std::io::Cursor;

use cdr_sink_csv::CsvLines;

// Making a csv reader builds its state machine, which costs far more than
// reading a short text: each run rewinds one reader instead (the same counts
// as a new reader, checked on the corpus by the tests).
thread_local! {
    static CSV: RefCell<csv::Reader<Cursor<Vec<u8>>>> = RefCell::new(
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(Vec::new())),
    );
}

pub fn check(data: &[u8]) {
    let Some((&seed, text)) = data.split_first() else {
        return;
    };
    let mut whole = CsvLines::new();
    whole.feed(text);
    let mut pieces = CsvLines::new();
    for piece in cut(text, seed) {
        pieces.feed(piece);
    }
    assert_eq!(pieces, whole, "the pieces counted otherwise than the whole");
    // A line break more ends the open record, unless it is quoted text.
    let mut more = whole.clone();
    more.feed(b"\n");
    if whole.in_quotes() {
        assert!(more.in_quotes() && more.rows() == whole.rows(), "{more:?}");
    } else {
        assert!(!more.open_line(), "{more:?}");
        assert_eq!(more.rows(), whole.rows() + u64::from(whole.open_line()));
    }
    let counted = whole.rows() + u64::from(whole.open_line());
    assert_eq!(
        counted,
        csv_records(text),
        "the count disagrees with the csv crate's: {whole:?}"
    );
}

/// `text` cut at points drawn from `seed` (none for seed 0, each byte apart
/// for seed 1).
fn cut(text: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut state = u32::from(seed);
    while !rest.is_empty() {
        let len = match seed {
            0 => rest.len(),
            1 => 1,
            _ => {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                1 + (state >> 16) as usize % 16
            }
        };
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Records the `csv` crate reads from `text`: no header, any number of fields.
fn csv_records(text: &[u8]) -> u64 {
    // An empty text has no records; and a csv 1.4 reader rewound after
    // reading an empty input reads nothing more, so it is never given one.
    if text.is_empty() {
        return 0;
    }
    CSV.with_borrow_mut(|reader| {
        let input = reader.get_mut().get_mut();
        input.clear();
        input.extend_from_slice(text);
        reader
            .seek(csv::Position::new())
            .expect("rewinding a reader of memory");
        let mut record = csv::ByteRecord::new();
        let mut n = 0;
        while reader
            .read_byte_record(&mut record)
            .expect("reading bytes from memory cannot fail")
        {
            n += 1;
        }
        n
    })
}

/// Records a new `csv` reader reads from `text`: what the rewound one must
/// count too.
pub fn csv_records_fresh(text: &[u8]) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader
        .read_byte_record(&mut record)
        .expect("reading bytes from memory cannot fail")
    {
        n += 1;
    }
    n
}

/// [`csv_records`], for the tests.
pub fn csv_records_rewound(text: &[u8]) -> u64 {
    csv_records(text)
}
