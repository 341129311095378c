//! The sans-I/O pagination state machine for `cdrRecords`.
//!
//! The [`Paginator`] says which request to send next ([`Paginator::next_request`])
//! and checks each page it is handed ([`Paginator::on_page`]); it never performs
//! I/O. Its position can be saved and restored with [`Checkpoint`].

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cdr_type::CdrType;
use crate::record::Timestamped;
use crate::response::Page;
use crate::window::Window;

/// A page size accepted by the API: 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Limit(u32);

/// A page size outside 1..=1000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit {0} is out of range: use a page size from 1 to 1000")]
pub struct LimitError(pub i64);

impl Limit {
    /// The largest page the API serves.
    pub const MAX: Limit = Limit(1000);
    /// The API's default page size.
    pub const API_DEFAULT: Limit = Limit(100);

    /// Checks `n` against 1..=1000.
    pub fn new(n: i64) -> Result<Limit, LimitError> {
        if (1..=1000).contains(&n) {
            Ok(Limit(n as u32))
        } else {
            Err(LimitError(n))
        }
    }

    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Limit {
    type Error = LimitError;
    fn try_from(n: u32) -> Result<Limit, LimitError> {
        Limit::new(i64::from(n))
    }
}

impl From<Limit> for u32 {
    fn from(l: Limit) -> u32 {
        l.0
    }
}

/// What is listed: one type over one window, in pages of `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    pub cdr_type: CdrType,
    pub window: Window,
    pub limit: Limit,
    /// Only admin users may pass it.
    pub company_id: Option<String>,
}

/// The next request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<'a> {
    /// `None` for the first page.
    pub cursor: Option<&'a str>,
    pub limit: Limit,
    /// 0-based number of the page this request fetches.
    pub page: u64,
}

/// A page that breaks the pagination contract. None of these is retryable as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaginationError {
    #[error("page {page} holds {got} records, more than the limit of {limit}")]
    PageTooLarge { page: u64, got: usize, limit: u32 },
    #[error("page {page}, record {index}: datetime {datetime} lies outside the window {window}")]
    OutsideWindow {
        page: u64,
        index: usize,
        datetime: DateTime<Utc>,
        window: Window,
    },
    #[error("page {page} returned a cursor already seen: the server is looping")]
    RepeatedCursor { page: u64 },
    #[error("a page was handed to a finished paginator")]
    Finished,
}

/// A saved position of a [`Paginator`], to resume it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Checkpoint {
    /// The cursor for the next page (`None` before the first page or at the end).
    pub cursor: Option<String>,
    /// Pages consumed so far.
    pub pages: u64,
    /// Known records consumed so far.
    pub records: u64,
    /// Union members of unknown type skipped so far.
    pub skipped: u64,
    /// Whether the last page (with `nextCursor: null`) was consumed.
    pub finished: bool,
    /// Fingerprints of every cursor seen, to detect loops.
    pub seen: Vec<u64>,
}

/// The pagination state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Paginator {
    query: PageQuery,
    cursor: Option<String>,
    pages: u64,
    records: u64,
    skipped: u64,
    finished: bool,
    seen: HashSet<u64>,
}

fn fingerprint(cursor: &str) -> u64 {
    // DefaultHasher::new() uses fixed keys, so fingerprints are stable in a
    // checkpoint written by one run and read by the next.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    cursor.hash(&mut h);
    h.finish()
}

impl Paginator {
    /// A paginator at the first page.
    pub fn new(query: PageQuery) -> Paginator {
        Paginator::resume(query, Checkpoint::default())
    }

    /// A paginator at a saved position.
    pub fn resume(query: PageQuery, cp: Checkpoint) -> Paginator {
        Paginator {
            query,
            cursor: cp.cursor,
            pages: cp.pages,
            records: cp.records,
            skipped: cp.skipped,
            finished: cp.finished,
            seen: cp.seen.into_iter().collect(),
        }
    }

    /// The query being paged.
    pub fn query(&self) -> &PageQuery {
        &self.query
    }

    /// The request to send next, or `None` once the last page was consumed.
    pub fn next_request(&self) -> Option<PageRequest<'_>> {
        (!self.finished).then_some(PageRequest {
            cursor: self.cursor.as_deref(),
            limit: self.query.limit,
            page: self.pages,
        })
    }

    /// Checks a page against the contract and advances. On error the paginator
    /// does not advance: the same request can be sent again.
    pub fn on_page<R: Timestamped>(&mut self, page: &Page<R>) -> Result<(), PaginationError> {
        if self.finished {
            return Err(PaginationError::Finished);
        }
        let n = self.pages;
        let limit = self.query.limit.get();
        if page.len() > limit as usize {
            return Err(PaginationError::PageTooLarge {
                page: n,
                got: page.len(),
                limit,
            });
        }
        let window = self.query.window;
        if let Some((index, r)) = page
            .records
            .iter()
            .enumerate()
            .find(|(_, r)| !window.contains(r.datetime()))
        {
            return Err(PaginationError::OutsideWindow {
                page: n,
                index,
                datetime: r.datetime(),
                window,
            });
        }
        let next_fp = page.next_cursor.as_deref().map(fingerprint);
        if let Some(fp) = next_fp {
            let current = self.cursor.as_deref().map(fingerprint);
            if current == Some(fp) || self.seen.contains(&fp) {
                return Err(PaginationError::RepeatedCursor { page: n });
            }
        }
        if let Some(fp) = self.cursor.as_deref().map(fingerprint) {
            self.seen.insert(fp);
        }
        self.pages += 1;
        self.records += page.records.len() as u64;
        self.skipped += page.unknown.len() as u64;
        self.cursor = page.next_cursor.clone();
        self.finished = next_fp.is_none();
        Ok(())
    }

    /// Whether the last page was consumed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Pages consumed so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Known records consumed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Unknown union members skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The current position, to [`Paginator::resume`] later.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut seen: Vec<u64> = self.seen.iter().copied().collect();
        seen.sort_unstable();
        Checkpoint {
            cursor: self.cursor.clone(),
            pages: self.pages,
            records: self.records,
            skipped: self.skipped,
            finished: self.finished,
            seen,
        }
    }
}

#[cfg(test)]
mod tests;
