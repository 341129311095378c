//! The lazy page stream: cdr-core's [`Paginator`] driven over HTTP.

use std::collections::HashSet;

use bytes::Bytes;
use cdr_core::{
    CdrType, Checkpoint, Limit, Page, PageQuery, Paginator, RequestBody, Selection, Window,
    document,
};
use futures_util::{Stream, TryStreamExt, stream};
use tracing::Instrument;

use crate::client::Client;
use crate::error::TransportError;
use crate::stats::bump;

/// What [`Client::records`] lists: one type over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsRequest {
    pub cdr_type: CdrType,
    pub window: Window,
    /// Page size, 1 to 1000.
    pub limit: Limit,
    /// Only admin users may pass it.
    pub company_id: Option<String>,
    /// Which fields each union member selects.
    pub selection: Selection,
}

impl RecordsRequest {
    /// Every field, pages of 1000, the user's own company.
    pub fn new(cdr_type: CdrType, window: Window) -> RecordsRequest {
        RecordsRequest {
            cdr_type,
            window,
            limit: Limit::MAX,
            company_id: None,
            selection: Selection::all(),
        }
    }

    fn query(&self) -> PageQuery {
        PageQuery {
            cdr_type: self.cdr_type,
            window: self.window,
            limit: self.limit,
            company_id: self.company_id.clone(),
        }
    }
}

/// A page together with where the stream stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointedPage {
    /// 0-based number of the page.
    pub number: u64,
    pub page: Page,
    /// The paginator's position after this page: hand it to
    /// [`Client::records_from`] or [`Client::pages`] to continue after it.
    pub checkpoint: Checkpoint,
}

/// The state carried from one page to the next.
struct Cursor {
    client: Client,
    document: String,
    paginator: Paginator,
    warned: HashSet<String>,
}

impl Client {
    /// The pages of `request`, fetched one after the other as the stream is
    /// polled, following cursors until `nextCursor` is null. Each page goes
    /// through retries and authentication; a page that breaks the pagination
    /// contract ends the stream with [`TransportError::Pagination`]. The
    /// stream ends after its first error.
    ///
    /// Union members of unknown type are counted in [`Stats::skipped_unknown`](crate::Stats)
    /// and left out of `Page::records` (they stay listed in `Page::unknown`),
    /// with one warning per type name and stream.
    pub fn records(
        &self,
        request: RecordsRequest,
    ) -> impl Stream<Item = Result<Page, TransportError>> + Send + Unpin + 'static {
        self.stream(request, Checkpoint::default(), false)
            .map_ok(|p| p.page)
    }

    /// Like [`Client::records`], continuing after the page that produced
    /// `checkpoint` (see [`Client::pages`]).
    pub fn records_from(
        &self,
        request: RecordsRequest,
        checkpoint: Checkpoint,
    ) -> impl Stream<Item = Result<Page, TransportError>> + Send + Unpin + 'static {
        self.stream(request, checkpoint, false).map_ok(|p| p.page)
    }

    /// Like [`Client::records`], from `checkpoint` (or the start), with the
    /// checkpoint after each page, for callers that persist their progress.
    pub fn pages(
        &self,
        request: RecordsRequest,
        checkpoint: Option<Checkpoint>,
    ) -> impl Stream<Item = Result<CheckpointedPage, TransportError>> + Send + Unpin + 'static {
        self.stream(request, checkpoint.unwrap_or_default(), true)
    }

    fn stream(
        &self,
        request: RecordsRequest,
        checkpoint: Checkpoint,
        with_checkpoints: bool,
    ) -> impl Stream<Item = Result<CheckpointedPage, TransportError>> + Send + Unpin + 'static {
        let state = Cursor {
            client: self.clone(),
            document: document(&request.selection, request.company_id.is_some(), false),
            paginator: Paginator::resume(request.query(), checkpoint),
            warned: HashSet::new(),
        };
        Box::pin(stream::try_unfold(state, move |mut state| async move {
            let Some(next) = state.paginator.next_request() else {
                return Ok(None);
            };
            let number = next.page;
            let query = state.paginator.query();
            let body = Bytes::from(RequestBody::new(&state.document, query, &next).to_vec());
            let span = tracing::info_span!(
                "cdr_page",
                cdr_type = %query.cdr_type,
                window = %query.window,
                page = number,
            );
            let page = async {
                let page = state.client.fetch_page(body).await?;
                state.accept(&page)?;
                Ok::<_, TransportError>(page)
            }
            .instrument(span)
            .await?;
            let checkpoint = if with_checkpoints {
                state.paginator.checkpoint()
            } else {
                Checkpoint::default()
            };
            Ok(Some((
                CheckpointedPage {
                    number,
                    page,
                    checkpoint,
                },
                state,
            )))
        }))
    }
}

impl Cursor {
    /// Checks a page with the paginator, then counts and reports it.
    fn accept(&mut self, page: &Page) -> Result<(), TransportError> {
        let query = self.paginator.query();
        let (cdr_type, window) = (query.cdr_type, query.window);
        self.paginator
            .on_page(page)
            .map_err(|source| TransportError::Pagination {
                cdr_type,
                window,
                source,
            })?;
        let counters = &self.client.counters;
        bump(&counters.pages, 1);
        bump(&counters.records, page.records.len() as u64);
        bump(&counters.skipped_unknown, page.unknown.len() as u64);
        for member in &page.unknown {
            if !self.warned.contains(&member.typename) {
                self.warned.insert(member.typename.clone());
                tracing::warn!(
                    typename = %member.typename,
                    cdr_type = %cdr_type,
                    window = %window,
                    "skipping CDRs of an unknown type: this version does not know it (further ones are counted, not logged)"
                );
            }
        }
        Ok(())
    }
}
