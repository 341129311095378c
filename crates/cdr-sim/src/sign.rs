//! Tamper-proof tokens of one server: opaque cursors bound to their query,
//! signed export links and issued login tokens, all HMAC-SHA256 with a key
//! drawn when the server starts (so another server's cursors are refused).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cdr_core::CdrType;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::data::Key;

const CURSOR_VERSION: u8 = 1;
const CURSOR_PAYLOAD: usize = 17;
const TAG: usize = 32;

/// What a cursor or an export link is bound to: type, window and company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub t: CdrType,
    pub start_ns: i64,
    pub end_ns: i64,
    /// The company listed: the basic user's own, or the admin's `companyId`.
    pub company: Option<String>,
}

/// The signing key of one server.
pub(crate) struct Signer {
    /// One SHA-256 block: HMAC uses a key of this size as it is.
    key: [u8; 64],
}

impl Signer {
    /// A fresh key, different for every server started (mixes the seed, the
    /// clock, the process id and a process-wide counter).
    pub(crate) fn fresh(seed: u64) -> Signer {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let mut h = Sha256::new();
        h.update(b"cdr-sim key");
        h.update(seed.to_le_bytes());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(STARTED.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let first: [u8; 32] = h.finalize().into();
        let second: [u8; 32] = Sha256::digest(first).into();
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&first);
        key[32..].copy_from_slice(&second);
        Signer { key }
    }

    /// A MAC over `domain` and `parts`, to finalise into a tag or verify one.
    fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&self.key.into());
        mac.update(domain);
        for p in parts {
            // Length prefixes keep distinct part lists from colliding.
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac
    }

    fn scope_mac(&self, domain: &[u8], scope: &Scope, extra: &[u8]) -> Hmac<Sha256> {
        let company: &[u8] = match &scope.company {
            Some(c) => c.as_bytes(),
            None => &[],
        };
        self.mac(
            domain,
            &[
                scope.t.as_str().as_bytes(),
                &scope.start_ns.to_be_bytes(),
                &scope.end_ns.to_be_bytes(),
                &[u8::from(scope.company.is_some())],
                company,
                extra,
            ],
        )
    }

    /// An opaque cursor: the position after which the next page starts, with
    /// a tag over the position and the query it belongs to.
    pub(crate) fn cursor(&self, scope: &Scope, pos: Key) -> String {
        let mut buf = [0u8; CURSOR_PAYLOAD + TAG];
        buf[0] = CURSOR_VERSION;
        buf[1..9].copy_from_slice(&pos.ns.to_be_bytes());
        buf[9..17].copy_from_slice(&pos.id.to_be_bytes());
        let tag = self
            .scope_mac(b"cursor", scope, &buf[..CURSOR_PAYLOAD])
            .finalize()
            .into_bytes();
        buf[CURSOR_PAYLOAD..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// The position of a cursor made by [`Signer::cursor`] for this same scope;
    /// `None` when modified, foreign or bound to another query.
    pub(crate) fn open_cursor(&self, scope: &Scope, text: &str) -> Option<Key> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        if bytes.len() != CURSOR_PAYLOAD + TAG || bytes[0] != CURSOR_VERSION {
            return None;
        }
        let (payload, tag) = bytes.split_at(CURSOR_PAYLOAD);
        self.scope_mac(b"cursor", scope, payload)
            .verify_slice(tag)
            .ok()?;
        Some(Key {
            ns: i64::from_be_bytes(payload[1..9].try_into().ok()?),
            id: u64::from_be_bytes(payload[9..17].try_into().ok()?),
        })
    }

    /// The signature of an export of `scope` with these field names.
    pub(crate) fn export_sig(&self, scope: &Scope, fields: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            self.scope_mac(b"export", scope, fields.as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `sig` is the signature of this export.
    pub(crate) fn check_export(&self, scope: &Scope, fields: &str, sig: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(sig.trim()) {
            Ok(given) => self
                .scope_mac(b"export", scope, fields.as_bytes())
                .verify_slice(&given)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// A login token (`POAPK_` and 32 base64url characters), unique per `seq`.
    pub(crate) fn token(&self, seq: u64) -> String {
        let tag = self
            .mac(b"token", &[&seq.to_be_bytes()])
            .finalize()
            .into_bytes();
        format!("POAPK_{}", URL_SAFE_NO_PAD.encode(&tag[..24]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            t: CdrType::Sms,
            start_ns: 0,
            end_ns: 3_600_000_000_000,
            company: Some("1".into()),
        }
    }

    #[test]
    fn cursors_round_trip_only_for_their_scope_and_server() {
        let s = Signer::fresh(1);
        let pos = Key { ns: 123, id: 7 };
        let c = s.cursor(&scope(), pos);
        assert_eq!(s.open_cursor(&scope(), &c), Some(pos));
        let others = [
            Scope {
                t: CdrType::Mms,
                ..scope()
            },
            Scope {
                start_ns: 1,
                ..scope()
            },
            Scope {
                end_ns: 1,
                ..scope()
            },
            Scope {
                company: None,
                ..scope()
            },
            Scope {
                company: Some("2".into()),
                ..scope()
            },
        ];
        for other in others {
            assert_eq!(s.open_cursor(&other, &c), None, "{other:?}");
        }
        assert_eq!(Signer::fresh(1).open_cursor(&scope(), &c), None);
        // Flipping any character of the cursor breaks it.
        for i in 0..c.len() {
            let mut t = c.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert_eq!(s.open_cursor(&scope(), &t), None, "{t}");
        }
        assert_eq!(s.open_cursor(&scope(), ""), None);
        assert_eq!(s.open_cursor(&scope(), "not base64 !"), None);
    }

    #[test]
    fn export_signatures_cover_fields_and_scope() {
        let s = Signer::fresh(1);
        let sig = s.export_sig(&scope(), "datetime,charge");
        assert!(s.check_export(&scope(), "datetime,charge", &sig));
        assert!(!s.check_export(&scope(), "datetime,status", &sig));
        assert!(!s.check_export(
            &Scope {
                company: None,
                ..scope()
            },
            "datetime,charge",
            &sig
        ));
        assert!(!s.check_export(&scope(), "datetime,charge", "AAAA"));
    }

    #[test]
    fn tokens_are_distinct() {
        let s = Signer::fresh(1);
        assert_ne!(s.token(1), s.token(2));
        assert!(s.token(1).starts_with("POAPK_"));
    }
}
