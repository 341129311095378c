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
//! # Which crates to embed
//!
//! The public API for embedders is `cdr-core` (the model), `cdr-transport` (the
//! API client), `cdr-sink-api` (the `Format` and `Destination` traits),
//! `cdr-sink-parquet` and `cdr-sink-csv` (the formats), `cdr-sink-local` and
//! `cdr-sink-s3` (the destinations) and `cdr-sink` (the archiver as a library).
//! Tools not meant for embedding: `cdr-sim` (the simulator, usable in
//! embedders' tests), `cdr-testkit` and `cdr-fuzz` (this workspace's test
//! support) and `xtask` (its build tasks). Programs to copy are the examples of
//! `cdr-transport` (`stream`), `cdr-sink-parquet` (`encode`) and `cdr-sink`
//! (`library`).
//!
//! This crate is public API: a destination for a local directory, for
//! `cdr-sink` or your own code.
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
mod destination;
mod error;
mod listing;
mod lock;
mod names;
mod paths;
mod probe;
mod upload;

use std::path::{Path, PathBuf};

pub use crate::atomic::write_file_atomically;

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

#[cfg(test)]
mod tests;
