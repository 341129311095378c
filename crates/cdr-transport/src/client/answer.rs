//! Sending an API request and what its answer's status and headers say:
//! a JSON POST that follows no redirect, whether an answer is a redirect and
//! where to (host only), how long `Retry-After` asks to wait, and the error
//! for a status that is neither success nor a refused token.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cdr_core::Token;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::Client;
use crate::error::TransportError;
use crate::retry::parse_retry_after;
use crate::stats::bump;

impl Client {
    /// Posts the JSON `body` to `url` (with `token` as its bearer, if any)
    /// and refuses a redirect: API requests follow none, so that neither
    /// the password nor the token reaches a host a redirect names.
    pub(super) async fn post_json(
        &self,
        url: &Url,
        endpoint: &str,
        token: Option<&Token>,
        body: Bytes,
    ) -> Result<reqwest::Response, TransportError> {
        let inner = &*self.inner;
        bump(&self.counters.requests, 1);
        let mut request = inner
            .http
            .post(url.clone())
            .timeout(inner.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        let status = response.status();
        if is_redirect(status) {
            return Err(TransportError::Redirected {
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                host: self.scrub(&redirect_host(url, response.headers())),
            });
        }
        Ok(response)
    }
}

/// Where a redirect points, as `host[:port]` and nothing of its path or
/// query (which may be signed), or a note that it names nowhere.
pub(super) fn redirect_host(from: &Url, headers: &HeaderMap) -> String {
    let target = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| from.join(v.trim()).ok());
    match target {
        Some(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => "a URL without a host".to_string(),
        },
        None => "nowhere readable (no usable Location header)".to_string(),
    }
}

/// Whether a status is a redirect that a client would follow.
pub(super) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// The error for an unexpected HTTP status (not success, not 401), with the
/// server's (sanitized) words about it.
pub(crate) fn status_error(
    endpoint: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: String,
) -> TransportError {
    let retry_after = retry_after(headers);
    if status == StatusCode::TOO_MANY_REQUESTS {
        TransportError::RateLimited {
            endpoint: endpoint.to_string(),
            attempts: 1,
            retry_after,
        }
    } else {
        TransportError::Server {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            attempts: 1,
            detail,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_name_only_their_host() {
        let from = Url::parse("https://api.example.com/graphql").unwrap();
        let check = |location: Option<&str>, want: &str| {
            let mut headers = HeaderMap::new();
            if let Some(l) = location {
                headers.insert(LOCATION, l.parse().unwrap());
            }
            assert_eq!(redirect_host(&from, &headers), want, "{location:?}");
        };
        check(
            Some("https://evil.example:8443/steal?sig=S"),
            "evil.example:8443",
        );
        check(Some("/elsewhere?x=1"), "api.example.com");
        check(Some("//other.example/x"), "other.example");
        check(None, "nowhere readable (no usable Location header)");
        assert!(is_redirect(StatusCode::TEMPORARY_REDIRECT));
        assert!(!is_redirect(StatusCode::NOT_MODIFIED));
    }
}
