//! The lazy page stream: cdr-core's [`Paginator`] driven over HTTP.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use cdr_core::{
    Cdr, CdrType, Checkpoint, Limit, Page, PageQuery, PageRequest, Paginator, RequestBody,
    Selection, Window, document, peek_next_cursor,
};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream, TryStreamExt, stream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// Spare record vectors for page streams to decode into. A consumer done
/// with a page's records hands them back with [`RecordPool::put`], and a
/// stream made by [`Client::records_reusing`] decodes a later page into their
/// allocations (see [`cdr_core::decode_page_reusing`]), so that a long stream
/// hardly allocates. Clones share one pool, which keeps at most `capacity`
/// vectors and drops what it cannot keep.
#[derive(Debug, Clone)]
pub struct RecordPool {
    spare: Arc<Mutex<Vec<Vec<Cdr>>>>,
    capacity: usize,
}

impl RecordPool {
    /// A pool of at most `capacity` spare vectors.
    pub fn new(capacity: usize) -> RecordPool {
        RecordPool {
            spare: Arc::default(),
            capacity,
        }
    }

    /// Gives back records that are no longer needed.
    pub fn put(&self, records: Vec<Cdr>) {
        if records.capacity() == 0 {
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < self.capacity {
            spare.push(records);
        }
    }

    /// A spare vector, or an empty one when there is none.
    pub fn take(&self) -> Vec<Cdr> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        spare.pop().unwrap_or_default()
    }

    /// The most spare vectors the pool keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Pages a stream fetches ahead of the one its consumer is given: with two,
/// the request for page n + 1 leaves as soon as page n has arrived, while
/// page n is still being decoded, so that decoding never delays a request.
const PAGES_AHEAD: usize = 2;

/// The state carried from one page to the next.
struct Cursor {
    fetch: Fetch,
    paginator: Paginator,
    warned: HashSet<String>,
    /// The fetch of the page after the last one given out, when it started
    /// early (see [`Fetch::page`]).
    ahead: Option<Ahead>,
}

/// What fetching one page of a stream needs; cheap to clone.
#[derive(Clone)]
struct Fetch {
    client: Client,
    document: Arc<str>,
    query: Arc<PageQuery>,
    pool: Option<RecordPool>,
    /// Bounds the pages fetched ahead, and so the memory they hold.
    ahead: Arc<Semaphore>,
}

/// The fetch of the page that `cursor` leads to, started before the page
/// that named the cursor was decoded.
struct Ahead {
    cursor: String,
    task: tokio::task::JoinHandle<(Result<Page, TransportError>, Option<Ahead>)>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // Unused (the page named another cursor, or the stream ended): stop it.
        self.task.abort();
    }
}

impl Ahead {
    async fn join(mut self) -> (Result<Page, TransportError>, Option<Ahead>) {
        match (&mut self.task).await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => (
                Err(TransportError::Config {
                    message: "a page fetch was cancelled because the runtime is shutting down"
                        .into(),
                }),
                None,
            ),
        }
    }
}

impl Fetch {
    /// Fetches page `number` at `cursor` (with retries and authentication)
    /// and decodes it. As soon as an answer arrives, before it is decoded, the
    /// fetch of the page after it starts in a task of its own, at the cursor
    /// read from the answer's start, when fewer than [`PAGES_AHEAD`] pages are
    /// ahead already. That fetch is returned only if the decoded page names
    /// the same cursor; otherwise it is stopped.
    fn page(
        self,
        cursor: Option<String>,
        number: u64,
    ) -> BoxFuture<'static, (Result<Page, TransportError>, Option<Ahead>)> {
        let span = page_span(&self.query, number);
        async move {
            let request = PageRequest {
                cursor: cursor.as_deref(),
                limit: self.query.limit,
                page: number,
            };
            let body =
                Bytes::from(RequestBody::new(&self.document, &self.query, &request).to_vec());
            let spare = self.pool.as_ref().map(RecordPool::take).unwrap_or_default();
            let mut ahead: Option<Ahead> = None;
            let mut peek = |answer: &[u8]| {
                // An answer whose cursor cannot be read ahead (an error, say)
                // leaves a fetch started from an earlier answer running: the
                // decoded page decides whether it is used.
                let Some(next) = peek_next_cursor(answer) else {
                    return;
                };
                if ahead.as_ref().is_some_and(|a| a.cursor == next) {
                    return;
                }
                // A retried answer named another cursor: stop the old fetch.
                ahead = None;
                let Ok(permit) = self.ahead.clone().try_acquire_owned() else {
                    return;
                };
                let task = tokio::spawn(self.clone().page(Some(next.clone()), number + 1));
                ahead = Some(Ahead {
                    cursor: next,
                    task,
                    _permit: permit,
                });
            };
            let kind = self.query.cdr_type.record_kind();
            let page = self
                .client
                .fetch_page_peeking(body, kind, spare, &mut peek)
                .await;
            let follows = match &page {
                Ok(p) => {
                    p.next_cursor.is_some()
                        && p.next_cursor == ahead.as_ref().map(|a| a.cursor.clone())
                }
                Err(_) => false,
            };
            (page, ahead.filter(|_| follows))
        }
        .instrument(span)
        .boxed()
    }
}

