//! `cdr-sink-local`: the local-directory [`Destination`].
//!
//! An upload writes `.{name}.{unique}.cdr-tmp` beside its final name (hidden
//! from query engines by its leading `.`), fsyncs it, renames it into place and
//! fsyncs the directory, so a file under its final name is always whole.
//! It knows nothing of CDRs or formats.
//!
//! `--out` may be shared with other users, so nothing written here follows a
//! symbolic link someone else planted: temporary files are created
//! exclusively (`O_EXCL`, `O_NOFOLLOW`) under names with a random part, and
//! the directories below the root must be directories, not links.
//! [`write_file_atomically`] writes any other file (a run's summary, say) the
//! same way.
//!
//! # Example
//!
//! ```
//! use cdr_sink_api::{Destination, ObjectKey};
//! use cdr_sink_local::LocalDir;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let dest = LocalDir::new(dir.path());
//! let key = ObjectKey::new("cdr_type=sms/date=2026-11-01/part-0.csv").unwrap();
//! let mut upload = dest.begin(&key, "text/csv").await.unwrap();
//! upload.write("datetime\n".into()).await.unwrap();
//! // Not visible to readers before the commit.
//! assert!(dest.get(&key).await.unwrap().is_none());
//! let meta = upload.commit().await.unwrap();
//! assert_eq!(meta.size, 9);
//! assert_eq!(dest.get(&key).await.unwrap().unwrap(), "datetime\n");
//! # });
//! ```

mod atomic;
mod blocking;
mod cleanup;
mod conditional;
mod create;
mod error;
mod listing;
mod lock;
mod names;
mod paths;
mod probe;
mod upload;

use std::path::{Path, PathBuf};

pub use crate::atomic::write_file_atomically;

use async_trait::async_trait;
use bytes::Bytes;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

use crate::atomic::{sync_dir_blocking, write_durably};
use crate::blocking::blocking;
use crate::conditional::read_versioned;
use crate::error::io;
use crate::lock::DirLock;
use crate::probe::probe;

/// A local directory. Objects are files under it; an upload writes
/// `.{name}.{unique}.cdr-tmp` beside its final name, fsyncs it, renames it into
/// place and fsyncs the directory, so a finished-looking file is always whole.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// A destination rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl Destination for LocalDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn location(&self, key: &ObjectKey) -> String {
        self.path_text(key)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(io("create directory", &self.root))?;
        let root = self.root.clone();
        blocking(move || probe(&root)).await
    }

    async fn begin(
        &self,
        key: &ObjectKey,
        _content_type: &str,
    ) -> Result<Box<dyn Upload>, StoreError> {
        Ok(Box::new(self.start_upload(key).await?))
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        _content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        // Under the directory's lock, like conditional writes, so that
        // `clean_incomplete` never takes a live put's temporary file for a
        // dead one.
        let final_path = self.path(key);
        self.create_parent(&final_path).await?;
        let temp = self.temp_path(key);
        let meta = ObjectMeta {
            key: key.clone(),
            size: body.len() as u64,
        };
        blocking(move || {
            let _lock = DirLock::take(&final_path)?;
            write_durably(&temp, &final_path, &body)
        })
        .await?;
        Ok(meta)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    async fn read(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        use futures_util::StreamExt;
        let path = self.path(key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(io("open", &path))?;
        let stream = futures_util::stream::unfold((file, path), |(mut file, path)| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, path)))
                }
                Err(e) => {
                    let err = io("read", &path)(e);
                    Some((Err(err), (file, path)))
                }
            }
        });
        // Stop after the first error.
        let mut failed = false;
        Ok(stream
            .take_while(move |r| {
                let go = !failed;
                failed |= r.is_err();
                futures_util::future::ready(go)
            })
            .boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.list_objects(prefix).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        }
    }

    async fn clean_incomplete(&self, which: &Leftovers) -> Result<u64, StoreError> {
        self.clean_temporaries(which).await
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        let (from_path, to_path) = (self.path(from), self.path(to));
        self.create_parent(&to_path).await?;
        blocking(move || {
            std::fs::rename(&from_path, &to_path).map_err(io("rename into", &to_path))?;
            for dir in [to_path.parent(), from_path.parent()].into_iter().flatten() {
                sync_dir_blocking(dir)?;
            }
            Ok(())
        })
        .await
    }

    async fn put_if(
        &self,
        key: &ObjectKey,
        body: Bytes,
        _content_type: &str,
        precondition: &Precondition,
    ) -> Result<Version, StoreError> {
        self.conditional_put(key, body, precondition).await
    }

    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        let path = self.path(key);
        blocking(move || read_versioned(&path)).await
    }

    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        self.conditional_delete(key, version).await
    }

    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        // Every process that shares a local directory shares this clock.
        Ok(std::time::SystemTime::now())
    }
}

#[cfg(test)]
mod tests;
