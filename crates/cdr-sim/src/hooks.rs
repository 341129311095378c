//! What tests inject into the data a server lists, beyond the generated and
//! late records: members of a type the client does not know, values that
//! cannot be stored, records that vanish or are re-rated. Each is a pure
//! function of its settings and a record's position, so that pages, exports
//! and [`SimHandle::ground_truth`](crate::SimHandle::ground_truth) agree, and
//! [`SimHandle::injected`](crate::SimHandle::injected) says what a window
//! holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cdr_core::{CdrType, RecordKind};
use rust_decimal::Decimal;

use crate::data::Key;

/// Elements served as a member of the `Cdr` union that clients have no
/// fragment for (a product added to the union after they were written).
///
/// Such an element is served *instead of* a generated record: the record
/// keeps its place in the listing (and in cursors) but is written as this
/// member, with only what a GraphQL server sends for a member the document
/// has no fragment for, the `__typename` selected outside the fragments:
/// `{"__typename":"RcsCdr"}`. It is not in the ground truth (no archive can
/// hold it) nor in exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMembers {
    /// The member's `__typename`, e.g. `RcsCdr`.
    pub typename: String,
    /// The types whose listings carry such members; empty means every type.
    pub types: Vec<CdrType>,
    /// Generated records `n - 1`, `2n - 1`, ... of every hour (counted from
    /// 0 in the hour's order) are served as this member; 1 serves all.
    pub every_nth: u64,
}

impl UnknownMembers {
    /// Checks that the name is a GraphQL name that is not one of the known
    /// members, and that `every_nth` is at least 1.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let name = &self.typename;
        let graphql_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !graphql_name || RecordKind::from_typename(name).is_some() {
            return Err(crate::SimError::Config(format!(
                "unknown member `{name}`: give a GraphQL type name other than ApiCdr, MessageCdr and VoiceCdr"
            )));
        }
        if self.every_nth == 0 {
            return Err(crate::SimError::Config(
                "unknown member: every_nth must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Whether the listing of `t` carries such members.
    pub(crate) fn applies_to(&self, t: CdrType) -> bool {
        self.types.is_empty() || self.types.contains(&t)
    }
}

/// How a GraphQL request with an expired login token is answered: the HTTP
/// status, and a body `{"data":null,"errors":[{"message":..,"extensions":{"code":..}}]}`
/// (`extensions` only with a code). Servers word this differently; the
/// default is HTTP 200 with `unauthenticated: the token has expired, log in
/// again` and the code `UNAUTHENTICATED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredAnswer {
    /// 200, 400, 401 or 403 are what servers use; any status from 100 to
    /// 999 is sent as given (others as 200).
    pub status: u16,
    pub message: String,
    /// `extensions.code`, when there is one.
    pub code: Option<String>,
}

impl ExpiredAnswer {
    /// An answer of `status` with `message` and an optional code.
    pub fn new(status: u16, message: &str, code: Option<&str>) -> ExpiredAnswer {
        ExpiredAnswer {
            status,
            message: message.to_string(),
            code: code.map(str::to_string),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let mut error = serde_json::json!({ "message": self.message });
        if let Some(code) = &self.code {
            error["extensions"] = serde_json::json!({ "code": code });
        }
        serde_json::to_vec(&serde_json::json!({ "data": null, "errors": [error] }))
            .unwrap_or_default()
    }
}

impl Default for ExpiredAnswer {
    fn default() -> Self {
        ExpiredAnswer::new(
            200,
            "unauthenticated: the token has expired, log in again",
            Some("UNAUTHENTICATED"),
        )
    }
}

/// What a window's listing holds besides the records an archive should
/// hold (see [`SimHandle::injected`](crate::SimHandle::injected)). Positions
/// count every element the server lists for the window, from 0: with one page
/// of at least that many, they are the indices in the page's `cdrs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// Elements served as a member of unknown type, per `__typename`.
    pub unknown: BTreeMap<String, u64>,
    /// Records served with a value that cannot be stored: position and
    /// GraphQL field.
    pub corrupt: Vec<(u64, String)>,
    /// Records of another member than the type's: position and member.
    pub wrong_member: Vec<(u64, RecordKind)>,
}

impl Injected {
    /// Every injected element.
    pub fn total(&self) -> u64 {
        self.unknown.values().sum::<u64>()
            + self.corrupt.len() as u64
            + self.wrong_member.len() as u64
    }
}

/// A column's value replaced by JSON text, with the text an export shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Override {
    pub column: usize,
    pub json: String,
    pub csv: String,
}

/// The hooks of one type's listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct TypeHooks {
    /// Datetime ranges `[start, end)` in ns whose records are gone.
    removed: Vec<(i64, i64)>,
    /// Datetime ranges `[start, end)` in ns whose charges change by an amount.
    rerates: Vec<(i64, i64, Decimal)>,
    /// The unknown member's name and its `every_nth`.
    unknown: Option<(Arc<str>, u64)>,
    /// Values replaced, per record.
    corrupt: HashMap<Key, Vec<Override>>,
}

