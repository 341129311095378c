//! Errors of the HTTP library (reqwest) as this crate's: the kind of a
//! network failure, and its message on one line without the URL (which may
//! carry a signed export link).

use std::error::Error as StdError;

use super::{NetworkKind, TransportError};

impl TransportError {
    /// A network error from reqwest, described without its URL.
    pub(crate) fn network(endpoint: &str, e: reqwest::Error) -> TransportError {
        if e.is_builder() {
            return TransportError::Config {
                message: describe(&e.without_url()),
            };
        }
        TransportError::Network {
            endpoint: endpoint.to_string(),
            kind: network_kind(&e),
            attempts: 1,
            message: describe(&e.without_url()),
        }
    }
}

pub(crate) fn network_kind(e: &reqwest::Error) -> NetworkKind {
    if e.is_timeout() {
        NetworkKind::Timeout
    } else if e.is_connect() {
        NetworkKind::Connect
    } else if e.is_body() || e.is_decode() || e.is_request() {
        NetworkKind::Reset
    } else {
        NetworkKind::Other
    }
}

/// An error and its causes on one line. Only for errors that carry no URL
/// (reqwest errors must go through `without_url` first).
pub(crate) fn describe(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
