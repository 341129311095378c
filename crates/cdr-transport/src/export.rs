//! The CSV export: request the signed `exportLink`, then stream its body.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use cdr_core::{CdrType, Limit, PageQuery, PageRequest, RequestBody, Selection, Window, document};
use futures_util::Stream;
use reqwest::Url;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

use crate::body::read_capped;
use crate::client::Client;
use crate::client::answer::status_error;
use crate::client::scrub::server_text;
use crate::config::Limits;
use crate::error::network::describe;
use crate::error::{ExportLimit, TransportError};
use crate::guard::{self, ResolveError};
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
    ///
    /// The link and every redirect it leads to (at most
    /// [`Limits::export_max_redirects`]) must be `https` to a public address,
    /// checked as written and as resolved; otherwise the download fails with
    /// [`TransportError::ExportRefused`] without connecting there. A download
    /// that outlasts [`Limits::export_deadline`], or whose body arrives slower
    /// than [`Limits::export_min_rate`], ends with
    /// [`TransportError::ExportStalled`].
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
        let secrets = link_secrets(&url);
        self.check_link(&url, &endpoint, &secrets).await?;
        tracing::debug!(endpoint = %endpoint, "downloading the export");
        let limits = self.inner.limits;
        let deadline = Instant::now() + limits.export_deadline;
        let stalled = |limit| TransportError::ExportStalled {
            cdr_type,
            window,
            received: 0,
            limit,
        };
        let mut retrier = self.retrier(&endpoint);
        let download = async {
            loop {
                match self.download_once(&url, &endpoint, &secrets).await {
                    Ok(r) => return Ok::<_, TransportError>(r),
                    Err(e) => retrier.after_failure(e).await?,
                }
            }
        };
        let response = tokio::time::timeout_at(deadline, download)
            .await
            .map_err(|_| stalled(ExportLimit::Deadline(limits.export_deadline)))??;
        let expected = response.content_length();
        Ok(ExportBody::new(
            Box::pin(response.bytes_stream()),
            expected,
            limits,
            deadline,
            cdr_type,
            window,
            Arc::clone(&self.counters),
        ))
    }

    /// Checks the export link before anything is sent to it: its scheme and
    /// literal address, and the addresses its host name resolves to. The
    /// download's resolver checks again at every connection (redirects
    /// included); this check also covers a download through a proxy, which
    /// resolves names itself. A name that does not resolve here is left to
    /// the download to report.
    async fn check_link(
        &self,
        url: &Url,
        endpoint: &str,
        secrets: &[String],
    ) -> Result<(), TransportError> {
        let policy = &self.inner.link_policy;
        let refused = |reason: String| {
            let extra: Vec<&str> = secrets.iter().map(String::as_str).collect();
            TransportError::ExportRefused {
                endpoint: endpoint.to_string(),
                reason: self.scrub_with(&reason, &extra),
            }
        };
        policy.check_url(url).map_err(|r| refused(r.to_string()))?;
        if guard::literal_ip(url).is_none()
            && let Some(host) = url.host_str()
            && let Err(ResolveError::Refused(r)) = policy.lookup(host).await
        {
            return Err(refused(r.to_string()));
        }
        Ok(())
    }

    /// One GET of the export link, up to the response headers. The bearer
    /// token is not sent: the link is signed and may point to another host.
    async fn download_once(
        &self,
        url: &Url,
        endpoint: &str,
        secrets: &[String],
    ) -> Result<reqwest::Response, TransportError> {
        bump(&self.counters.requests, 1);
        let extra: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let response = self
            .inner
            .export_http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| match guard::refusal_in(&e) {
                Some(r) => TransportError::ExportRefused {
                    endpoint: endpoint.to_string(),
                    reason: self.scrub_with(
                        &if e.is_redirect() {
                            format!("a redirect: {r}")
                        } else {
                            r.to_string()
                        },
                        &extra,
                    ),
                },
                None => TransportError::network(endpoint, e),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // The body of an error answer only feeds the message: a little of
        // it, for a little while.
        let cap = self.inner.limits.max_error_body_bytes;
        let body = tokio::time::timeout(self.inner.timeout, read_capped(response, cap))
            .await
            .unwrap_or_default();
        let detail = self.scrub_with(&server_text(&body), &extra);
        Err(status_error(endpoint, status, &headers, detail))
    }
}