impl TypeHooks {
    /// Whether pages need the hand-written writer: unknown members and
    /// replaced values cannot be expressed in the schema's types.
    pub(crate) fn changes_rendering(&self) -> bool {
        self.unknown.is_some() || !self.corrupt.is_empty()
    }

    /// When `ns` lies in a removed range, where the range ends.
    #[inline]
    pub(crate) fn removed_until(&self, ns: i64) -> Option<i64> {
        self.removed
            .iter()
            .filter(|(a, b)| (*a..*b).contains(&ns))
            .map(|(_, b)| *b)
            .max()
    }

    /// Whether any charge changes.
    #[inline]
    pub(crate) fn has_rerates(&self) -> bool {
        !self.rerates.is_empty()
    }

    /// The change of a charge at `ns`, when any.
    #[inline]
    pub(crate) fn charge_delta(&self, ns: i64) -> Option<Decimal> {
        if self.rerates.is_empty() {
            return None;
        }
        self.rerates
            .iter()
            .filter(|(a, b, _)| (*a..*b).contains(&ns))
            .map(|(_, _, d)| *d)
            .reduce(|x, y| x + y)
    }

    /// The unknown member a generated record with `id` is served as.
    #[inline]
    pub(crate) fn unknown_for(&self, id: u64) -> Option<&str> {
        match &self.unknown {
            Some((name, n)) if (id % *n) + 1 == *n => Some(name),
            _ => None,
        }
    }

    /// The replaced values of the record at `key`.
    #[inline]
    pub(crate) fn overrides(&self, key: &Key) -> Option<&[Override]> {
        if self.corrupt.is_empty() {
            return None;
        }
        self.corrupt.get(key).map(Vec::as_slice)
    }

    pub(crate) fn remove(&mut self, start: i64, end: i64) {
        if start < end {
            self.removed.push((start, end));
        }
    }

    pub(crate) fn rerate(&mut self, start: i64, end: i64, delta: Decimal) {
        if start < end {
            self.rerates.push((start, end, delta));
        }
    }

    pub(crate) fn set_unknown(&mut self, unknown: Option<&UnknownMembers>) {
        self.unknown = unknown.map(|u| (Arc::from(u.typename.as_str()), u.every_nth.max(1)));
    }

    pub(crate) fn corrupt(&mut self, key: Key, value: Override) {
        let list = self.corrupt.entry(key).or_default();
        list.retain(|o| o.column != value.column);
        list.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_half_open_and_add_up() {
        let mut h = TypeHooks::default();
        h.remove(10, 20);
        h.remove(15, 30);
        assert_eq!(h.removed_until(9), None);
        assert_eq!(h.removed_until(10), Some(20));
        assert_eq!(h.removed_until(17), Some(30));
        assert_eq!(h.removed_until(30), None);
        h.rerate(0, 10, Decimal::new(5, 1));
        h.rerate(5, 10, Decimal::new(1, 2));
        assert_eq!(h.charge_delta(4), Some(Decimal::new(5, 1)));
        assert_eq!(h.charge_delta(5), Some(Decimal::new(51, 2)));
        assert_eq!(h.charge_delta(10), None);
    }

    #[test]
    fn every_nth_counts_from_the_start_of_the_hour() {
        let mut h = TypeHooks::default();
        h.set_unknown(Some(&UnknownMembers {
            typename: "RcsCdr".into(),
            types: vec![],
            every_nth: 3,
        }));
        let picked: Vec<u64> = (0..10).filter(|i| h.unknown_for(*i).is_some()).collect();
        assert_eq!(picked, [2, 5, 8]);
        assert!(h.changes_rendering());
    }

    #[test]
    fn expired_answers_are_graphql_errors() {
        let body = ExpiredAnswer::new(401, "jwt expired", None).body();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"data":null,"errors":[{"message":"jwt expired"}]}"#
        );
        let v: serde_json::Value =
            serde_json::from_slice(&ExpiredAnswer::default().body()).unwrap();
        assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
}
