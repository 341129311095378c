//! Where an object lives: the path of a key under the root, the path of a
//! fresh temporary file beside it, and the creation of the directories
//! between the root and it.

use std::path::{Path, PathBuf};

use cdr_sink_api::{ObjectKey, StoreError};

use crate::LocalDir;
use crate::blocking::blocking;
use crate::create::create_dirs_below;
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

    /// Creates the directories from the root down to `path`'s parent,
    /// refusing any below the root that is a symbolic link (or not a
    /// directory): a link planted in a shared `--out` would send our files
    /// elsewhere. The root itself is the operator's to choose.
    pub(crate) async fn create_parent(&self, path: &Path) -> Result<(), StoreError> {
        let Some(parent) = path.parent().map(Path::to_path_buf) else {
            return Ok(());
        };
        let root = self.root.clone();
        blocking(move || create_dirs_below(&root, &parent)).await
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
