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
mod create;
mod error;
mod lock;
mod names;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use cdr_sink_api::{
    ByteStream, Destination, Leftovers, ObjectKey, ObjectMeta, Precondition, StoreError, Upload,
    Version, Versioned,
};
use sha2::{Digest, Sha256};

pub use crate::atomic::write_file_atomically;

use crate::atomic::{sync_dir, sync_dir_blocking, write_durably};
use crate::blocking::blocking;
use crate::create::{create_dirs_below, create_exclusive};
use crate::error::io;
use crate::lock::DirLock;
use crate::names::{LOCK_NAME, PROBE_PREFIX, TMP_SUFFIX, final_key_of_temp, temp_beside, unique};

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

    fn path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(key.as_str().split('/'));
        p
    }

    fn temp_path(&self, key: &ObjectKey) -> PathBuf {
        temp_beside(&self.path(key), key.file_name())
    }

    /// Creates the directories from the root down to `path`'s parent,
    /// refusing any below the root that is a symbolic link (or not a
    /// directory): a link planted in a shared `--out` would send our files
    /// elsewhere. The root itself is the operator's to choose.
    async fn create_parent(&self, path: &Path) -> Result<(), StoreError> {
        let Some(parent) = path.parent().map(Path::to_path_buf) else {
            return Ok(());
        };
        let root = self.root.clone();
        blocking(move || create_dirs_below(&root, &parent)).await
    }

    /// Walks the tree under `dir`, calling `f` with each file's relative key text.
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
                Self::walk(&entry.path(), &key, out)?;
            } else if ty.is_file() {
                out.push((key, entry.path()));
            }
        }
        Ok(())
    }

    async fn files(&self, prefix: &str) -> Result<Vec<(String, PathBuf)>, StoreError> {
        let prefix = prefix.trim_end_matches('/').to_string();
        let start = if prefix.is_empty() {
            self.root.clone()
        } else {
            let mut p = self.root.clone();
            p.extend(prefix.split('/'));
            p
        };
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            Self::walk(&start, &prefix, &mut out).map(|_| out)
        })
        .await
        .map_err(|e| StoreError::Io {
            operation: "list",
            path: root.display().to_string(),
            source: std::io::Error::other(e),
        })?
        .map_err(io("list", &self.root))
    }
}

