//! The answers the handlers give besides a page: canned errors, the 429 of
//! the quota and of the injected faults, the other injected faults (5xx, a
//! dropped connection, a cut-off body), and the one helper a failing body
//! needs to be seen as one.

use std::io;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};

use crate::hooks::ExpiredAnswer;

pub(crate) const JSON: &str = "application/json";

pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    respond(status, JSON, serde_json::to_vec(value).unwrap_or_default())
}

pub(crate) fn unauthorized() -> Response {
    respond(
        StatusCode::UNAUTHORIZED,
        JSON,
        r#"{"errors":[{"message":"unauthorized","extensions":{"code":"UNAUTHORIZED"}}]}"#,
    )
}

pub(crate) fn expired(answer: &ExpiredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    respond(status, JSON, answer.body())
}

pub(crate) fn rate_limited(retry_after: Option<u64>) -> Response {
    let mut r = respond(
        StatusCode::TOO_MANY_REQUESTS,
        JSON,
        r#"{"errors":[{"message":"too many requests"}]}"#,
    );
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

pub(crate) fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    respond(status, "text/html", body)
}

/// Returns to the connection once before a body fails, so that the headers
/// and the bytes already produced are written out first (the connection only
/// flushes when the body has nothing ready); otherwise the client would see
/// the connection closed before any response rather than a broken body.
pub(crate) async fn let_the_connection_flush() {
    tokio::task::yield_now().await;
}

/// A 200 whose body stops after its first half: the connection is dropped
/// after the headers and part of the body were sent.
pub(crate) fn reset(body: Vec<u8>) -> Response {
    let len = body.len() / 2;
    let half = Bytes::from(body).slice(..len);
    let stream = futures_util::stream::iter([Ok(half)]).chain(futures_util::stream::once(async {
        let_the_connection_flush().await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by the simulator",
        ))
    }));
    respond(StatusCode::OK, JSON, Body::from_stream(stream))
}

/// A complete 200 message whose JSON body is cut in half.
pub(crate) fn truncate(mut body: Vec<u8>) -> Response {
    body.truncate(body.len() / 2);
    respond(StatusCode::OK, JSON, body)
}