/// The span of one page of a stream, for its fetch and its checks alike.
fn page_span(query: &PageQuery, number: u64) -> tracing::Span {
    tracing::info_span!(
        "cdr_page",
        cdr_type = %query.cdr_type,
        window = %query.window,
        page = number,
    )
}

impl Client {
    /// The pages of `request`, fetched one after the other as the stream is
    /// polled, following cursors until `nextCursor` is null. Each page goes
    /// through retries and authentication; a page that breaks the pagination
    /// contract ends the stream with [`TransportError::Pagination`]. The
    /// stream ends after its first error.
    ///
    /// Union members of unknown type are counted in [`Stats::skipped_unknown`](crate::Stats)
    /// and left out of `Page::records` (they are listed in `Page::unknown`),
    /// with one warning per type name and stream. Records that cannot be
    /// stored as they are (a value that cannot be read or does not fit, a
    /// member other than the type's) are counted in
    /// [`Stats::bad_records`](crate::Stats) and listed in `Page::bad`, with
    /// one warning per field and stream. Neither fails the page nor is
    /// retried: what they mean for the window is the caller's to decide.
    pub fn records(
        &self,
        request: RecordsRequest,
    ) -> impl Stream<Item = Result<Page, TransportError>> + Send + Unpin + 'static {
        self.stream(request, Checkpoint::default(), false, None)
            .map_ok(|p| p.page)
    }

    /// Like [`Client::records`], decoding each page into a spare vector of
    /// `pool` when it has one: hand each page's records back to the pool once
    /// done with them ([`RecordPool::put`]) and the stream reuses their memory.
    pub fn records_reusing(
        &self,
        request: RecordsRequest,
        pool: RecordPool,
    ) -> impl Stream<Item = Result<Page, TransportError>> + Send + Unpin + 'static {
        self.stream(request, Checkpoint::default(), false, Some(pool))
            .map_ok(|p| p.page)
    }

    /// Like [`Client::records`], continuing after the page that produced
    /// `checkpoint` (see [`Client::pages`]).
    pub fn records_from(
        &self,
        request: RecordsRequest,
        checkpoint: Checkpoint,
    ) -> impl Stream<Item = Result<Page, TransportError>> + Send + Unpin + 'static {
        self.stream(request, checkpoint, false, None)
            .map_ok(|p| p.page)
    }

    /// Like [`Client::records`], from `checkpoint` (or the start), with the
    /// checkpoint after each page, for callers that persist their progress.
    pub fn pages(
        &self,
        request: RecordsRequest,
        checkpoint: Option<Checkpoint>,
    ) -> impl Stream<Item = Result<CheckpointedPage, TransportError>> + Send + Unpin + 'static {
        self.stream(request, checkpoint.unwrap_or_default(), true, None)
    }

    fn stream(
        &self,
        request: RecordsRequest,
        checkpoint: Checkpoint,
        with_checkpoints: bool,
        pool: Option<RecordPool>,
    ) -> impl Stream<Item = Result<CheckpointedPage, TransportError>> + Send + Unpin + 'static {
        let state = Cursor {
            fetch: Fetch {
                client: self.clone(),
                document: document(&request.selection, request.company_id.is_some(), false).into(),
                query: Arc::new(request.query()),
                pool,
                ahead: Arc::new(Semaphore::new(PAGES_AHEAD)),
            },
            paginator: Paginator::resume(request.query(), checkpoint),
            warned: HashSet::new(),
            ahead: None,
        };
        Box::pin(stream::try_unfold(state, move |mut state| async move {
            let Some(next) = state.paginator.next_request() else {
                return Ok(None);
            };
            let number = next.page;
            let cursor = next.cursor.map(str::to_string);
            let (page, ahead) = match state.ahead.take() {
                Some(a) if cursor.as_deref() == Some(a.cursor.as_str()) => a.join().await,
                _ => state.fetch.clone().page(cursor, number).await,
            };
            state.ahead = ahead;
            let page = page?;
            page_span(&state.fetch.query, number).in_scope(|| state.accept(&page))?;
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
        let counters = &self.fetch.client.counters;
        bump(&counters.pages, 1);
        bump(&counters.records, page.records.len() as u64);
        bump(&counters.skipped_unknown, page.unknown.len() as u64);
        bump(&counters.bad_records, page.bad.len() as u64);
        for bad in &page.bad {
            if self.warned.insert(format!("bad record: {}", bad.field)) {
                tracing::warn!(
                    index = bad.index,
                    typename = %bad.typename,
                    field = %bad.field,
                    cdr_type = %cdr_type,
                    window = %window,
                    "a record cannot be stored as it is: {} (further ones with this field are counted, not logged)",
                    bad.message
                );
            }
        }
        for member in &page.unknown {
            if !self.warned.contains(&member.typename) {
                self.warned.insert(member.typename.clone());
                tracing::warn!(
                    typename = %member.typename,
                    cdr_type = %cdr_type,
                    window = %window,
                    "CDRs of an unknown type: this version does not know it and cannot store them (further ones are counted, not logged)"
                );
            }
        }
        Ok(())
    }
}
