//! `LocalUpload`: a streamed write into a temporary file, made visible
//! under its final name by `commit` (fsync, rename, directory fsync) and
//! removed by `abort` or when dropped unfinished.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use cdr_sink_api::{ObjectKey, ObjectMeta, StoreError, Upload};

use crate::LocalDir;
use crate::atomic::finish_durably;
use crate::blocking::blocking;
use crate::create::{create_exclusive, create_parent_of};
use crate::error::io;

/// Bytes an upload gathers before writing them out: one thread hand-over
/// per 256 KiB instead of one per chunk.
const BUFFER: usize = 256 * 1024;

impl LocalDir {
    /// A new upload of `key`: [`Destination::begin`].
    ///
    /// [`Destination::begin`]: cdr_sink_api::Destination::begin
    pub(crate) async fn start_upload(&self, key: &ObjectKey) -> Result<LocalUpload, StoreError> {
        let final_path = self.path(key);
        let temp = self.temp_path(key);
        // The parent directories and the temporary file in one blocking task.
        let file = blocking({
            let (root, temp) = (self.root.clone(), temp.clone());
            let final_path = final_path.clone();
            move || {
                create_parent_of(&root, &final_path)?;
                create_exclusive(&temp).map_err(io("create", &temp))
            }
        })
        .await?;
        Ok(LocalUpload {
            key: key.clone(),
            file: Some(file),
            buffer: Vec::new(),
            temp,
            final_path,
            size: 0,
            open: true,
            writes_finished: false,
        })
    }
}

/// A streamed write into a hidden temporary file: bytes gather in a buffer
/// and go out in blocking tasks of [`BUFFER`] bytes; `commit` writes the
/// rest, fsyncs, renames and fsyncs the directory in one blocking task.
pub(crate) struct LocalUpload {
    key: ObjectKey,
    /// `None` while a write is out, and after a failed one.
    file: Option<std::fs::File>,
    buffer: Vec<u8>,
    temp: PathBuf,
    final_path: PathBuf,
    size: u64,
    /// Neither committed nor aborted: the temporary file is ours to remove.
    open: bool,
    /// `finish_writes` was called: only `commit` or `abort` may follow.
    writes_finished: bool,
}

impl LocalUpload {
    fn take_file(&mut self) -> Result<std::fs::File, StoreError> {
        if !self.open {
            return Err(StoreError::Closed(self.key.to_string()));
        }
        self.file.take().ok_or_else(|| StoreError::Io {
            operation: "write",
            path: self.temp.display().to_string(),
            source: std::io::Error::other("an earlier write to this file failed"),
        })
    }

    /// Writes the gathered bytes, then `more`, out in one blocking task.
    async fn write_out(&mut self, more: Bytes) -> Result<(), StoreError> {
        let mut file = self.take_file()?;
        let buffer = std::mem::take(&mut self.buffer);
        let temp = self.temp.clone();
        let (file, mut buffer) = blocking(move || {
            for bytes in [&buffer[..], &more[..]] {
                std::io::Write::write_all(&mut file, bytes).map_err(io("write", &temp))?;
            }
            Ok((file, buffer))
        })
        .await?;
        buffer.clear();
        self.file = Some(file);
        self.buffer = buffer;
        Ok(())
    }
}

#[async_trait]
impl Upload for LocalUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        if !self.open || self.writes_finished {
            return Err(StoreError::Closed(self.key.to_string()));
        }
        let n = chunk.len() as u64;
        if self.buffer.len() + chunk.len() >= BUFFER {
            self.write_out(chunk).await?;
        } else {
            self.buffer.extend_from_slice(&chunk);
        }
        self.size += n;
        Ok(())
    }

    async fn finish_writes(&mut self) -> Result<(), StoreError> {
        if !self.buffer.is_empty() {
            self.write_out(Bytes::new()).await?;
        }
        // The file waits for its commit without a buffer.
        self.buffer = Vec::new();
        self.writes_finished = true;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        let file = self.take_file()?;
        self.open = false;
        let buffer = std::mem::take(&mut self.buffer);
        let (temp, final_path) = (self.temp.clone(), self.final_path.clone());
        // The rest, fsync, rename, directory fsync: one blocking task.
        blocking(move || finish_durably(file, &temp, &final_path, &buffer)).await?;
        Ok(ObjectMeta {
            key: self.key.clone(),
            size: self.size,
            modified: None,
        })
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        self.open = false;
        drop(self.file.take());
        match tokio::fs::remove_file(&self.temp).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &self.temp)(e)),
        }
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        // Dropped without commit or abort (an error or a cancelled task): the
        // temporary file is hidden anyway, but do not leave it lying around.
        if self.open {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use cdr_sink_api::{Destination, ObjectKey};

    use super::BUFFER;
    use crate::LocalDir;

    /// The bytes of the one hidden temporary file in `dir`.
    fn temporary_bytes(dir: &std::path::Path) -> Vec<u8> {
        let temps: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".cdr-tmp"))
            .collect();
        assert_eq!(temps.len(), 1, "{temps:?}");
        std::fs::read(&temps[0]).unwrap()
    }

    #[tokio::test]
    async fn small_chunks_gather_and_finished_writes_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let key = ObjectKey::new("a/b.parquet").unwrap();
        let data: Vec<u8> = (0..BUFFER * 2 + 5_000).map(|i| (i % 251) as u8).collect();
        let mut up = dest.begin(&key, "x").await.unwrap();
        let mut chunks = data.chunks(70_001);
        for chunk in chunks.by_ref().take(3) {
            up.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        // Three chunks are below the buffer: nothing written yet.
        assert!(temporary_bytes(&dir.path().join("a")).is_empty());
        for chunk in chunks {
            up.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        up.finish_writes().await.unwrap();
        // Finished writes are on disk, not in memory, before the commit.
        assert_eq!(temporary_bytes(&dir.path().join("a")), data);
        let err = up.write(Bytes::from_static(b"late")).await.unwrap_err();
        assert!(err.to_string().contains("a/b.parquet"), "{err}");
        let meta = up.commit().await.unwrap();
        assert_eq!(meta.size, data.len() as u64);
        assert_eq!(std::fs::read(dir.path().join("a/b.parquet")).unwrap(), data);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left: {names:?}");
    }
}
