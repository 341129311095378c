//! What a decoded page holds: the records of the member asked for, the
//! members of unknown type and the records that cannot be stored.

use crate::record::Cdr;
use crate::secret::ExportLink;

/// A union member whose `__typename` this version does not know (a product
/// added after it was written). It is not an error of the page: its records
/// cannot be stored, and the caller decides what that means for its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMember {
    /// Position in the page's `cdrs` list.
    pub index: usize,
    /// The `__typename` the server sent (empty when it sent none).
    pub typename: String,
}

/// A record of a known member that cannot be stored as it is: a value that
/// cannot be read (a charge of `"N/A"`, a datetime that is not RFC 3339, a
/// `sessionTime` that is not a whole number), money that does not fit the
/// archive's columns ([`check_money`](crate::check_money)), text longer than
/// the limit ([`MAX_TEXT_BYTES`](crate::MAX_TEXT_BYTES) unless set
/// otherwise), or a member other than the one the query asked for. It is not
/// an error of the page: the caller decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Position in the page's `cdrs` list.
    pub index: usize,
    /// The `__typename` the server sent (empty when it was not a string).
    pub typename: String,
    /// The GraphQL field at fault, or `__typename` for a wrong member.
    pub field: String,
    /// What is wrong, in a short sentence.
    pub message: String,
    /// The element's JSON text, as the server sent it.
    pub raw: String,
}

/// One decoded page of `cdrRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R = Cdr> {
    /// Records of the member the query asked for, in server order.
    pub records: Vec<R>,
    /// Members of unknown type.
    pub unknown: Vec<UnknownMember>,
    /// Records that cannot be stored as they are.
    pub bad: Vec<BadRecord>,
    /// `paginationInfo.nextCursor`; `None` ends the pagination.
    pub next_cursor: Option<String>,
    /// `paginationInfo.limit` as the server echoed it.
    pub limit: Option<u32>,
    /// `exportLink`, when selected.
    pub export_link: Option<ExportLink>,
}

impl<R> Page<R> {
    /// Number of union elements in the page: records, unknown members and
    /// bad records.
    pub fn len(&self) -> usize {
        self.records.len() + self.unknown.len() + self.bad.len()
    }

    /// Whether the page holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one element of `cdrs` is.
#[allow(clippy::large_enum_variant)] // built once per element and moved straight out
pub(crate) enum Member {
    Known(Cdr),
    Unknown(UnknownMember),
    Bad(BadRecord),
}

impl Page {
    pub(crate) fn push(&mut self, member: Member) {
        match member {
            Member::Known(r) => self.records.push(r),
            Member::Unknown(m) => self.unknown.push(m),
            Member::Bad(b) => self.bad.push(b),
        }
    }
}
