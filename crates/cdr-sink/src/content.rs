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

use sha2::{Digest, Sha256};

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
        let digest: [u8; 32] = Sha256::digest(canonical(record)).into();
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
        for r in records {
            self.add(r);
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

/// The canonical bytes of one record: unambiguous (typed, length-prefixed).
fn canonical(record: &Cdr) -> Vec<u8> {
    let kind = record.kind();
    let mut out = Vec::with_capacity(128);
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
                text(&mut out, &d.normalize().to_string());
            }
            Value::Int64(n) => {
                out.push(b'I');
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Str(s) => {
                out.push(b'S');
                text(&mut out, s);
            }
        }
    }
    out
}

fn text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
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