/// The parts of an export link a server might echo in an error: the whole
/// link, its path and query together and apart. All are redacted from the
/// download's error messages.
fn link_secrets(url: &Url) -> Vec<String> {
    let mut parts = vec![url.as_str().to_string(), url.path().to_string()];
    if let Some(q) = url.query() {
        parts.push(format!("{}?{q}", url.path()));
        parts.push(q.to_string());
    }
    // The bare `/` of a link at the root is no secret.
    parts.retain(|p| p.len() > 1);
    parts
}

/// The body of an export: CSV bytes in chunks as they arrive. Its last item
/// is [`TransportError::ExportCut`] when the body ended early, or
/// [`TransportError::ExportStalled`] when it took too long or came too slowly.
pub struct ExportBody {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    expected: Option<u64>,
    received: u64,
    done: bool,
    cdr_type: CdrType,
    window: Window,
    counters: Arc<Counters>,
    /// When the whole download must have ended.
    deadline: Pin<Box<Sleep>>,
    export_deadline: Duration,
    /// The end of the current rate period, when the rate is checked.
    rate: Option<RateCheck>,
}

/// The minimum rate: at least `min_bytes` in every period.
struct RateCheck {
    next: Pin<Box<Sleep>>,
    period: Duration,
    bytes_per_sec: u64,
    min_bytes: u64,
    /// `received` at the start of the current period.
    mark: u64,
}

impl ExportBody {
    fn new(
        body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
        expected: Option<u64>,
        limits: Limits,
        deadline: Instant,
        cdr_type: CdrType,
        window: Window,
        counters: Arc<Counters>,
    ) -> ExportBody {
        let rate = (limits.export_min_rate > 0).then(|| {
            let period = limits.export_rate_period;
            let min_bytes =
                u64::try_from(u128::from(limits.export_min_rate) * period.as_millis() / 1000)
                    .unwrap_or(u64::MAX);
            RateCheck {
                next: Box::pin(tokio::time::sleep(period)),
                period,
                bytes_per_sec: limits.export_min_rate,
                min_bytes,
                mark: 0,
            }
        });
        ExportBody {
            body,
            expected,
            received: 0,
            done: false,
            cdr_type,
            window,
            counters,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            export_deadline: limits.export_deadline,
            rate,
        }
    }

    /// Gives the download up: a limit was hit.
    fn stalled(&mut self, limit: ExportLimit) -> TransportError {
        self.done = true;
        tracing::warn!(
            cdr_type = %self.cdr_type,
            window = %self.window,
            received = self.received,
            limit = %limit,
            "export given up"
        );
        TransportError::ExportStalled {
            cdr_type: self.cdr_type,
            window: self.window,
            received: self.received,
            limit,
        }
    }

