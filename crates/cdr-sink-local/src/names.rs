//! The names of the files under a root that are not objects: temporary
//! files (`.{name}.{unique}.cdr-tmp`), write probes and lock files; and the
//! way back from a temporary file's name to the key it will become.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of temporary files; with their leading `.` they are hidden from
/// query engines and recognisable by [`Destination::clean_incomplete`].
///
/// [`Destination::clean_incomplete`]: cdr_sink_api::Destination::clean_incomplete
pub(crate) const TMP_SUFFIX: &str = ".cdr-tmp";

/// Start of the name of the file `check_writable` writes and removes.
pub(crate) const PROBE_PREFIX: &str = ".write-probe-";

/// The lock file of a directory whose objects are written conditionally: a
/// conditional write or delete holds an exclusive lock on it from its check
/// to its rename, so two processes can never both pass one precondition.
pub(crate) const LOCK_NAME: &str = ".cdr-lock";

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// The unique part of a temporary name: the process, a counter, and a random
/// part, so that names differ between processes that share a pid (one after
/// the other in containers) and cannot be guessed and planted in advance.
pub(crate) fn unique() -> String {
    use std::hash::BuildHasher;
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    // Each `RandomState` is keyed from the operating system's randomness.
    let random = std::collections::hash_map::RandomState::new().hash_one(n);
    format!("{}-{n}-{:08x}", std::process::id(), random as u32)
}

/// A fresh temporary path beside `path`, for a file named `name`.
pub(crate) fn temp_beside(path: &Path, name: &str) -> PathBuf {
    path.with_file_name(format!(".{name}.{}{TMP_SUFFIX}", unique()))
}

/// The final key of a temporary file's key (`dir/.name.<pid>-<n>.cdr-tmp` ->
/// `dir/name`), or `None` when it is not one of ours.
pub(crate) fn final_key_of_temp(key: &str) -> Option<String> {
    let (dir, name) = match key.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, key),
    };
    let inner = name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let (final_name, unique) = inner.rsplit_once('.')?;
    if final_name.is_empty() || !unique.contains('-') {
        return None;
    }
    Some(match dir {
        Some(d) => format!("{d}/{final_name}"),
        None => final_name.to_string(),
    })
}
