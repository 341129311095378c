//! The content hash of a unit's records, kept in its ledger entry so that a
//! rescan can tell whether a window changed without comparing files.
//!
//! Each record is written in a canonical binary form (its kind, then every
//! column of [`RecordKind::columns`] as a typed value: timestamps to the
//! nanosecond, decimals normalised so that `1.50` and `1.5` are equal) and
//! that form is digested; the content hash is the sum of the digests. A sum
//! does not depend on the order in which records come (the API does not
//! promise an order among records of the same datetime), yet counts each
//! record as often as it occurs.
//!
//! Two definitions exist ([`HashVersion`]), over the same canonical form:
//!
//! - **version 1**: SHA-256 of each record, summed modulo 2^256, as 64
//!   lowercase hex digits. Written by cdr-sink before version 2 existed and
//!   still computed to check such entries.
//! - **version 2** (written now): XXH3-128 (seed 0) of each record, summed
//!   modulo 2^128, as 32 lowercase hex digits. It costs a sixth of SHA-256
//!   (with the CPU's SHA instructions) on canonical forms of about 110 (SMS)
//!   to 190 (VOICE) bytes, see `docs/performance.md`.
//!
//! Version 2 is enough because the hash guards against accidental change
//! (a re-rated charge, a late or vanished record), not against an adversary:
//! the API's answers are what is archived anyway, and nobody gains by forging
//! records whose digests cancel. For records not chosen to collide, XXH3-128
//! digests behave as independent uniform 128-bit values, so a change to a
//! window's records (any number of records, with the same count, which the
//! rescan compares too) leaves the sum as it was with probability 2^-128,
//! about 3 x 10^-39. Only changes that hit 2^k identical copies of a record
//! alike weaken that, to 2^(k-128), and a window holds fewer than 2^32
//! records: at worst 2^-97, about 6 x 10^-30. A million windows rescanned
//! every hour for a million years (9 x 10^15 checks) would miss a change with
//! probability below 10^-13 even then.
//!
//! [`RecordKind::columns`]: cdr_core::RecordKind::columns

use cdr_core::rust_decimal::Decimal;
use cdr_core::{Cdr, RecordKind, Value};
use sha2::{Digest, Sha256};

/// Which definition of the content hash (module documentation); a ledger
/// entry records the one its hash was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum HashVersion {
    /// SHA-256 per record, summed modulo 2^256.
    V1,
    /// XXH3-128 per record, summed modulo 2^128: what new entries hold.
    #[default]
    V2,
}

impl HashVersion {
    /// The version new ledger entries are written with.
    pub const CURRENT: HashVersion = HashVersion::V2;

    /// The number a ledger entry stores.
    pub fn number(self) -> u32 {
        match self {
            HashVersion::V1 => 1,
            HashVersion::V2 => 2,
        }
    }

    /// The version numbered `n`, if this cdr-sink knows it.
    pub fn from_number(n: u32) -> Option<HashVersion> {
        match n {
            1 => Some(HashVersion::V1),
            2 => Some(HashVersion::V2),
            _ => None,
        }
    }
}

/// The running content hash of a set of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHash {
    sum: Sum,
    records: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sum {
    /// Little-endian 64-bit limbs of the sum modulo 2^256.
    V1([u64; 4]),
    /// The sum modulo 2^128.
    V2(u128),
}

impl Default for ContentHash {
    fn default() -> Self {
        ContentHash::of_version(HashVersion::CURRENT)
    }
}

impl ContentHash {
    /// An empty hash of the [current](HashVersion::CURRENT) version.
    pub fn new() -> ContentHash {
        ContentHash::default()
    }

    /// An empty hash of `version`, to compare with an entry of that version.
    pub fn of_version(version: HashVersion) -> ContentHash {
        let sum = match version {
            HashVersion::V1 => Sum::V1([0; 4]),
            HashVersion::V2 => Sum::V2(0),
        };
        ContentHash { sum, records: 0 }
    }

    /// The definition this hash follows.
    pub fn version(&self) -> HashVersion {
        match self.sum {
            Sum::V1(_) => HashVersion::V1,
            Sum::V2(_) => HashVersion::V2,
        }
    }

