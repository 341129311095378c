//! The errors of a response: GraphQL `errors` arrays and their
//! classification (the wordings of a refused token first), and bodies that
//! are not a usable page.

use std::fmt;

use serde::Deserialize;

/// What kind of failure a GraphQL `errors` array reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token is missing, expired or refused: log in again.
    Unauthorized,
    /// The query or one of its arguments is invalid: change the request.
    InvalidArgument,
    /// Anything else the server reported.
    Other,
}

/// One entry of a GraphQL `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphQlError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub path: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Phrases that say the token is missing, expired or refused, in the
/// wordings servers use (`tsg-api.md`, "Assumed"), matched in lowercase
/// messages and in codes with `_` read as a space.
const UNAUTHORIZED_PHRASES: [&str; 15] = [
    "unauthorized",
    "unauthenticated",
    "not authenticated",
    "authentication required",
    "authentication failed",
    "must be logged in",
    "not logged in",
    "login required",
    "jwt expired",
    "jwt malformed",
    "invalid jwt",
    "token expired",
    "expired token",
    "invalid token",
    "token is invalid",
];

/// Words for a credential and for what went wrong with it: a message with
/// one of each ("the bearer token has been revoked") blames the token.
const CREDENTIALS: [&str; 4] = ["token", "jwt", "bearer", "credential"];
const CREDENTIAL_STATES: [&str; 7] = [
    "expired",
    "invalid",
    "revoked",
    "malformed",
    "missing",
    "not valid",
    "required",
];
/// Messages that mention a token without meaning a credential: GraphQL
/// syntax errors ("Unexpected token") and page tokens.
const NOT_CREDENTIALS: [&str; 5] = [
    "syntax error",
    "unexpected token",
    "cursor",
    "page token",
    "pagination",
];

/// Whether a message or code blames the token.
fn blames_token(text: &str) -> bool {
    if UNAUTHORIZED_PHRASES.iter().any(|p| text.contains(p)) {
        return true;
    }
    !NOT_CREDENTIALS.iter().any(|p| text.contains(p))
        && CREDENTIALS.iter().any(|p| text.contains(p))
        && CREDENTIAL_STATES.iter().any(|p| text.contains(p))
}

impl GraphQlError {
    /// `extensions.code`, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.get("code")?.as_str()
    }

    /// Classifies this error from its code and message. Wordings of a
    /// refused token come first: "invalid token" blames the token, not the
    /// request, although it says "invalid".
    pub fn class(&self) -> ErrorClass {
        let code = self
            .code()
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace(['_', '-'], " ");
        let msg = self.message.to_ascii_lowercase();
        let has = |needle: &str| code.contains(needle) || msg.contains(needle);
        if blames_token(&code)
            || blames_token(&msg)
            || has("forbidden") && (msg.contains("token") || code.contains("token"))
        {
            ErrorClass::Unauthorized
        } else if has("bad user input")
            || has("validation")
            || has("invalid")
            || has("argument")
            || has("unknown field")
            || has("unknown type")
            || has("cannot query field")
            || has("must be")
            || has("parse")
        {
            ErrorClass::InvalidArgument
        } else {
            ErrorClass::Other
        }
    }
}

/// The `errors` array of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphQlErrors(pub Vec<GraphQlError>);

impl GraphQlErrors {
    /// The most actionable class among the errors: unauthorized first, then
    /// invalid argument, then other.
    pub fn class(&self) -> ErrorClass {
        let classes: Vec<ErrorClass> = self.0.iter().map(GraphQlError::class).collect();
        if classes.contains(&ErrorClass::Unauthorized) {
            ErrorClass::Unauthorized
        } else if classes.contains(&ErrorClass::InvalidArgument) {
            ErrorClass::InvalidArgument
        } else {
            ErrorClass::Other
        }
    }
}

impl fmt::Display for GraphQlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(empty errors array)");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&e.message)?;
            if let Some(code) = e.code() {
                write!(f, " [{code}]")?;
            }
        }
        Ok(())
    }
}

