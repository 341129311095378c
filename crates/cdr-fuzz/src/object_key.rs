//! `ObjectKey`: a key is accepted exactly when it is a relative path of plain
//! segments (the rule written out again here, independently), and what it
//! says of itself (file name, parent, prefixes) is consistent. An accepted
//! key never climbs out of the directory it is joined to.

use std::path::{Component, Path};

use cdr_sink_api::ObjectKey;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = match ObjectKey::new(text) {
        Ok(key) => key,
        Err(e) => {
            assert!(!acceptable(text), "refused: {e}");
            assert_eq!(e.key, text);
            return;
        }
    };
    assert!(acceptable(text), "accepted: {key:?}");
    assert_eq!(key.as_str(), text);
    assert_eq!(key.to_string(), text);
    assert!(
        Path::new(text)
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "a key that is not a plain relative path: {text:?}"
    );
    let name = key.file_name();
    let parent = key.parent();
    assert!(ObjectKey::new(name).is_ok(), "file name {name:?}");
    if parent.is_empty() {
        assert_eq!(name, text);
    } else {
        assert_eq!(format!("{parent}/{name}"), text);
        assert!(ObjectKey::new(parent).is_ok(), "parent {parent:?}");
        assert!(key.is_under(parent) && key.is_under(&format!("{parent}/")));
        let joined = ObjectKey::new(parent)
            .and_then(|p| p.join(name))
            .expect("a parent joined to its file name");
        assert_eq!(joined, key);
    }
    assert!(key.is_under(""));
    assert!(!key.is_under(text), "a key is not under itself");
    assert_eq!(
        key.is_hidden(),
        text.split('/').any(|s| s.starts_with(['_', '.']))
    );
}

/// The rule, independently: relative, non-empty segments that are not `.` or
/// `..`, no backslash, no control character.
fn acceptable(text: &str) -> bool {
    !text.is_empty()
        && !text.chars().any(|c| c == '\\' || c.is_control())
        && text
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}