    /// Adds one record.
    pub fn add(&mut self, record: &Cdr) {
        self.add_all(std::slice::from_ref(record));
    }

    /// Adds every record of `records`.
    pub fn add_all(&mut self, records: &[Cdr]) {
        let mut buf = Vec::with_capacity(256);
        match &mut self.sum {
            Sum::V1(sum) => {
                for r in records {
                    buf.clear();
                    canonical(r, &mut buf);
                    add_256(sum, &Sha256::digest(&buf).into());
                }
            }
            Sum::V2(sum) => {
                for r in records {
                    buf.clear();
                    canonical(r, &mut buf);
                    *sum = sum.wrapping_add(xxhash_rust::xxh3::xxh3_128(&buf));
                }
            }
        }
        self.records += records.len() as u64;
    }

    /// How many records were added.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The hash as lowercase hex digits: 64 for version 1, 32 for version 2.
    pub fn hex(&self) -> String {
        match &self.sum {
            Sum::V1(sum) => {
                let mut bytes = [0u8; 32];
                for (i, limb) in sum.iter().enumerate() {
                    let at = 32 - 8 * (i + 1);
                    bytes[at..at + 8].copy_from_slice(&limb.to_be_bytes());
                }
                crate::hex::hex(&bytes)
            }
            Sum::V2(sum) => format!("{sum:032x}"),
        }
    }
}

