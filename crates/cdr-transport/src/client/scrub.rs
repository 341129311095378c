//! Server text made safe to show: what an error answer's body says, on one
//! line, passed through [`cdr_core::sanitize`] with this client's password
//! and the tokens its logins returned redacted by value; GraphQL errors and
//! the messages a page carries treated the same way.

use std::sync::PoisonError;

use cdr_core::{GraphQlError, GraphQlErrors, Page, Token, decode_errors};

use super::Client;
use crate::config::Auth;

/// Login tokens remembered for redaction.
const TOKENS_REMEMBERED: usize = 4;

/// GraphQL errors kept from one answer; the rest are counted.
const MAX_ERRORS: usize = 5;

/// Text on one line: runs of whitespace (newlines included) become one space.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the server says in an error answer's body, on one line and not yet
/// sanitized: its GraphQL-style error messages, or else the body's text
/// (without the tags of an HTML page).
pub(crate) fn server_text(body: &[u8]) -> String {
    if let Some(errors) = decode_errors(body) {
        return one_line(&errors.to_string());
    }
    let text = String::from_utf8_lossy(body);
    if !text.trim_start().starts_with('<') {
        return one_line(&text);
    }
    let mut words = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                words.push(' ');
            }
            c if !in_tag => words.push(c),
            _ => {}
        }
    }
    one_line(&words)
}

impl Client {
    /// Server text made safe for errors and logs ([`cdr_core::sanitize`]),
    /// with this client's password and tokens redacted by value, and the
    /// values in `extra` too.
    pub(crate) fn scrub_with(&self, text: &str, extra: &[&str]) -> String {
        let seen = self
            .inner
            .tokens_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut secrets: Vec<&str> = seen.iter().map(Token::expose).collect();
        match &self.inner.auth {
            Auth::Token(t) => secrets.push(t.expose()),
            Auth::Login { password, .. } => secrets.push(password.expose()),
        }
        secrets.extend_from_slice(extra);
        cdr_core::sanitize(text, &secrets)
    }

    /// [`Client::scrub_with`] with this client's secrets alone.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.scrub_with(text, &[])
    }

    /// GraphQL errors with their text sanitized and their number bounded;
    /// only `message`, `path` and `extensions.code` are kept.
    pub(super) fn scrub_errors(&self, errors: GraphQlErrors) -> GraphQlErrors {
        use serde_json::Value;
        let total = errors.0.len();
        let mut kept: Vec<GraphQlError> = errors
            .0
            .into_iter()
            .take(MAX_ERRORS)
            .map(|e| {
                let code = e.code().map(|c| self.scrub(c));
                let path = e.path.map(|p| {
                    p.into_iter()
                        .take(8)
                        .map(|v| match v {
                            Value::String(s) => Value::String(self.scrub(&s)),
                            Value::Number(n) => Value::Number(n),
                            _ => Value::Null,
                        })
                        .collect()
                });
                let extensions = code.map(|c| {
                    let mut map = serde_json::Map::new();
                    map.insert("code".into(), Value::String(c));
                    map
                });
                GraphQlError {
                    message: self.scrub(&e.message),
                    path,
                    extensions,
                }
            })
            .collect();
        if total > MAX_ERRORS {
            kept.push(GraphQlError {
                message: format!("(and {} more)", total - MAX_ERRORS),
                path: None,
                extensions: None,
            });
        }
        GraphQlErrors(kept)
    }

    /// Remembers a token a login returned, to redact it from server text.
    pub(super) fn note_token(&self, token: &Token) {
        let mut seen = self
            .inner
            .tokens_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= TOKENS_REMEMBERED {
            seen.remove(0);
        }
        seen.push(token.clone());
    }
    /// Sanitizes the server text a page carries into messages and logs: the
    /// type names of unknown members and of bad records, and what is wrong
    /// with the latter. A bad record's `raw` JSON stays as it was sent: it is
    /// data, kept aside for the operator, not a message.
    pub(super) fn scrub_page(&self, page: &mut Page) {
        for member in &mut page.unknown {
            member.typename = self.scrub(&member.typename);
        }
        for bad in &mut page.bad {
            bad.typename = self.scrub(&bad.typename);
            bad.message = self.scrub(&bad.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use cdr_core::Password;

    #[test]
    fn server_messages_are_read_and_shortened() {
        let c = Client::new(ClientConfig::new(Auth::Login {
            email: "a@b.c".into(),
            password: Password::new("hunter2"),
        }))
        .unwrap();
        let message = |body: &[u8]| c.scrub(&server_text(body));
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        assert_eq!(message(body), "Invalid email or password.");
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
        assert_eq!(message(nginx), "502 Bad Gateway 502 Bad Gateway nginx");
        assert_eq!(message(b"busy\n"), "busy");
        let lines = br#"{"errors":[{"message":"token expired\n  log in\r\nagain"}]}"#;
        assert_eq!(message(lines), "token expired log in again");
        let long = format!(r#"{{"errors":[{{"message":"{}"}}]}}"#, "é".repeat(400));
        let m = message(long.as_bytes());
        assert!(m.chars().count() <= 301 && m.ends_with('…'), "{}", m.len());
        let hostile = "\x1b[2Jwrong password hunter2 for POAPK_abc\x07";
        assert_eq!(
            message(hostile.as_bytes()),
            "\\u{1b}[2Jwrong password <redacted> for <redacted>\\u{7}"
        );
    }
}