    /// The limit the download broke by now, if any; registers the timers
    /// that wake the stream at the next check.
    fn limit_hit(&mut self, cx: &mut Context<'_>) -> Option<ExportLimit> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Some(ExportLimit::Deadline(self.export_deadline));
        }
        let received = self.received;
        let rate = self.rate.as_mut()?;
        while rate.next.as_mut().poll(cx).is_ready() {
            if received - rate.mark < rate.min_bytes {
                return Some(ExportLimit::Rate {
                    bytes_per_sec: rate.bytes_per_sec,
                    period: rate.period,
                });
            }
            rate.mark = received;
            let next = rate.next.deadline() + rate.period;
            rate.next.as_mut().reset(next);
        }
        None
    }

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
        if let Some(limit) = self.limit_hit(cx) {
            return Poll::Ready(Some(Err(self.stalled(limit))));
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
    use futures_util::StreamExt;

    #[test]
    fn export_bodies_can_move_to_other_tasks() {
        fn check<T: Stream + Send + Unpin + 'static>() {}
        check::<ExportBody>();
    }

    fn window() -> Window {
        Window::new(
            cdr_core::parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            cdr_core::parse_datetime("2026-11-01T01:00:00Z").unwrap(),
        )
        .unwrap()
    }

    /// A body that sends `chunk` bytes every `every`, without end.
    fn drip(chunk: usize, every: Duration) -> ExportBody {
        drip_with(chunk, every, Limits::default())
    }

    fn drip_with(chunk: usize, every: Duration, limits: Limits) -> ExportBody {
        let body = futures_util::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from(vec![b'x'; chunk])), ()))
        });
        ExportBody::new(
            Box::pin(body),
            None,
            limits,
            Instant::now() + limits.export_deadline,
            CdrType::Sms,
            window(),
            Arc::default(),
        )
    }

    /// Reads until the body ends; the bytes and the error it ended with.
    async fn drain(mut body: ExportBody) -> (u64, Option<TransportError>) {
        let mut got = 0;
        while let Some(item) = body.next().await {
            match item {
                Ok(b) => got += b.len() as u64,
                Err(e) => {
                    assert!(body.next().await.is_none(), "the stream ends after it");
                    return (got, Some(e));
                }
            }
        }
        (got, None)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_dripping_a_byte_a_second_is_given_up_at_the_first_rate_check() {
        let start = Instant::now();
        let (got, err) = drain(drip(1, Duration::from_secs(1))).await;
        let limits = Limits::default();
        // Given up when the first period ends, having taken what came by then.
        assert_eq!(start.elapsed(), limits.export_rate_period);
        assert!(got < 60, "{got}");
        match err {
            Some(TransportError::ExportStalled {
                received,
                limit: ExportLimit::Rate { bytes_per_sec, .. },
                ..
            }) => {
                assert_eq!(received, got);
                assert_eq!(bytes_per_sec, limits.export_min_rate);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_runs_until_the_deadline() {
        // 2 KiB a second passes every rate check; the deadline still ends it.
        let start = Instant::now();
        let (got, err) = drain(drip(2048, Duration::from_secs(1))).await;
        let deadline = Limits::default().export_deadline;
        assert_eq!(start.elapsed(), deadline);
        assert!(got >= 2048 * (deadline.as_secs() - 1), "{got}");
        let err = err.expect("given up");
        assert!(
            matches!(
                err,
                TransportError::ExportStalled {
                    limit: ExportLimit::Deadline(d),
                    ..
                } if d == deadline
            ),
            "{err:?}"
        );
        assert!(err.is_retryable() && !err.is_fatal());
        let text = err.to_string();
        assert!(text.contains("deadline of 1800s"), "{text}");
        assert!(text.contains("try again later"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_minimum_rate_only_the_deadline_counts() {
        let limits = Limits {
            export_min_rate: 0,
            export_deadline: Duration::from_secs(100),
            ..Limits::default()
        };
        let (got, err) = drain(drip_with(1, Duration::from_secs(1), limits)).await;
        assert_eq!(got, 99);
        assert!(matches!(
            err,
            Some(TransportError::ExportStalled {
                limit: ExportLimit::Deadline(_),
                ..
            })
        ));
    }

    #[test]
    fn the_parts_of_a_link_are_secrets() {
        let url = Url::parse("https://bucket.example.com/exp/sms.csv?sig=S1").unwrap();
        assert_eq!(
            link_secrets(&url),
            [
                "https://bucket.example.com/exp/sms.csv?sig=S1",
                "/exp/sms.csv",
                "/exp/sms.csv?sig=S1",
                "sig=S1"
            ]
        );
        let root = Url::parse("https://h.example/").unwrap();
        assert_eq!(link_secrets(&root), ["https://h.example/"]);
    }
}
