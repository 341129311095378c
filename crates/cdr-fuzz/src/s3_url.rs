//! The `s3://bucket/prefix/` parser: it never panics; a URL it accepts has a
//! valid bucket name and a prefix that is empty or a valid key ending in `/`,
//! and it prints back to a URL that parses to the same location; an error is
//! one line and never repeats what stood before an `@`.

use cdr_sink_api::ObjectKey;
use cdr_sink_s3::{ConfigError, S3Url};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match S3Url::parse(text) {
        Ok(url) => {
            let bucket = url.bucket();
            assert!((3..=63).contains(&bucket.len()), "{url:?}");
            assert!(
                bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
                "{url:?}"
            );
            let prefix = url.prefix();
            if !prefix.is_empty() {
                let dir = prefix.strip_suffix('/').expect("a prefix ends with /");
                assert!(ObjectKey::new(dir).is_ok(), "{url:?}");
            }
            let again = S3Url::parse(&url.to_string()).expect("a printed URL parses");
            assert_eq!(again, url);
            let key = ObjectKey::new("a/b.csv").expect("a key");
            assert_eq!(url.key(&key), format!("{prefix}a/b.csv"));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains(['\n', '\r']), "not one line: {message:?}");
            let ConfigError::BadUrl { url: shown, .. } = e else {
                panic!("not a BadUrl: {message}");
            };
            // The URL as the error repeats it (the rest of the message is
            // fixed wording, which may well contain "s3"); `s3://…` is the
            // form that repeats none of it.
            if let Some((secret, _)) = text.split_once('@')
                && shown != "s3://…"
            {
                let secret = secret.strip_prefix("s3://").unwrap_or(secret);
                if !secret.is_empty() && !secret.contains('/') {
                    assert!(!shown.contains(secret), "repeats {secret:?}: {message}");
                }
            }
        }
    }
}
