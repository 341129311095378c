//! The CSV export: request the signed `exportLink`, then stream its body.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use cdr_core::{CdrType, Limit, PageQuery, PageRequest, RequestBody, Selection, Window, document};
use futures_util::Stream;
use reqwest::Url;
use tracing::Instrument;

use crate::client::{Client, status_error};
use crate::error::{TransportError, describe};
use crate::stats::{Counters, bump};

/// What [`Client::export`] downloads: the CSV of one type over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub cdr_type: CdrType,
    pub window: Window,
    /// Only admin users may pass it.
    pub company_id: Option<String>,
    /// The columns of the CSV.
    pub selection: Selection,
}

impl ExportRequest {
    /// Every field, the user's own company.
    pub fn new(cdr_type: CdrType, window: Window) -> ExportRequest {
        ExportRequest {
            cdr_type,
            window,
            company_id: None,
            selection: Selection::all(),
        }
    }
}

impl Client {
    /// Requests the export link of `request` (through the same retries and
    /// authentication as any query), then starts downloading it and returns
    /// the body as a stream of chunks, never buffered whole.
    ///
    /// Failures before the first byte of the body (HTTP 429, 5xx, dropped
    /// connections) are retried. A body that ends without a proper end yields
    /// [`TransportError::ExportCut`] as its last item and is not retried here:
    /// the caller discards what it received and exports smaller windows.
    pub async fn export(&self, request: ExportRequest) -> Result<ExportBody, TransportError> {
        let span = tracing::info_span!(
            "cdr_export",
            cdr_type = %request.cdr_type,
            window = %request.window,
        );
        self.export_inner(request).instrument(span).await
    }

    async fn export_inner(&self, request: ExportRequest) -> Result<ExportBody, TransportError> {
        let ExportRequest {
            cdr_type,
            window,
            company_id,
            selection,
        } = request;
        let limit = Limit::try_from(1u32).map_err(|e| TransportError::Config {
            message: e.to_string(),
        })?;
        let doc = document(&selection, company_id.is_some(), true);
        let query = PageQuery {
            cdr_type,
            window,
            limit,
            company_id,
        };
        let first = PageRequest {
            cursor: None,
            limit,
            page: 0,
        };
        let body = Bytes::from(RequestBody::new(&doc, &query, &first).to_vec());
        let page = self
            .fetch_page(body, cdr_type.record_kind(), Vec::new())
            .await?;
        let graphql = &self.inner.graphql_endpoint;
        let link_error = |message: &str| TransportError::Decode {
            endpoint: graphql.clone(),
            attempts: 1,
            message: message.to_string(),
        };
        let link = page
            .export_link
            .ok_or_else(|| link_error("data.cdrRecords.exportLink is missing or null"))?;
        // The link is usually absolute; a relative one is taken from the API base.
        let url = self
            .inner
            .base
            .join(link.expose().trim())
            .map_err(|_| link_error("data.cdrRecords.exportLink is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(link_error(
                "data.cdrRecords.exportLink is not an http(s) URL",
            ));
        }
        // Anyone holding the link can download: only its origin is shown.
        let endpoint = format!("{}/<export link>", url.origin().ascii_serialization());
        tracing::debug!(endpoint = %endpoint, "downloading the export");
        let mut retrier = self.retrier(&endpoint);
        let response = loop {
            match self.download_once(&url, &endpoint).await {
                Ok(r) => break r,
                Err(e) => retrier.after_failure(e).await?,
            }
        };
        Ok(ExportBody {
            expected: response.content_length(),
            body: Box::pin(response.bytes_stream()),
            received: 0,
            done: false,
            cdr_type,
            window,
            counters: Arc::clone(&self.counters),
        })
    }

    /// One GET of the export link, up to the response headers. The bearer
    /// token is not sent: the link is signed and may point to another host.
    async fn download_once(
        &self,
        url: &Url,
        endpoint: &str,
    ) -> Result<reqwest::Response, TransportError> {
        bump(&self.counters.requests, 1);
        let response = self
            .inner
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // The body of an error answer only feeds the message.
        let body = response.bytes().await.unwrap_or_default();
        Err(status_error(endpoint, status, &headers, &body))
    }
}

/// The body of an export: CSV bytes in chunks as they arrive. Its last item
/// is [`TransportError::ExportCut`] when the body ended early.
pub struct ExportBody {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    expected: Option<u64>,
    received: u64,
    done: bool,
    cdr_type: CdrType,
    window: Window,
    counters: Arc<Counters>,
}

impl ExportBody {
    /// The announced length (`Content-Length`), when the server sent one.
    pub fn content_length(&self) -> Option<u64> {
        self.expected
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn cut(&mut self, reason: String) -> TransportError {
        self.done = true;
        tracing::warn!(
            cdr_type = %self.cdr_type,
            window = %self.window,
            received = self.received,
            expected = self.expected,
            reason = %reason,
            "export cut short"
        );
        TransportError::ExportCut {
            cdr_type: self.cdr_type,
            window: self.window,
            received: self.received,
            expected: self.expected,
            reason,
        }
    }
}

impl fmt::Debug for ExportBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportBody")
            .field("cdr_type", &self.cdr_type)
            .field("window", &self.window)
            .field("expected", &self.expected)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Stream for ExportBody {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = ready!(self.body.as_mut().poll_next(cx));
        Poll::Ready(match item {
            Some(Ok(chunk)) => {
                let n = chunk.len() as u64;
                self.received += n;
                bump(&self.counters.export_bytes, n);
                match self.expected {
                    Some(expected) if self.received > expected => Some(Err(self.cut(format!(
                        "the body is longer than its announced {expected} bytes"
                    )))),
                    _ => Some(Ok(chunk)),
                }
            }
            Some(Err(e)) => Some(Err(self.cut(describe(&e.without_url())))),
            None => {
                self.done = true;
                match self.expected {
                    Some(expected) if self.received < expected => Some(Err(
                        self.cut("the body ended before its announced length".to_string())
                    )),
                    _ => None,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_bodies_can_move_to_other_tasks() {
        fn check<T: Stream + Send + Unpin + 'static>() {}
        check::<ExportBody>();
    }
}
