//! Where pages come from. The pipeline sees only [`PageSource`]; the HTTP client
//! of `cdr-transport` is one implementation ([`crate::TransportSource`]), an
//! in-memory one serves unit tests.

use futures_util::stream::BoxStream;

use cdr_core::{BadRecord, Cdr, UnknownMember};

use crate::plan::Unit;

/// One page of a unit: the records of the unit's type, and the elements that
/// are not, which the caller must account for (they are never dropped
/// silently): members of a type this version does not know, and records
/// that cannot be stored as they are.
#[derive(Debug, Clone, Default)]
pub struct PageData {
    pub records: Vec<Cdr>,
    /// Union members of unknown type, with their position in the page.
    pub unknown: Vec<UnknownMember>,
    /// Records with a value that cannot be read or stored, or of another
    /// member than the unit's type.
    pub bad: Vec<BadRecord>,
    /// Requests retried while fetching this page.
    pub retries: u64,
}

/// A failure to fetch a page; the message is safe to print (no secrets).
///
/// Most failures concern one unit, and other units may still succeed
/// ([`SourceError::new`]). A fatal one ([`SourceError::fatal`]) says that no
/// unit can succeed until something changes (the API cannot be reached, the
/// credentials were refused), so a run stops rather than fail every unit.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SourceError {
    error: Box<dyn std::error::Error + Send + Sync>,
    fatal: bool,
}

impl SourceError {
    /// A failure of one unit's pages.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SourceError {
        SourceError {
            error: error.into(),
            fatal: false,
        }
    }

    /// A failure that every other unit of the run would meet too.
    pub fn fatal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SourceError {
        SourceError {
            error: error.into(),
            fatal: true,
        }
    }

    /// Whether the whole run should stop (see [`SourceError::fatal`]).
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }

    /// The underlying error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }
}

/// A lazy stream of a unit's pages, in server order, ending after the last page.
pub type PageStream = BoxStream<'static, Result<PageData, SourceError>>;

/// Produces the pages of a unit.
pub trait PageSource: Send + Sync {
    /// The pages of `unit`, from the first.
    fn pages(&self, unit: &Unit) -> PageStream;

    /// The limits its requests are admitted under, when it has them: the
    /// scheduler then runs as many units as they allow. Sources without
    /// (the default) run under the plan's own, which nothing adapts.
    fn throttle(&self) -> Option<cdr_transport::Throttle> {
        None
    }

    /// Takes back the records of a page that the caller is done with, so that
    /// a later page can reuse their memory. Sources that do not reuse memory
    /// drop them.
    fn recycle(&self, records: Vec<Cdr>) {
        drop(records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fatal_errors_say_so_and_both_print_their_cause() {
        let e = SourceError::new("connection reset by peer");
        assert!(!e.is_fatal());
        assert_eq!(e.to_string(), "connection reset by peer");
        let e = SourceError::fatal("cannot reach the API at http://h/graphql");
        assert!(e.is_fatal());
        assert_eq!(
            e.get_ref().to_string(),
            "cannot reach the API at http://h/graphql"
        );
    }
}