#[async_trait]
impl Destination for LocalDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn location(&self, key: &ObjectKey) -> String {
        self.path(key).display().to_string()
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
        let final_path = self.path(key);
        self.create_parent(&final_path).await?;
        let temp = self.temp_path(key);
        let file = blocking({
            let temp = temp.clone();
            move || create_exclusive(&temp).map_err(io("create", &temp))
        })
        .await?;
        let file = tokio::fs::File::from_std(file);
        Ok(Box::new(LocalUpload {
            key: key.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            temp,
            final_path,
            size: 0,
        }))
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
        let mut out = Vec::new();
        for (key, path) in self.files(prefix).await? {
            if key
                .rsplit('/')
                .next()
                .is_some_and(|n| n.ends_with(TMP_SUFFIX) && n.starts_with('.') || n == LOCK_NAME)
            {
                continue;
            }
            let Ok(key) = ObjectKey::new(key) else {
                continue;
            };
            let size = match tokio::fs::metadata(&path).await {
                Ok(m) => m.len(),
                // Deleted since the directory was read: not listed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("stat", &path)(e)),
            };
            out.push(ObjectMeta { key, size });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
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
        // Walk the directory the prefix names (or its parent, when it ends
        // inside a name) and judge each temporary file by its final key.
        let dir = match which.prefix.rsplit_once('/') {
            Some((dir, _)) => dir,
            None => "",
        };
        let mut dead = Vec::new();
        for (key, path) in self.files(dir).await? {
            let Some(final_key) = final_key_of_temp(&key) else {
                continue;
            };
            if !which.covers(&final_key) {
                continue;
            }
            if !which.min_age.is_zero() {
                let age = match tokio::fs::metadata(&path).await.and_then(|m| m.modified()) {
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
        blocking(move || remove_temporaries(dead)).await
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
        let final_path = self.path(key);
        self.create_parent(&final_path).await?;
        let temp = self.temp_path(key);
        let precondition = precondition.clone();
        let location = self.location(key);
        blocking(move || {
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

    async fn get_versioned(&self, key: &ObjectKey) -> Result<Option<Versioned>, StoreError> {
        let path = self.path(key);
        blocking(move || read_versioned(&path)).await
    }

    async fn delete_if(&self, key: &ObjectKey, version: &Version) -> Result<(), StoreError> {
        let path = self.path(key);
        let version = version.clone();
        let location = self.location(key);
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

    async fn now(&self) -> Result<std::time::SystemTime, StoreError> {
        // Every process that shares a local directory shares this clock.
        Ok(std::time::SystemTime::now())
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

/// Writes a byte into `root` and leaves nothing behind, even when the
/// process is killed meanwhile: an unnamed file (`O_TMPFILE`) where the file
/// system has them; elsewhere a named probe, removed at once, and probes of
/// killed runs removed once they are a minute old (a live run's is younger).
fn probe(root: &Path) -> Result<(), StoreError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(root)
        {
            Ok(mut f) => {
                return std::io::Write::write_all(&mut f, b"x").map_err(io("write to", root));
            }
            // Not supported by this file system: the named probe below.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {}
            Err(e) => return Err(io("write to", root)(e)),
        }
    }
    const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);
    for entry in std::fs::read_dir(root).map_err(io("list", root))? {
        let entry = entry.map_err(io("list", root))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() >= MAX_AGE);
        if name.starts_with(PROBE_PREFIX) && name.ends_with(TMP_SUFFIX) && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let probe = root.join(format!("{PROBE_PREFIX}{}{TMP_SUFFIX}", unique()));
    create_exclusive(&probe)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"))
        .map_err(io("write to", root))?;
    std::fs::remove_file(&probe).map_err(io("remove", &probe))
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

fn read_versioned(path: &Path) -> Result<Option<Versioned>, StoreError> {
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

struct LocalUpload {
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

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_sink_api::conformance;

    #[tokio::test]
    async fn local_dir_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path().join("out"));
        conformance::run_all(&dest).await;
    }

    #[tokio::test]
    async fn unfinished_upload_leaves_only_a_hidden_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = LocalDir::new(dir.path());
        let key = ObjectKey::new("a/b.csv").unwrap();
        let mut up = dest.begin(&key, "text/csv").await.unwrap();
        up.write(Bytes::from_static(b"partial")).await.unwrap();
        // Simulate a crash: forget the upload without running its destructor.
        std::mem::forget(up);
        let names: Vec<String> = std::fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with(".b.csv."), "{names:?}");
        assert!(dest.list("").await.unwrap().is_empty());
        assert_eq!(
            dest.clean_incomplete(&Leftovers::all("a/")).await.unwrap(),
            1
        );
        assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn the_write_check_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.csv"), b"x").unwrap();
        LocalDir::new(dir.path()).check_writable().await.unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["keep.csv"]);
    }

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

    #[tokio::test]
    async fn conditional_writes_from_many_tasks_let_exactly_one_win() {
        let dir = tempfile::tempdir().unwrap();
        let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
        let key = ObjectKey::new("_claims/unit.json").unwrap();
        let mut tasks = Vec::new();
        for n in 0..16u8 {
            let (dest, key) = (dest.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                dest.put_if(&key, Bytes::from(vec![n]), "x", &Precondition::Absent)
                    .await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(e) => assert!(e.is_precondition_failed(), "{e}"),
            }
        }
        assert_eq!(won, 1);
        // The lock file is never listed as an object.
        let listed = dest.list("").await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
    }

    /// A directory with a file that must stay untouched, and a symbolic
    /// link at `link` pointing to that file.
    #[cfg(unix)]
    fn plant(link: &Path) -> (tempfile::TempDir, PathBuf) {
        let victim_dir = tempfile::tempdir().unwrap();
        let victim = victim_dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&victim, link).unwrap();
        (victim_dir, victim)
    }

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
    #[tokio::test]
    async fn writes_never_go_through_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let dest = LocalDir::new(&out);
        let key = ObjectKey::new("cdr_type=sms/date=2026-11-01/part-0.csv").unwrap();

        // A directory of the layout planted as a link elsewhere: refused.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(out.join("cdr_type=sms")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), out.join("cdr_type=sms/date=2026-11-01"))
            .unwrap();
        let err = dest
            .begin(&key, "text/csv")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = dest
            .put(&key, Bytes::from_static(b"x"), "text/csv")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

        // A link planted at the final name is replaced, not written through;
        // so is one planted as the directory's lock file.
        std::fs::remove_file(out.join("cdr_type=sms/date=2026-11-01")).unwrap();
        let final_path = out.join(key.as_str());
        let (_keep, victim) = plant(&final_path);
        let mut up = dest.begin(&key, "text/csv").await.unwrap();
        up.write(Bytes::from_static(b"ours\n")).await.unwrap();
        up.commit().await.unwrap();
        assert_eq!(std::fs::read(&final_path).unwrap(), b"ours\n");
        assert!(!std::fs::symlink_metadata(&final_path).unwrap().is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        let claim = ObjectKey::new("_cdr_sink/claims/x.json").unwrap();
        let (_keep2, victim2) = plant(&out.join("_cdr_sink/claims/.cdr-lock"));
        let err = dest
            .put_if(
                &claim,
                Bytes::from_static(b"{}"),
                "x",
                &Precondition::Absent,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("lock"), "{err}");
        assert_eq!(std::fs::read(&victim2).unwrap(), b"precious");
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

    #[tokio::test]
    async fn unwritable_root_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let dest = LocalDir::new(file.join("sub"));
        let err = dest.check_writable().await.unwrap_err().to_string();
        assert!(err.contains("plain-file"), "{err}");
    }
}
