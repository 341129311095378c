//! Where an object lives: the path of a key under the root, and the path of
//! a fresh temporary file beside it.

use std::path::PathBuf;

use cdr_sink_api::ObjectKey;

use crate::LocalDir;
use crate::names::temp_beside;

impl LocalDir {
    pub(crate) fn path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(key.as_str().split('/'));
        p
    }

    /// The path of `key` as text: [`Destination::location`].
    ///
    /// [`Destination::location`]: cdr_sink_api::Destination::location
    pub(crate) fn path_text(&self, key: &ObjectKey) -> String {
        self.path(key).display().to_string()
    }

    pub(crate) fn temp_path(&self, key: &ObjectKey) -> PathBuf {
        temp_beside(&self.path(key), key.file_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::final_key_of_temp;

    #[test]
    fn temporary_names_map_back_to_their_final_keys() {
        let key = ObjectKey::new("a/b.csv").unwrap();
        let dest = LocalDir::new("/out");
        let (one, two) = (dest.temp_path(&key), dest.temp_path(&key));
        assert_ne!(one, two);
        for temp in [one, two] {
            let rel = temp.strip_prefix("/out").unwrap().to_str().unwrap();
            assert_eq!(final_key_of_temp(rel).as_deref(), Some("a/b.csv"), "{rel}");
        }
        let cases = [
            ("a/.b.csv.12-3-0a1b2c3d.cdr-tmp", Some("a/b.csv")),
            ("a/.b.csv.12-3.cdr-tmp", Some("a/b.csv")),
            (".x.json.1-0.cdr-tmp", Some("x.json")),
            ("a/b.csv", None),
            ("a/.b.cdr-tmp", None),
            ("a/.cdr-lock", None),
        ];
        for (temp, want) in cases {
            assert_eq!(final_key_of_temp(temp).as_deref(), want, "{temp}");
        }
    }
}