/// Adds a big-endian 256-bit number to `sum`, modulo 2^256.
fn add_256(sum: &mut [u64; 4], digest: &[u8; 32]) {
    let mut carry = 0u64;
    for (i, limb) in sum.iter_mut().enumerate() {
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

/// Writes the decimal digits of `m`, least significant first, into `rev`
/// and returns how many.
fn reversed_digits<T>(mut m: T, rev: &mut [u8; 40]) -> usize
where
    T: Copy + PartialEq + From<u8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
    u8: TryFrom<T>,
{
    let (zero, ten) = (T::from(0), T::from(10));
    let mut n = 0;
    loop {
        rev[n] = b'0' + u8::try_from(m % ten).unwrap_or(0);
        m = m / ten;
        n += 1;
        if m == zero {
            return n;
        }
    }
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
    // The magnitude's digits, least significant first; in 64-bit arithmetic
    // when it fits (all money the API sends), where division by ten is a
    // multiplication rather than a 128-bit division.
    let m = d.mantissa().unsigned_abs();
    let mut rev = [0u8; 40];
    let mut n = match u64::try_from(m) {
        Ok(m) => reversed_digits(m, &mut rev),
        Err(_) => reversed_digits(m, &mut rev),
    };
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
            from_number: from.map(Into::into),
            to_number: None,
            direction: None,
            status: None,
            charge: charge.map(|c| parse_decimal(c).unwrap()),
            r#type: None,
        })
    }

    fn hash_of(version: HashVersion, records: &[Cdr]) -> String {
        let mut h = ContentHash::of_version(version);
        h.add_all(records);
        assert_eq!(h.records(), records.len() as u64);
        h.hex()
    }

    fn hash(records: &[Cdr]) -> String {
        hash_of(HashVersion::CURRENT, records)
    }

    #[test]
    fn order_does_not_matter_but_every_value_and_multiplicity_does() {
        for (version, digits) in [(HashVersion::V1, 64), (HashVersion::V2, 32)] {
            let hash = |records: &[Cdr]| hash_of(version, records);
            let a = sms("2026-11-01T00:00:00Z", Some("1"), Some("0.5"));
            let b = sms("2026-11-01T00:00:00Z", Some("2"), None);
            let base = hash(&[a.clone(), b.clone()]);
            assert_eq!(base.len(), digits);
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
            assert_eq!(hash(&[]), "0".repeat(digits));
        }
    }

    #[test]
    fn versions_are_numbered_and_new_hashes_are_version_2() {
        for v in [HashVersion::V1, HashVersion::V2] {
            assert_eq!(HashVersion::from_number(v.number()), Some(v));
            assert_eq!(ContentHash::of_version(v).version(), v);
        }
        assert_eq!(HashVersion::from_number(0), None);
        assert_eq!(HashVersion::from_number(3), None);
        assert_eq!(HashVersion::CURRENT, HashVersion::V2);
        assert_eq!(ContentHash::new().version(), HashVersion::V2);
        assert_eq!(ContentHash::default(), ContentHash::new());
        let r = sms("2026-11-01T00:00:00Z", Some("1"), Some("0.5"));
        let mut one = ContentHash::new();
        one.add(&r);
        assert_eq!(one.hex(), hash(std::slice::from_ref(&r)));
    }

    proptest::proptest! {
        #[test]
        fn decimal_text_is_the_normalized_display(
            mantissa in proptest::prelude::any::<i128>(),
            scale in 0u32..=28,
        ) {
            // Every mantissa Decimal can hold (96 bits and a sign), and one
            // that fits 64 bits, which takes the other path.
            for m in [mantissa % (1i128 << 96), mantissa % (1i128 << 64)] {
                let d = Decimal::from_i128_with_scale(m, scale);
                let mut out = [0u8; DECIMAL_TEXT];
                let n = normalized_text(d, &mut out);
                proptest::prop_assert_eq!(
                    std::str::from_utf8(&out[..n]).unwrap(),
                    d.normalize().to_string()
                );
            }
        }
    }

    fn golden_records() -> [Cdr; 3] {
        [
            sms(
                "2026-11-01T00:00:00.123456789Z",
                Some("+15551234567"),
                Some("-0.00350"),
            ),
            sms("2026-11-01T00:00:01Z", None, Some("1234567890.1")),
            sms("1969-12-31T23:59:59.5Z", Some("Zürich, \"q\"\n"), None),
        ]
    }

    /// Ledgers keep these hashes: neither the canonical form nor either
    /// definition may ever change. Both values were also computed apart
    /// from this code (Python's hashlib and the xxhash package, over the
    /// canonical bytes written out by hand).
    #[test]
    fn hashes_are_stable_across_versions() {
        let records = golden_records();
        assert_eq!(hash_of(HashVersion::V1, &records), GOLDEN_V1);
        assert_eq!(hash_of(HashVersion::V2, &records), GOLDEN_V2);
    }

    const GOLDEN_V1: &str = "2397c51cabb49131dbe0f73cf9f0cbc974ff1abce23afc1963c92b60857fb1fd";
    const GOLDEN_V2: &str = "f48e50e695cccf8d23ac7977e652bb20";

    #[test]
    fn the_canonical_form_is_typed_and_length_prefixed() {
        let mut out = Vec::new();
        canonical(
            &sms("1970-01-01T00:00:01.5Z", Some("ab"), Some("1.50")),
            &mut out,
        );
        let mut want = b"MT".to_vec();
        want.extend_from_slice(&1i64.to_be_bytes());
        want.extend_from_slice(&500_000_000u32.to_be_bytes());
        want.push(b'S');
        want.extend_from_slice(&2u64.to_be_bytes());
        want.extend_from_slice(b"ab");
        want.extend_from_slice(b"NNN"); // to_number, direction, status
        want.push(b'D');
        want.extend_from_slice(&3u64.to_be_bytes());
        want.extend_from_slice(b"1.5");
        want.push(b'N'); // type
        assert_eq!(out, want);
    }

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
    fn the_sums_carry_and_wrap() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let mut sum = [u64::MAX, u64::MAX, 0, 0];
        add_256(&mut sum, &one);
        assert_eq!(sum, [0, 0, 1, 0]);
        let mut sum = [u64::MAX; 4];
        add_256(&mut sum, &one);
        assert_eq!(sum, [0; 4]);
        let mut top = [0u8; 32];
        top[0] = 0x80;
        add_256(&mut sum, &top);
        let h = ContentHash {
            sum: Sum::V1(sum),
            records: 0,
        };
        assert!(h.hex().starts_with("80") && h.hex().ends_with("00"));

        // Version 2: a digest added to 2^128 - 1 is that digest less one.
        let r = sms("2026-11-01T00:00:00Z", Some("1"), None);
        let digest = u128::from_str_radix(&hash(std::slice::from_ref(&r)), 16).unwrap();
        let mut h = ContentHash {
            sum: Sum::V2(u128::MAX),
            records: 0,
        };
        h.add(&r);
        assert_eq!(h.hex(), format!("{:032x}", digest.wrapping_sub(1)));
    }
}
