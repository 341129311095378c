use std::fmt;

/// A relative, `/`-separated object name such as
/// `cdr_type=sms/date=2026-11-01/part-0.parquet`: the same for every destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// A name that cannot be used as an object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object key `{key}`: {reason}")]
pub struct InvalidKey {
    pub key: String,
    pub reason: &'static str,
}

impl ObjectKey {
    /// Checks that `key` is relative, has no empty, `.` or `..` segment, and no
    /// backslash or control character.
    pub fn new(key: impl Into<String>) -> Result<ObjectKey, InvalidKey> {
        let key = key.into();
        let bad = |reason| {
            Err(InvalidKey {
                key: key.clone(),
                reason,
            })
        };
        if key.is_empty() {
            return bad("it is empty");
        }
        if key.starts_with('/') {
            return bad("it must be relative");
        }
        if key.contains('\\') || key.chars().any(char::is_control) {
            return bad("it holds a backslash or a control character");
        }
        if key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return bad("it has an empty, `.` or `..` segment");
        }
        Ok(ObjectKey(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Everything before the last segment (empty at the top).
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(p, _)| p)
    }

    /// `self/child`.
    pub fn join(&self, child: &str) -> Result<ObjectKey, InvalidKey> {
        ObjectKey::new(format!("{}/{}", self.0, child))
    }

    /// Whether this key lies under `prefix` (a key prefix ending at a segment
    /// boundary, or empty for everything).
    pub fn is_under(&self, prefix: &str) -> bool {
        let p = prefix.trim_end_matches('/');
        p.is_empty()
            || (self.0.len() > p.len()
                && self.0.starts_with(p)
                && self.0.as_bytes()[p.len()] == b'/')
    }

    /// Whether any segment starts with `_` or `.`, which query engines skip.
    pub fn is_hidden(&self) -> bool {
        self.0
            .split('/')
            .any(|s| s.starts_with('_') || s.starts_with('.'))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = ObjectKey::new("a=1/b=2/part.csv").unwrap();
        assert_eq!(k.file_name(), "part.csv");
        assert_eq!(k.parent(), "a=1/b=2");
        assert!(k.is_under("a=1"));
        assert!(k.is_under("a=1/"));
        assert!(k.is_under(""));
        assert!(!k.is_under("a=10"));
        assert!(!k.is_hidden());
        assert!(ObjectKey::new("_state/x").unwrap().is_hidden());
        assert!(ObjectKey::new("a/.tmp").unwrap().is_hidden());
        for bad in ["", "/abs", "a//b", "a/../b", "./a", "a\\b", "a/\n", "a/"] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?}");
        }
    }
}
