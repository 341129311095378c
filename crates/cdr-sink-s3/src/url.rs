//! [`S3Url`]: `s3://bucket/prefix/` parsed and checked, and the S3 key of
//! an object key under it.

use std::fmt;
use std::str::FromStr;

use cdr_sink_api::ObjectKey;

use crate::error::ConfigError;

/// A parsed `s3://bucket/prefix/` location: the bucket, and a key prefix that is
/// empty or ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    bucket: String,
    prefix: String,
}

/// The URL as an error may repeat it: on one line (line breaks and other
/// control characters escaped), and not at all when it holds an `@`, before
/// which credentials may stand.
fn shown(url: &str) -> String {
    if url.contains('@') {
        "s3://…".to_string()
    } else {
        url.escape_debug().to_string()
    }
}

impl S3Url {
    /// Parses `s3://bucket`, `s3://bucket/` or `s3://bucket/some/prefix[/]`.
    ///
    /// The prefix is a directory: `s3://b/cdrs` and `s3://b/cdrs/` both store
    /// objects under `cdrs/`. Errors say what to change, on one line, and never
    /// repeat credentials written into the URL.
    pub fn parse(url: &str) -> Result<S3Url, ConfigError> {
        let bad = |problem: &str| {
            Err(ConfigError::BadUrl {
                url: shown(url),
                problem: problem.to_string(),
            })
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("remove the spaces or control characters");
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            let lower = url.to_ascii_lowercase();
            return if lower.starts_with("s3://") {
                bad("write the scheme in lowercase: s3://bucket/prefix/")
            } else if lower.starts_with("s3:") {
                bad("write it as s3://bucket/prefix/")
            } else if lower.starts_with("http://") || lower.starts_with("https://") {
                bad(
                    "write the bucket as s3://bucket/prefix/ and give the endpoint in AWS_ENDPOINT_URL",
                )
            } else {
                bad("it must start with s3://, as in s3://bucket/prefix/")
            };
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.contains('@') || bucket.contains(':') {
            // Never echo what may be a secret or a host.
            return Err(ConfigError::BadUrl {
                url: "s3://…".to_string(),
                problem: "put only the bucket name after s3:// (no credentials, host or port): \
                          credentials come from the AWS environment, the endpoint from AWS_ENDPOINT_URL"
                    .to_string(),
            });
        }
        if url.contains('?') || url.contains('#') {
            return bad("remove the query string or fragment");
        }
        if bucket.is_empty() {
            return bad("it names no bucket: write s3://bucket/prefix/");
        }
        if let Err(problem) = check_bucket(bucket) {
            return bad(&problem);
        }
        if prefix.starts_with('/') {
            return bad(
                "the prefix has an empty segment: write s3://bucket/prefix/ with single slashes",
            );
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            match ObjectKey::new(prefix) {
                Ok(_) => format!("{prefix}/"),
                Err(e) => {
                    return bad(&format!(
                        "the prefix `{prefix}` is not usable: {}",
                        e.reason
                    ));
                }
            }
        };
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix: empty, or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 key of `key` under this prefix.
    pub fn key(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl FromStr for S3Url {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<S3Url, ConfigError> {
        S3Url::parse(s)
    }
}

/// The general-purpose bucket naming rules, with the fix in the message.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let lower = bucket.to_ascii_lowercase();
    if lower != bucket && check_bucket(&lower).is_ok() {
        return Err(format!("bucket names are lowercase: write `{lower}`"));
    }
    let rules = "bucket names are 3 to 63 lowercase letters, digits, `.` and `-`, \
                 starting and ending with a letter or digit";
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        || !ends_ok(bucket.chars().next())
        || !ends_ok(bucket.chars().last())
        || bucket.contains("..")
    {
        return Err(format!("`{bucket}` is not a bucket name: {rules}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str, bucket: &str, prefix: &str) {
        let parsed = S3Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            (parsed.bucket(), parsed.prefix()),
            (bucket, prefix),
            "{url}"
        );
        // Display round-trips.
        assert_eq!(S3Url::parse(&parsed.to_string()).unwrap(), parsed);
    }

    fn bad(url: &str, expected: &str) {
        let err = S3Url::parse(url).expect_err(url).to_string();
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains('\n'), "{url}: multi-line error {err}");
    }

    #[test]
    fn good_urls() {
        ok("s3://bucket", "bucket", "");
        ok("s3://bucket/", "bucket", "");
        ok("s3://my-bucket/cdrs", "my-bucket", "cdrs/");
        ok("s3://my-bucket/cdrs/", "my-bucket", "cdrs/");
        ok("s3://b.example.com/a/b=1/c/", "b.example.com", "a/b=1/c/");
        ok("s3://123/x_y/", "123", "x_y/");
    }

    #[test]
    fn bad_urls_say_what_to_change() {
        bad("", "must start with s3://");
        bad("bucket/prefix", "must start with s3://");
        bad("/data/archive", "must start with s3://");
        bad("S3://bucket/", "lowercase");
        bad("s3:/bucket/", "write it as s3://bucket/prefix/");
        bad("s3:bucket", "write it as s3://bucket/prefix/");
        bad("https://s3.amazonaws.com/b/", "AWS_ENDPOINT_URL");
        bad("s3://", "names no bucket");
        bad("s3:///prefix/", "names no bucket");
        bad("s3://My-Bucket/", "write `my-bucket`");
        bad("s3://My_Bucket/", "is not a bucket name");
        bad("s3://ab/", "3 to 63");
        bad("s3://under_score/", "is not a bucket name");
        bad("s3://-dash/", "is not a bucket name");
        bad("s3://dash-/", "is not a bucket name");
        bad("s3://a..b/", "is not a bucket name");
        bad(&format!("s3://{}/", "a".repeat(64)), "3 to 63");
        bad("s3://bucket/a//b/", "empty, `.` or `..` segment");
        bad("s3://bucket/a/../b/", "empty, `.` or `..` segment");
        bad("s3://bucket//", "empty segment");
        bad("s3://bucket//a", "empty segment");
        bad("s3://bucket/a\\b", "backslash");
        bad("s3://bucket/prefix?versionId=1", "remove the query string");
        bad("s3://bucket/prefix#x", "remove the query string");
        bad("s3://bucket/my prefix/", "remove the spaces");
        bad("s3://localhost:9000/bucket/", "AWS_ENDPOINT_URL");
    }

    #[test]
    fn credentials_in_a_url_are_not_echoed() {
        let err = S3Url::parse("s3://AKIAEXAMPLE:hunter2@bucket/p/")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("hunter2") && !err.contains("AKIAEXAMPLE"),
            "{err}"
        );
        assert!(err.contains("no credentials"), "{err}");
    }

    #[test]
    fn an_error_repeats_the_url_on_one_line_and_never_with_credentials() {
        let err = S3Url::parse("/3\n\0x").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid S3 URL `/3\\n\\0x`: remove the spaces or control characters"
        );
        let err = S3Url::parse("s3://key:secret@bucket/a b/")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn keys_are_prefixed() {
        let url = S3Url::parse("s3://bkt/archive").unwrap();
        let key = ObjectKey::new("cdr_type=sms/part-0.csv").unwrap();
        assert_eq!(url.key(&key), "archive/cdr_type=sms/part-0.csv");
        let root = S3Url::parse("s3://bkt").unwrap();
        assert_eq!(root.key(&key), "cdr_type=sms/part-0.csv");
        assert_eq!(root.to_string(), "s3://bkt/");
    }
}
