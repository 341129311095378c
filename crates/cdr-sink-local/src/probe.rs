//! The write check of a root: one byte written and nothing left behind,
//! even when the process is killed meanwhile.

use std::path::Path;

use cdr_sink_api::StoreError;

use crate::create::create_exclusive;
use crate::error::io;
use crate::names::{PROBE_PREFIX, TMP_SUFFIX, unique};

/// Writes a byte into `root` and leaves nothing behind, even when the
/// process is killed meanwhile: an unnamed file (`O_TMPFILE`) where the file
/// system has them; elsewhere a named probe, removed at once, and probes of
/// killed runs removed once they are a minute old (a live run's is younger).
pub(crate) fn probe(root: &Path) -> Result<(), StoreError> {
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
