//! Lowercase hex of bytes: the SHA-256 of files in ledger entries, content
//! hashes, run ids. At the bottom of the crate, so that every module that
//! prints bytes can use it.

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
