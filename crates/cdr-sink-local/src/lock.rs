//! `DirLock`: the exclusive lock on a directory's lock file that conditional
//! writes, puts and the clean-up of temporary files hold, so that they
//! exclude each other between processes.

use std::path::Path;

use cdr_sink_api::StoreError;

use crate::error::io;
use crate::names::LOCK_NAME;

/// An exclusive lock on the lock file of the directory of `path`, released
/// when dropped (or when the process dies).
pub(crate) struct DirLock(std::fs::File);

impl DirLock {
    pub(crate) fn take(path: &Path) -> Result<DirLock, StoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let lock_path = dir.join(LOCK_NAME);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        // A link planted as the lock file is not opened (nor created through).
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let file = options
            .open(&lock_path)
            .map_err(io("open lock", &lock_path))?;
        file.lock().map_err(io("lock", &lock_path))?;
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
