//! Server text made fit for a log line, an error or a summary: a hostile or
//! broken server controls the messages it sends, and those messages end up
//! on terminals and in files people read.
//!
//! [`sanitize`] replaces secrets (the exact values the caller knows, and
//! anything shaped like a TSG token or a bearer credential) with
//! `<redacted>`, escapes control characters (terminal escape sequences
//! included) and the invisible characters that reorder text, and shortens
//! the result to [`SANITIZED_MAX_CHARS`] characters.

/// The longest text [`sanitize`] returns, in characters, before the `…` that
/// marks a cut.
pub const SANITIZED_MAX_CHARS: usize = 300;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Known secrets shorter than this are not searched for: a one- or two-letter
/// value would blank out half of every message.
const MIN_SECRET_CHARS: usize = 4;

/// The prefix of TSG login tokens (`POAPK_...`), matched in any case.
const TOKEN_PREFIX: &str = "poapk_";

/// The scheme word of an `Authorization` value, matched in any case.
const BEARER: &str = "bearer ";

/// `text` made safe to print, at most [`SANITIZED_MAX_CHARS`] characters
/// (plus `…` when cut); see [`sanitize_to`].
pub fn sanitize(text: &str, secrets: &[&str]) -> String {
    sanitize_to(text, secrets, SANITIZED_MAX_CHARS)
}

/// `text` made safe to print:
///
/// - every occurrence of a value in `secrets` (of at least four characters),
///   every `POAPK_…` token and the credential after `Bearer ` is replaced by
///   `<redacted>`;
/// - control characters (C0, DEL, C1, so `ESC` and every terminal escape
///   sequence) and the bidirectional and zero-width format characters are
///   written as `\n`, `\r`, `\t` or `\u{…}`;
/// - the result is cut to `max_chars` characters, with `…` appended when cut.
///
/// Secrets are replaced before the text is cut, so a cut never leaves the
/// first half of one. Pure, and linear in the part of `text` it keeps.
pub fn sanitize_to(text: &str, secrets: &[&str], max_chars: usize) -> String {
    let secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.chars().count() >= MIN_SECRET_CHARS)
        .collect();
    // Only a prefix can reach the output; it is long enough to hold any known
    // secret that starts inside the part kept.
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    let budget = max_chars
        .saturating_mul(4)
        .saturating_add(longest)
        .saturating_add(4);
    let source = prefix_of(text, budget);

    let mut out = String::with_capacity(max_chars.min(source.len()) + 8);
    let mut shown = 0usize;
    let mut rest = source;
    while !rest.is_empty() {
        let (piece, used): (std::borrow::Cow<'_, str>, usize) =
            if let Some(n) = secret_at(rest, &secrets) {
                (REDACTED.into(), n)
            } else if let Some(n) = token_at(rest) {
                (REDACTED.into(), n)
            } else if let Some((word, n)) = bearer_at(rest) {
                (format!("{word}{REDACTED}").into(), n)
            } else {
                let c = rest.chars().next().unwrap_or_default();
                (escape(c), c.len_utf8())
            };
        let width = piece.chars().count();
        if shown + width > max_chars {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        shown += width;
        rest = &rest[used..];
    }
    if source.len() < text.len() {
        out.push('…');
    }
    out
}

/// The first `max_bytes` bytes of `text`, cut at a character boundary.
fn prefix_of(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// The length of the known secret `text` starts with, if any (the longest).
fn secret_at(text: &str, secrets: &[&str]) -> Option<usize> {
    secrets
        .iter()
        .filter(|s| text.starts_with(**s))
        .map(|s| s.len())
        .max()
}

/// The length of the `POAPK_…` token `text` starts with, if any.
fn token_at(text: &str) -> Option<usize> {
    let head = text.get(..TOKEN_PREFIX.len())?;
    if !head.eq_ignore_ascii_case(TOKEN_PREFIX) {
        return None;
    }
    Some(TOKEN_PREFIX.len() + credential_len(&text[TOKEN_PREFIX.len()..]))
}

/// The `Bearer ` word (as written) and the length up to the end of the
/// credential after it, when `text` starts with one.
fn bearer_at(text: &str) -> Option<(&str, usize)> {
    let head = text.get(..BEARER.len())?;
    if !head.eq_ignore_ascii_case(BEARER) {
        return None;
    }
    let n = credential_len(&text[BEARER.len()..]);
    (n > 0).then_some((head, BEARER.len() + n))
}

/// The length of the run of token characters (RFC 6750's `b64token`, which
/// covers JWTs and `POAPK_` tokens) at the start of `text`.
fn credential_len(text: &str) -> usize {
    text.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b))
        .count()
}

