//! `LocalUpload`: a streamed write into a temporary file, made visible
//! under its final name by `commit` (fsync, rename, directory fsync) and
//! removed by `abort` or when dropped unfinished.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use cdr_sink_api::{ObjectKey, ObjectMeta, StoreError, Upload};
use tokio::io::AsyncWriteExt;

use crate::LocalDir;
use crate::atomic::sync_dir;
use crate::blocking::blocking;
use crate::create::create_exclusive;
use crate::error::io;

impl LocalDir {
    /// A new upload of `key`: [`Destination::begin`].
    ///
    /// [`Destination::begin`]: cdr_sink_api::Destination::begin
    pub(crate) async fn start_upload(&self, key: &ObjectKey) -> Result<LocalUpload, StoreError> {
        let final_path = self.path(key);
        self.create_parent(&final_path).await?;
        let temp = self.temp_path(key);
        let file = blocking({
            let temp = temp.clone();
            move || create_exclusive(&temp).map_err(io("create", &temp))
        })
        .await?;
        let file = tokio::fs::File::from_std(file);
        Ok(LocalUpload {
            key: key.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            temp,
            final_path,
            size: 0,
        })
    }
}

pub(crate) struct LocalUpload {
    key: ObjectKey,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    temp: PathBuf,
    final_path: PathBuf,
    size: u64,
}

#[async_trait]
impl Upload for LocalUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Closed(self.key.to_string()))?;
        file.write_all(&chunk)
            .await
            .map_err(io("write", &self.temp))?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<ObjectMeta, StoreError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Closed(self.key.to_string()))?;
        let result = async {
            file.flush().await.map_err(io("write", &self.temp))?;
            file.get_ref()
                .sync_all()
                .await
                .map_err(io("sync", &self.temp))?;
            drop(file);
            tokio::fs::rename(&self.temp, &self.final_path)
                .await
                .map_err(io("rename into", &self.final_path))?;
            if let Some(parent) = self.final_path.parent() {
                sync_dir(parent).await?;
            }
            Ok(ObjectMeta {
                key: self.key.clone(),
                size: self.size,
                modified: None,
            })
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&self.temp).await;
        }
        result
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
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
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
