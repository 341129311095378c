//! Where pages come from. The pipeline sees only [`PageSource`]; the HTTP client
//! of `cdr-transport` is one implementation ([`crate::TransportSource`]), an
//! in-memory one serves unit tests.

use futures_util::stream::BoxStream;

use cdr_core::Cdr;

use crate::plan::Unit;

/// The known records of one page, and the elements of union members this
/// version does not know.
#[derive(Debug, Clone, Default)]
pub struct PageData {
    pub records: Vec<Cdr>,
    pub unknown: Vec<cdr_core::UnknownMember>,
    /// Requests retried while fetching this page.
    pub retries: u64,
}

/// A failure to fetch a page; the message is safe to print (no secrets).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub Box<dyn std::error::Error + Send + Sync>);

/// A lazy stream of a unit's pages, in server order, ending after the last page.
pub type PageStream = BoxStream<'static, Result<PageData, SourceError>>;

/// Produces the pages of a unit.
pub trait PageSource: Send + Sync {
    /// The pages of `unit`, from the first.
    fn pages(&self, unit: &Unit) -> PageStream;

    /// Takes back the records of a page that the caller is done with, so that
    /// a later page can reuse their memory. Sources that do not reuse memory
    /// drop them.
    fn recycle(&self, records: Vec<Cdr>) {
        drop(records);
    }
}