/// A response that is not a usable page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The server answered with an `errors` array.
    #[error("the server reported: {0}")]
    GraphQl(GraphQlErrors),
    /// The body is not JSON: cut short, or not JSON at all (an HTML page of a
    /// proxy, say). Asking again may give a whole answer.
    #[error("undecodable response: {message}")]
    Decode { message: String },
    /// The body is JSON, but not of the shape of a `cdrRecords` answer (no
    /// `paginationInfo`, a `cdrs` element that is not an object, ...); the
    /// message names the JSON path. The same answer would come again.
    #[error("unexpected response: {message}")]
    Shape { message: String },
    /// Valid JSON but no `data.cdrRecords` and no `errors`.
    #[error("response holds neither data.cdrRecords nor errors")]
    MissingData,
}

impl ResponseError {
    /// The GraphQL error class, if this is a GraphQL error.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            ResponseError::GraphQl(e) => Some(e.class()),
            _ => None,
        }
    }
}

/// Decodes only the `errors` array of a body, if it has one (for non-200 answers).
pub fn decode_errors(body: &[u8]) -> Option<GraphQlErrors> {
    #[derive(Deserialize)]
    struct OnlyErrors {
        errors: Option<Vec<GraphQlError>>,
    }
    serde_json::from_slice::<OnlyErrors>(body)
        .ok()?
        .errors
        .map(GraphQlErrors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classification_table() {
        use ErrorClass::{InvalidArgument, Other, Unauthorized};
        let check = |msg: &str, code: Option<&str>, want: ErrorClass| {
            let e = GraphQlError {
                message: msg.into(),
                path: None,
                extensions: code.map(|c| {
                    let mut m = serde_json::Map::new();
                    m.insert("code".into(), c.into());
                    m
                }),
            };
            assert_eq!(e.class(), want, "{msg} {code:?}");
        };
        // Every wording of a refused token, before the generic "invalid" rule.
        for msg in [
            "Unauthorized",
            "unauthenticated",
            "jwt expired",
            "JWT expired at 2026-11-01T00:00:00Z",
            "Token expired",
            "token expired, please log in again",
            "Expired token",
            "Invalid token",
            "invalid token: signature mismatch",
            "Token is invalid",
            "The token is invalid or has expired",
            "Your token has been revoked",
            "invalid JWT",
            "jwt malformed",
            "Bearer token missing",
            "Invalid credentials",
            "Not authenticated",
            "Authentication required",
            "authentication failed",
            "You must be logged in",
            "unauthenticated: the token has expired, log in again",
        ] {
            check(msg, None, Unauthorized);
        }
        for code in [
            "UNAUTHENTICATED",
            "unauthenticated",
            "UNAUTHORIZED",
            "INVALID_TOKEN",
            "TOKEN_EXPIRED",
        ] {
            check("Something went wrong", Some(code), Unauthorized);
            check("Invalid argument", Some(code), Unauthorized);
        }
        check("forbidden: the token lacks a scope", None, Unauthorized);
        // The request's own faults.
        check(
            "Unknown field \"foo\" on type \"ApiCdr\"",
            None,
            InvalidArgument,
        );
        check("limit must be between 1 and 1000", None, InvalidArgument);
        check("oops", Some("BAD_USER_INPUT"), InvalidArgument);
        check(
            "Invalid value for argument \"limit\"",
            None,
            InvalidArgument,
        );
        check(
            "invalid cursor: it was modified or belongs to another query",
            None,
            InvalidArgument,
        );
        check("Invalid page token", None, InvalidArgument);
        check(
            "Syntax Error: Unexpected token \"}\", invalid input",
            None,
            InvalidArgument,
        );
        check("database timeout", None, Other);
        check("forbidden", None, Other);
    }

    #[test]
    fn decode_errors_reads_401_bodies() {
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        let e = decode_errors(body).unwrap();
        assert_eq!(e.0[0].message, "Invalid email or password.");
        assert!(decode_errors(b"<html>502</html>").is_none());
    }
}
