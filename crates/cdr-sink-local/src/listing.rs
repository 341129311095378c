//! Listing: a walk of the tree under a prefix's directory, and the objects
//! in it (temporary files and lock files left out).

use std::path::{Path, PathBuf};

use cdr_sink_api::{ObjectKey, ObjectMeta, StoreError};

use crate::LocalDir;
use crate::blocking::blocking;
use crate::error::io;
use crate::names::{LOCK_NAME, TMP_SUFFIX};

/// Walks the tree under `dir`, adding each file with its key text (`rel`
/// and the path below `dir`) to `out`; a missing `dir` holds no files.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        // An entry removed while the directory is read (another unit
        // replacing its files) is simply not listed.
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ty = match entry.file_type() {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if ty.is_dir() {
            walk(&entry.path(), &key, out)?;
        } else if ty.is_file() {
            out.push((key, entry.path()));
        }
    }
    Ok(())
}

impl LocalDir {
    /// Every file under the directory `prefix` names, with its key text: a
    /// walk to run inside the blocking task that also does the rest of the
    /// caller's work, so that a listing or a clean-up is one thread hand-over.
    pub(crate) fn files(
        &self,
        prefix: &str,
    ) -> impl FnOnce() -> Result<Vec<(String, PathBuf)>, StoreError> + Send + 'static + use<> {
        let prefix = prefix.trim_end_matches('/').to_string();
        let mut dir = self.root.clone();
        if !prefix.is_empty() {
            dir.extend(prefix.split('/'));
        }
        let root = self.root.clone();
        move || {
            let mut out = Vec::new();
            walk(&dir, &prefix, &mut out).map_err(io("list", &root))?;
            Ok(out)
        }
    }

    /// The objects under `prefix`, sorted by key: [`Destination::list`].
    /// The walk and every file's `stat` run in one blocking task: a task per
    /// file cost each unit's listing of its partition two thread hand-overs
    /// per file already there (measured in docs/performance.md).
    ///
    /// [`Destination::list`]: cdr_sink_api::Destination::list
    pub(crate) async fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let files = self.files(prefix);
        blocking(move || {
            let files = files()?;
            let mut out = Vec::with_capacity(files.len());
            for (key, path) in files {
                if key.rsplit('/').next().is_some_and(|n| {
                    n.ends_with(TMP_SUFFIX) && n.starts_with('.') || n == LOCK_NAME
                }) {
                    continue;
                }
                let Ok(key) = ObjectKey::new(key) else {
                    continue;
                };
                let (size, modified) = match std::fs::metadata(&path) {
                    Ok(m) => (m.len(), m.modified().ok()),
                    // Deleted since the directory was read: not listed.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io("stat", &path)(e)),
                };
                out.push(ObjectMeta {
                    key,
                    size,
                    modified,
                });
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }
}
