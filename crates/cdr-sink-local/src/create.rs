//! Creating files and directories without following symbolic links: `--out`
//! may be shared, and a link someone else planted must not send our writes
//! elsewhere.

use std::path::Path;

use cdr_sink_api::StoreError;

use crate::error::io;

/// Opens a new file for writing: fails when anything (a file, a symbolic
/// link, dangling or not) is already at `path`, and never follows a link.
pub(crate) fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Creates the directories from below `root` down to `path`'s parent: see
/// [`create_dirs_below`]. Called inside the blocking task that then writes
/// `path`, so that a write costs one thread hand-over, not two.
pub(crate) fn create_parent_of(root: &Path, path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(parent) => create_dirs_below(root, parent),
        None => Ok(()),
    }
}

/// Creates each directory from below `root` down to `dir` that does not
/// exist, and checks that each one is a directory and not a symbolic link.
pub(crate) fn create_dirs_below(root: &Path, dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(root).map_err(io("create directory", root))?;
    let Ok(below) = dir.strip_prefix(root) else {
        return std::fs::create_dir_all(dir).map_err(io("create directory", dir));
    };
    let mut at = root.to_path_buf();
    for part in below.components() {
        at.push(part);
        match std::fs::create_dir(&at) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create directory", &at)(e)),
        }
        let meta = std::fs::symlink_metadata(&at).map_err(io("stat", &at))?;
        if !meta.file_type().is_dir() {
            return Err(io("create directory", &at)(std::io::Error::other(
                "it is a symbolic link or a file, not a directory: refusing to write through it; remove it",
            )));
        }
    }
    Ok(())
}
