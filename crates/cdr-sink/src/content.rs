//! The content hash of a unit's records, kept in its ledger entry so that a
//! rescan can tell whether a window changed without comparing files.
//!
//! Each record is written in a canonical binary form (its kind, then every
//! column of [`RecordKind::columns`] as a typed value: timestamps to the
//! nanosecond, decimals normalised so that `1.50` and `1.5` are equal) and
//! hashed with SHA-256; the content hash is the sum of those digests modulo
//! 2^256, as 64 lowercase hex digits. A sum does not depend on the order in
//! which records come (the API does not promise an order among records of the
//! same datetime), yet counts each record as often as it occurs.
//!
//! [`RecordKind::columns`]: cdr_core::RecordKind::columns

#[cfg(test)]
use sha2::{Digest, Sha256};

use cdr_core::rust_decimal::Decimal;
use cdr_core::{Cdr, RecordKind, Value};

/// The running content hash of a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentHash {
    /// Little-endian 64-bit limbs of the sum.
    sum: [u64; 4],
    records: u64,
}

impl ContentHash {
    pub fn new() -> ContentHash {
        ContentHash::default()
    }

    /// Adds one record.
    pub fn add(&mut self, record: &Cdr) {
        let mut buf = Vec::with_capacity(128);
        self.add_with(record, &mut buf);
    }

    /// Adds one record, writing its canonical form into `buf`.
    fn add_with(&mut self, record: &Cdr, buf: &mut Vec<u8>) {
        buf.clear();
        canonical(record, buf);
        let digest = sha256_in_place(buf);
        self.add_digest(&digest);
        self.records += 1;
    }

    /// Adds a big-endian 256-bit number to the sum, modulo 2^256.
    fn add_digest(&mut self, digest: &[u8; 32]) {
        let mut carry = 0u64;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            // Limb i holds bits 64i.. of the sum.
            let at = 32 - 8 * (i + 1);
            let mut word = [0u8; 8];
            word.copy_from_slice(&digest[at..at + 8]);
            let (s1, c1) = limb.overflowing_add(u64::from_be_bytes(word));
            let (s2, c2) = s1.overflowing_add(carry);
            *limb = s2;
            carry = u64::from(c1) + u64::from(c2);
        }
    }

    /// Adds every record of `records`.
    pub fn add_all(&mut self, records: &[Cdr]) {
        let mut buf = Vec::with_capacity(256);
        for r in records {
            self.add_with(r, &mut buf);
        }
    }

    /// How many records were added.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        let mut bytes = [0u8; 32];
        for (i, limb) in self.sum.iter().enumerate() {
            let at = 32 - 8 * (i + 1);
            bytes[at..at + 8].copy_from_slice(&limb.to_be_bytes());
        }
        crate::unit::hex(&bytes)
    }
}

fn kind_tag(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Api => b'A',
        RecordKind::Message => b'M',
        RecordKind::Voice => b'V',
    }
}

