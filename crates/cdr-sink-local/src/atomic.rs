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
    let file = create_exclusive(temp).map_err(io("create", temp))?;
    finish_durably(file, temp, final_path, body)
}

/// Writes `rest` to `file` (open at `temp`), fsyncs it, renames `temp` to
/// `final_path` and fsyncs the directory; removes `temp` on failure. The end
/// of every durable write: small objects whole, uploads after their streamed
/// bytes.
pub(crate) fn finish_durably(
    mut file: std::fs::File,
    temp: &Path,
    final_path: &Path,
    rest: &[u8],
) -> Result<(), StoreError> {
    let result = (|| {
        std::io::Write::write_all(&mut file, rest).map_err(io("write", temp))?;
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

pub(crate) fn sync_dir_blocking(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::tests::plant;

    #[cfg(unix)]
    #[test]
    fn new_files_are_never_created_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".b.csv.1-0-00000000.cdr-tmp");
        let (_keep, victim) = plant(&temp);
        let err = create_exclusive(&temp).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
        // A dangling link is not followed either.
        let dangling = dir.path().join(".c.csv.1-1-00000000.cdr-tmp");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(create_exclusive(&dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
        let err = write_durably(&temp, &dir.path().join("b.csv"), b"ours").unwrap_err();
        assert!(err.to_string().contains(".cdr-tmp"), "{err}");
        // What was in the way is left alone.
        assert!(std::fs::symlink_metadata(&temp).unwrap().is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!dir.path().join("b.csv").exists());
    }

    #[cfg(unix)]
    #[test]
    fn files_written_atomically_replace_links_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let (_keep, victim) = plant(&path);
        write_file_atomically(&path, b"{\"status\":\"ok\"}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"status\":\"ok\"}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        write_file_atomically(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["summary.json"]);
        // A path that names no file is refused.
        assert!(write_file_atomically(Path::new("/"), b"x").is_err());
    }
}
