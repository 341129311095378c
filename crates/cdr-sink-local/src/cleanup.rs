//! The clean-up of temporary files left by dead uploads: which ones a
//! `Leftovers` covers, and their removal under the directory's lock, so a
//! live put's temporary file is never taken for a dead one.

use std::path::{Path, PathBuf};

use cdr_sink_api::{Leftovers, StoreError};

use crate::LocalDir;
use crate::blocking::blocking;
use crate::error::io;
use crate::lock::DirLock;
use crate::names::{LOCK_NAME, final_key_of_temp};

impl LocalDir {
    /// The temporary files `which` covers, removed: [`Destination::clean_incomplete`].
    /// The walk, the ages and the removal run in one blocking task (a unit
    /// cleans its partition each time it starts).
    ///
    /// [`Destination::clean_incomplete`]: cdr_sink_api::Destination::clean_incomplete
    pub(crate) async fn clean_temporaries(&self, which: &Leftovers) -> Result<u64, StoreError> {
        // Walk the directory the prefix names (or its parent, when it ends
        // inside a name) and judge each temporary file by its final key.
        let dir = match which.prefix.rsplit_once('/') {
            Some((dir, _)) => dir,
            None => "",
        };
        let (files, which) = (self.files(dir), which.clone());
        blocking(move || {
            let mut dead = Vec::new();
            for (key, path) in files()? {
                let Some(final_key) = final_key_of_temp(&key) else {
                    continue;
                };
                if !which.covers(&final_key) {
                    continue;
                }
                if !which.min_age.is_zero() {
                    let age = match std::fs::metadata(&path).and_then(|m| m.modified()) {
                        Ok(modified) => modified.elapsed().unwrap_or_default(),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io("stat", &path)(e)),
                    };
                    if age < which.min_age {
                        continue;
                    }
                }
                dead.push(path);
            }
            remove_temporaries(dead)
        })
        .await
    }
}

/// Removes temporary files. In a directory with a lock file, under its lock:
/// puts create and rename their temporary files while holding it, so a
/// temporary file seen under the lock belongs to no live put.
fn remove_temporaries(paths: Vec<PathBuf>) -> Result<u64, StoreError> {
    let mut n = 0;
    let mut by_dir: std::collections::BTreeMap<PathBuf, Vec<PathBuf>> = Default::default();
    for p in paths {
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
        by_dir.entry(dir).or_default().push(p);
    }
    for (dir, paths) in by_dir {
        let _lock = if dir.join(LOCK_NAME).exists() {
            Some(DirLock::take(&dir.join(LOCK_NAME))?)
        } else {
            None
        };
        for path in paths {
            match std::fs::remove_file(&path) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &path)(e)),
            }
        }
    }
    Ok(n)
}
