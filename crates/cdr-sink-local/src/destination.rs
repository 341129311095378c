//! The `Destination` methods of `LocalDir`, each in a few lines or handed
//! to the module that holds its concept (uploads, listing, clean-up,
//! conditional writes, the write check).

use async_trait::async_trait;
use bytes::Bytes;
use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};

use crate::LocalDir;
use crate::atomic::{sync_dir_blocking, write_durably};
use crate::blocking::blocking;
use crate::conditional::read_versioned;
use crate::create::create_parent_of;
use crate::error::io;
use crate::lock::DirLock;
use crate::probe::probe;

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
        let temp = self.temp_path(key);
        let root = self.root.clone();
        let meta = ObjectMeta {
            key: key.clone(),
            size: body.len() as u64,
            modified: None,
        };
        blocking(move || {
            create_parent_of(&root, &final_path)?;
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
        let root = self.root.clone();
        blocking(move || {
            create_parent_of(&root, &to_path)?;
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