/// The canonical bytes of one record, appended to `out`: unambiguous (typed,
/// length-prefixed).
fn canonical(record: &Cdr, out: &mut Vec<u8>) {
    let kind = record.kind();
    out.push(kind_tag(kind));
    for i in 0..kind.columns().len() {
        match record.value(i) {
            Value::Null => out.push(b'N'),
            Value::Timestamp(t) => {
                out.push(b'T');
                out.extend_from_slice(&t.timestamp().to_be_bytes());
                out.extend_from_slice(&t.timestamp_subsec_nanos().to_be_bytes());
            }
            Value::Decimal(d) => {
                out.push(b'D');
                let mut digits = [0u8; DECIMAL_TEXT];
                let n = normalized_text(d, &mut digits);
                text(out, &digits[..n]);
            }
            Value::Int64(n) => {
                out.push(b'I');
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Str(s) => {
                out.push(b'S');
                text(out, s.as_bytes());
            }
        }
    }
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_INIT: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The SHA-256 digest of `buf`, padding it in place: one call of the
/// compression function over the whole message, where the streaming hasher
/// copies every record through its block buffer.
fn sha256_in_place(buf: &mut Vec<u8>) -> [u8; 32] {
    let bits = (buf.len() as u64).wrapping_mul(8);
    buf.push(0x80);
    let zeros = (64 + 56 - buf.len() % 64) % 64;
    buf.resize(buf.len() + zeros, 0);
    buf.extend_from_slice(&bits.to_be_bytes());
    let (blocks, rest) = buf.as_chunks::<64>();
    debug_assert!(rest.is_empty());
    let mut state = SHA256_INIT;
    sha2::block_api::compress256(&mut state, blocks);
    let mut out = [0u8; 32];
    for (o, word) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn text(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s);
}

/// Room for any decimal's text: a sign, 29 digits, a point and up to 28
/// leading zeros after it.
const DECIMAL_TEXT: usize = 64;

/// Writes `d.normalize().to_string()` into `out` and returns its length,
/// without formatting machinery: every record's money goes through here.
fn normalized_text(d: Decimal, out: &mut [u8; DECIMAL_TEXT]) -> usize {
    let d = d.normalize();
    let scale = d.scale() as usize;
    let negative = d.is_sign_negative() && !d.is_zero();
    // The magnitude's digits, least significant first.
    let mut m = d.mantissa().unsigned_abs();
    let mut rev = [0u8; 40];
    let mut n = 0;
    loop {
        rev[n] = b'0' + (m % 10) as u8;
        m /= 10;
        n += 1;
        if m == 0 {
            break;
        }
    }
    // At least one digit before the point.
    while n <= scale {
        rev[n] = b'0';
        n += 1;
    }
    let mut len = 0;
    if negative {
        out[len] = b'-';
        len += 1;
    }
    for i in (0..n).rev() {
        out[len] = rev[i];
        len += 1;
        if i == scale && scale > 0 {
            out[len] = b'.';
            len += 1;
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::{MessageCdr, parse_datetime, parse_decimal};

    fn sms(at: &str, from: Option<&str>, charge: Option<&str>) -> Cdr {
        Cdr::Message(MessageCdr {
            datetime: parse_datetime(at).unwrap(),
            from_number: from.map(str::to_string),
            to_number: None,
            direction: None,
            status: None,
            charge: charge.map(|c| parse_decimal(c).unwrap()),
            r#type: None,
        })
    }

    fn hash(records: &[Cdr]) -> String {
        let mut h = ContentHash::new();
        h.add_all(records);
        h.hex()
    }

    #[test]
    fn order_does_not_matter_but_every_value_and_multiplicity_does() {
        let a = sms("2026-11-01T00:00:00Z", Some("1"), Some("0.5"));
        let b = sms("2026-11-01T00:00:00Z", Some("2"), None);
        let base = hash(&[a.clone(), b.clone()]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(&[b.clone(), a.clone()]));
        assert_ne!(base, hash(std::slice::from_ref(&a)));
        assert_ne!(base, hash(&[a.clone(), b.clone(), b.clone()]));
        // Re-rated, re-timed, a null that became empty text: all changes.
        assert_ne!(
            base,
            hash(&[
                sms("2026-11-01T00:00:00Z", Some("1"), Some("0.6")),
                b.clone()
            ])
        );
        assert_ne!(
            base,
            hash(&[
                sms("2026-11-01T00:00:00.000001Z", Some("1"), Some("0.5")),
                b.clone()
            ])
        );
        assert_ne!(
            base,
            hash(&[a.clone(), sms("2026-11-01T00:00:00Z", Some("2"), Some("0"))])
        );
        assert_ne!(
            hash(&[sms("2026-11-01T00:00:00Z", None, None)]),
            hash(&[sms("2026-11-01T00:00:00Z", Some(""), None)])
        );
        // The scale a decimal was written with does not matter.
        assert_eq!(
            base,
            hash(&[sms("2026-11-01T00:00:00Z", Some("1"), Some("0.50")), b])
        );
        assert_eq!(hash(&[]), "0".repeat(64));
    }

    proptest::proptest! {
        #[test]
        fn padded_in_place_sha256_equals_the_hasher(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let want: [u8; 32] = Sha256::digest(&data).into();
            let mut buf = data.clone();
            proptest::prop_assert_eq!(sha256_in_place(&mut buf), want);
        }

        #[test]
        fn decimal_text_is_the_normalized_display(
            mantissa in proptest::prelude::any::<i128>(),
            scale in 0u32..=28,
        ) {
            // Every mantissa Decimal can hold: 96 bits and a sign.
            let m = mantissa % (1i128 << 96);
            let d = Decimal::from_i128_with_scale(m, scale);
            let mut out = [0u8; DECIMAL_TEXT];
            let n = normalized_text(d, &mut out);
            proptest::prop_assert_eq!(
                std::str::from_utf8(&out[..n]).unwrap(),
                d.normalize().to_string()
            );
        }
    }

    #[test]
    fn padded_in_place_sha256_at_every_block_boundary() {
        for len in 0..=200usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let want: [u8; 32] = Sha256::digest(&data).into();
            let mut buf = data.clone();
            assert_eq!(sha256_in_place(&mut buf), want, "length {len}");
        }
    }

    /// Ledgers keep these hashes: the canonical form must never change.
    #[test]
    fn hashes_are_stable_across_versions() {
        let records = [
            sms(
                "2026-11-01T00:00:00.123456789Z",
                Some("+15551234567"),
                Some("-0.00350"),
            ),
            sms("2026-11-01T00:00:01Z", None, Some("1234567890.1")),
            sms("1969-12-31T23:59:59.5Z", Some("Zürich, \"q\"\n"), None),
        ];
        assert_eq!(hash(&records), GOLDEN);
    }

    const GOLDEN: &str = "2397c51cabb49131dbe0f73cf9f0cbc974ff1abce23afc1963c92b60857fb1fd";

    #[test]
    fn decimal_text_of_edges() {
        for (text, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("-0.00001", "-0.00001"),
            ("1.50", "1.5"),
            ("100", "100"),
            ("-1234567890.12345", "-1234567890.12345"),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            (
                "-7.9228162514264337593543950335",
                "-7.9228162514264337593543950335",
            ),
        ] {
            let d = parse_decimal(text).unwrap();
            let mut out = [0u8; DECIMAL_TEXT];
            let n = normalized_text(d, &mut out);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), want, "{text}");
            assert_eq!(d.normalize().to_string(), want, "{text}");
        }
    }

    #[test]
    fn the_sum_carries_across_limbs_and_wraps() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let mut h = ContentHash::new();
        h.sum = [u64::MAX, u64::MAX, 0, 0];
        h.add_digest(&one);
        assert_eq!(h.sum, [0, 0, 1, 0]);
        h.sum = [u64::MAX; 4];
        h.add_digest(&one);
        assert_eq!(h.sum, [0; 4]);
        let mut top = [0u8; 32];
        top[0] = 0x80;
        h.add_digest(&top);
        assert!(h.hex().starts_with("80") && h.hex().ends_with("00"));
    }
}
