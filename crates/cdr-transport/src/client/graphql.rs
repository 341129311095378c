//! Fetching a page: one GraphQL body sent to the API and its answer read
//! into a [`Page`], with retries, and a fresh login when the token is
//! rejected.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cdr_core::{
    Cdr, ErrorClass, GraphQlErrors, Page, RecordKind, ResponseError, Token, decode_errors,
    decode_page_reusing,
};
use reqwest::StatusCode;

use super::Client;
use super::answer::status_error;
use super::scrub::{one_line, server_text};
use crate::body::{read_capped, read_limited};
use crate::config::Auth;
use crate::error::classify::Failure;
use crate::error::{AuthProblem, TransportError};
use crate::throttle::Throttle;

impl Client {
    /// Sends one GraphQL body (a `cdrRecords` query for records of `kind`)
    /// and decodes the page, with retries, and a fresh login when the token
    /// is rejected. The page's records reuse the allocations of `spare` (see
    /// [`cdr_core::decode_page_reusing`]).
    ///
    /// A rejected token (HTTP 401 or 403, or a GraphQL error that blames
    /// the token, on any status) leads to one login, shared with concurrent
    /// requests rejected with the same token, and the request is repeated at
    /// once, without backoff. A static token is not renewed, and a token from
    /// a fresh login that is refused at once is not renewed again: both end
    /// with [`TransportError::Auth`].
    pub(crate) async fn fetch_page(
        &self,
        body: Bytes,
        kind: RecordKind,
        spare: Vec<Cdr>,
    ) -> Result<Page, TransportError> {
        self.fetch_page_peeking(body, kind, spare, &mut |_| {})
            .await
    }

    /// Like [`Client::fetch_page`], handing the body of every successful
    /// answer to `peek` before it is decoded.
    pub(crate) async fn fetch_page_peeking(
        &self,
        body: Bytes,
        kind: RecordKind,
        spare: Vec<Cdr>,
        peek: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Page, TransportError> {
        let endpoint = self.inner.graphql_endpoint.as_str();
        let mut retrier = self.retrier(endpoint);
        let mut relogged = false;
        let mut spare = Some(spare);
        loop {
            let (token, generation) = self.token().await?;
            let spare = spare.take().unwrap_or_default();
            let throttle = self.inner.throttle.as_ref();
            let admission = match throttle {
                Some(t) => Some(t.admit().await),
                None => None,
            };
            let attempt = self.graphql_once(body.clone(), &token, kind, spare, &mut *peek);
            match attempt.await {
                Ok(page) => {
                    if let Some(a) = admission {
                        a.served();
                    }
                    self.inner
                        .accepted_generation
                        .fetch_max(generation, Ordering::Relaxed);
                    return Ok(page);
                }
                Err(Failure::Error(e)) => {
                    if let Some(a) = admission.filter(|_| e.is_refusal()) {
                        a.refused(e.retry_after());
                    }
                    // While this request waits to be tried again, another
                    // cursor chain may use its place.
                    let _resting = throttle.map(Throttle::resting);
                    retrier.after_failure_with(e, self.answered(true)).await?
                }
                Err(Failure::Unauthorized { endpoint, detail }) => {
                    if let Auth::Token(_) = &self.inner.auth {
                        return Err(TransportError::Auth {
                            endpoint,
                            problem: AuthProblem::TokenRejected(detail),
                        });
                    }
                    // A token that was never accepted and is rejected right
                    // after this request's own login means the account cannot
                    // do this: another login would not help. A token accepted
                    // before has merely expired.
                    let accepted =
                        self.inner.accepted_generation.load(Ordering::Relaxed) >= generation;
                    if (relogged && !accepted) || !retrier.note_relogin() {
                        return Err(TransportError::Auth {
                            endpoint,
                            problem: AuthProblem::FreshTokenRejected(detail),
                        });
                    }
                    relogged = true;
                    self.relogin(generation).await?;
                }
            }
        }
    }

    async fn graphql_once(
        &self,
        body: Bytes,
        token: &Token,
        kind: RecordKind,
        spare: Vec<Cdr>,
        peek: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Page, Failure> {
        let inner = &*self.inner;
        let endpoint = inner.graphql_endpoint.as_str();
        let response = self
            .post_json(&inner.graphql_url, endpoint, Some(token), body)
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let bytes = read_limited(response, inner.limits.max_page_bytes, endpoint).await?;
            inner.graphql_answered.store(true, Ordering::Relaxed);
            peek(&bytes);
            // Bad values and unknown members are part of the page; only a
            // body cut short (or not JSON) is worth asking again.
            return match decode_page_reusing(&bytes, kind, spare) {
                Ok(mut page) => {
                    self.scrub_page(&mut page);
                    Ok(page)
                }
                Err(ResponseError::GraphQl(errors)) => Err(self.graphql_failure(endpoint, errors)),
                Err(ResponseError::Decode { message }) => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: self.scrub(&message),
                }
                .into()),
                Err(ResponseError::Shape { message }) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message: self.scrub(&message),
                }
                .into()),
                Err(other) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message: self.scrub(&other.to_string()),
                }
                .into()),
            };
        }
        let bytes = read_capped(response, inner.limits.max_error_body_bytes).await;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Failure::Unauthorized {
                endpoint: endpoint.to_string(),
                detail: self.scrub(&server_text(&bytes)),
            });
        }
        if status == StatusCode::BAD_REQUEST
            && let Some(errors) = decode_errors(&bytes)
        {
            // The server blames the request (HTTP 400): whatever the message
            // says, sending it again cannot help, unless it names the token.
            return Err(match self.graphql_failure(endpoint, errors) {
                Failure::Error(TransportError::GraphQl {
                    endpoint,
                    class: ErrorClass::Other,
                    errors,
                }) => Failure::Error(TransportError::GraphQl {
                    endpoint,
                    class: ErrorClass::InvalidArgument,
                    errors,
                }),
                other => other,
            });
        }
        let detail = self.scrub(&server_text(&bytes));
        Err(status_error(endpoint, status, &headers, detail).into())
    }

    /// The failure for a GraphQL `errors` array, classified by the server's
    /// own words and then sanitized.
    fn graphql_failure(&self, endpoint: &str, errors: GraphQlErrors) -> Failure {
        let class = errors.class();
        let errors = self.scrub_errors(errors);
        match class {
            ErrorClass::Unauthorized => Failure::Unauthorized {
                endpoint: endpoint.to_string(),
                detail: self.scrub(&one_line(&errors.to_string())),
            },
            class => Failure::Error(TransportError::GraphQl {
                endpoint: endpoint.to_string(),
                class,
                errors,
            }),
        }
    }
}
