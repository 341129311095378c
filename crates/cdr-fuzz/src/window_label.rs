//! The window label (`20261101T000000Z-20261101T010000Z`, in every file and
//! ledger name): reading one never panics; a label read is the label of the
//! window read; and the label of any window reads back as that window.
//!
//! Input of 24 bytes or more also makes a window of the years 0000 to 9999:
//! its start, length and fractions of a second from its first bytes.

use cdr_core::Window;
use cdr_core::chrono::DateTime;

pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(w) = Window::from_label(text)
    {
        assert_eq!(w.label(), text);
        assert!(w.start() < w.end());
    }
    if let Some(w) = window_of(data) {
        let label = w.label();
        assert_eq!(Window::from_label(&label), Some(w), "label {label:?}");
    }
}

/// The first and last second of the years 0000 to 9999: the instants a label
/// holds. A window reaching past 9999 gets a `+`-signed year that no label is
/// read with; plans end at the present, so no such window is ever written.
const FIRST: i64 = -62_167_219_200;
const LAST: i64 = 253_402_300_799;

fn window_of(data: &[u8]) -> Option<Window> {
    let word = |at: usize| -> Option<[u8; 8]> { data.get(at..at + 8)?.try_into().ok() };
    let start = u64::from_le_bytes(word(0)?);
    let length = u64::from_le_bytes(word(8)?);
    let nanos = u64::from_le_bytes(word(16)?);
    let span = (LAST - FIRST + 1) as u64;
    let start = FIRST + (start % span) as i64;
    let end = start.checked_add((length % (1 << 40)) as i64)?.min(LAST);
    // Whole seconds, milli-, micro- or nanoseconds, as in real windows.
    let (a, b) = (
        (nanos >> 2) as u32 % 1_000_000_000,
        (nanos >> 32) as u32 % 1_000_000_000,
    );
    let round = |n: u32| [0, n / 1_000_000 * 1_000_000, n / 1000 * 1000, n][(nanos & 3) as usize];
    Window::new(
        DateTime::from_timestamp(start, round(a))?,
        DateTime::from_timestamp(end, round(b))?,
    )
    .ok()
}