/// A character as printed: itself, or an escape when it controls a terminal
/// or reorders text.
fn escape(c: char) -> std::borrow::Cow<'static, str> {
    match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c if c.is_control() || is_format_trap(c) => format!("\\u{{{:x}}}", c as u32).into(),
        c => String::from(c).into(),
    }
}

/// Invisible characters that change how the text around them is shown:
/// bidirectional overrides and isolates, zero-width characters, the BOM.
fn is_format_trap(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, secrets: &[&str], want: &str) {
        assert_eq!(sanitize(text, secrets), want, "{text:?}");
    }

    #[test]
    fn plain_text_is_kept() {
        check(
            "Invalid email or password.",
            &[],
            "Invalid email or password.",
        );
        check("", &[], "");
        check("café – ok", &["hunter2"], "café – ok");
    }

    #[test]
    fn control_characters_and_escape_sequences_are_escaped() {
        check("a\nb\r\tc", &[], "a\\nb\\r\\tc");
        check("\x1b[31mred\x1b[0m", &[], "\\u{1b}[31mred\\u{1b}[0m");
        // An OSC sequence that would set the terminal's title, ended by BEL.
        check("\x1b]0;pwned\x07", &[], "\\u{1b}]0;pwned\\u{7}");
        check("\u{9b}2J\u{7f}\0", &[], "\\u{9b}2J\\u{7f}\\u{0}");
        check(
            "admin\u{202E}txt.exe\u{200B}",
            &[],
            "admin\\u{202e}txt.exe\\u{200b}",
        );
    }

    #[test]
    fn secrets_are_redacted() {
        check(
            "bad password hunter2!",
            &["hunter2"],
            "bad password <redacted>!",
        );
        check(
            "token POAPK_abc-123.x was revoked",
            &[],
            "token <redacted> was revoked",
        );
        check("poapk_LOWER", &[], "<redacted>");
        check(
            "Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig== refused",
            &[],
            "Authorization: Bearer <redacted> refused",
        );
        check("BEARER xyz", &[], "BEARER <redacted>");
        // A bare word is not a credential.
        check("bearer ", &[], "bearer ");
        // The longest secret wins; short ones are left alone.
        check("abcdefgh", &["abcd", "abcdefgh", "ab"], "<redacted>");
        check("ab ab", &["ab"], "ab ab");
        // A secret with an escape in it is still found.
        check("x\x1bsecret\x1b", &["\x1bsecret"], "x<redacted>\\u{1b}");
    }

    #[test]
    fn long_text_is_cut_after_redaction() {
        let long = "é".repeat(1000);
        let s = sanitize(&long, &[]);
        assert_eq!(s.chars().count(), SANITIZED_MAX_CHARS + 1);
        assert!(s.ends_with('…'));
        // A secret that straddles the cut is not half shown.
        let secret = "S3CRET-".repeat(20);
        let text = format!("{}{secret}", "x".repeat(SANITIZED_MAX_CHARS - 5));
        let s = sanitize(&text, &[&secret]);
        assert!(!s.contains("S3C"), "{s}");
        // Escapes count in the length, and are never cut in half.
        let s = sanitize_to("\x1b\x1b\x1b", &[], 10);
        assert_eq!(s, "\\u{1b}…");
        // A huge text costs only its prefix.
        let huge = "a".repeat(5_000_000);
        assert_eq!(sanitize_to(&huge, &[], 3), "aaa…");
        let s = sanitize_to("abcdef", &[], 6);
        assert_eq!(s, "abcdef");
    }
}
