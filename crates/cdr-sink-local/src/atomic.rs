//! Atomic, durable writes: a new temporary file beside the final name,
//! fsync, rename into place, fsync of the directory, so readers see the old
//! file or the new one and never a part; the temporary file is removed when
//! a step fails.

use std::path::Path;

use cdr_sink_api::StoreError;

use crate::create::create_exclusive;
use crate::error::io;
use crate::names::temp_beside;

/// Writes `bytes` to `path` so that readers see the old file or the new one,
/// never a part: a new temporary file beside it (created exclusively, never
/// through a symbolic link), fsync, rename over `path`, fsync of the
/// directory. A symbolic link at `path` itself is replaced, not followed.
/// For files outside any destination, such as a run's summary.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let temp = temp_beside(path, name);
    let mut file = create_exclusive(&temp)?;
    let result = (|| {
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes `body` to `temp`, fsyncs it, renames it to `final_path` and fsyncs
/// the directory; removes the temporary file on failure.
pub(crate) fn write_durably(temp: &Path, final_path: &Path, body: &[u8]) -> Result<(), StoreError> {
    // Whatever is in the way was not made here, and is left alone.
    let mut file = create_exclusive(temp).map_err(io("create", temp))?;
    let result = (|| {
        std::io::Write::write_all(&mut file, body).map_err(io("write", temp))?;
        file.sync_all().map_err(io("sync", temp))?;
        drop(file);
        std::fs::rename(temp, final_path).map_err(io("rename into", final_path))?;
        if let Some(parent) = final_path.parent() {
            sync_dir_blocking(parent)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

pub(crate) async fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    // Makes the rename durable: without it a crash can forget the new name.
    let d = tokio::fs::File::open(dir)
        .await
        .map_err(io("open directory", dir))?;
    d.sync_all().await.map_err(io("sync directory", dir))
}

pub(crate) fn sync_dir_blocking(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}
