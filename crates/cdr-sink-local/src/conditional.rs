//! Conditional writes and deletes: versions (the SHA-256 of the bytes), and
//! the check of a precondition and the write or delete it guards, both under
//! the directory's lock so two processes never both pass one precondition.

use std::path::Path;

use bytes::Bytes;
use cdr_sink_api::{ObjectKey, Precondition, StoreError, Version, Versioned};
use sha2::{Digest, Sha256};

use crate::LocalDir;
use crate::atomic::{sync_dir_blocking, write_durably};
use crate::blocking::blocking;
use crate::create::create_parent_of;
use crate::error::io;
use crate::lock::DirLock;

impl LocalDir {
    /// Writes `body` if `precondition` holds: [`Destination::put_if`].
    ///
    /// [`Destination::put_if`]: cdr_sink_api::Destination::put_if
    pub(crate) async fn conditional_put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        let final_path = self.path(key);
        let temp = self.temp_path(key);
        let precondition = precondition.clone();
        let location = self.path_text(key);
        let root = self.root.clone();
        blocking(move || {
            create_parent_of(&root, &final_path)?;
            let _lock = DirLock::take(&final_path)?;
            let holds = match (&precondition, read_versioned(&final_path)?) {
                (Precondition::Absent, None) => true,
                (Precondition::Matches(v), Some(current)) => current.version == *v,
                _ => false,
            };
            if !holds {
                return Err(StoreError::PreconditionFailed {
                    operation: "put",
                    location,
                });
            }
            write_durably(&temp, &final_path, &body)?;
            Ok(version_of(&body))
        })
        .await
    }

    /// Deletes `key` if it is at `version`: [`Destination::delete_if`].
    ///
    /// [`Destination::delete_if`]: cdr_sink_api::Destination::delete_if
    pub(crate) async fn conditional_delete(
        &self,
        key: &ObjectKey,
        version: &Version,
    ) -> Result<(), StoreError> {
        let path = self.path(key);
        let version = version.clone();
        let location = self.path_text(key);
        blocking(move || {
            if !path.exists() {
                return Ok(());
            }
            let _lock = DirLock::take(&path)?;
            match read_versioned(&path)? {
                None => Ok(()),
                Some(current) if current.version == version => {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io("remove", &path)(e)),
                    }
                    if let Some(parent) = path.parent() {
                        sync_dir_blocking(parent)?;
                    }
                    Ok(())
                }
                Some(_) => Err(StoreError::PreconditionFailed {
                    operation: "delete",
                    location,
                }),
            }
        })
        .await
    }
}

/// The version of a file's bytes: their SHA-256, which every process (and
/// every cdr-sink version) computes alike.
fn version_of(body: &[u8]) -> Version {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    Version::new(hex)
}

pub(crate) fn read_versioned(path: &Path) -> Result<Option<Versioned>, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", path)(e)),
    };
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(io("stat", path))?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut body).map_err(io("read", path))?;
    Ok(Some(Versioned {
        version: version_of(&body),
        body: Bytes::from(body),
        modified,
    }))
}
