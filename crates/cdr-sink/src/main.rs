//! The `cdr-sink` binary: parse, run, exit code. Everything else is the library.

fn main() -> std::process::ExitCode {
    bound_heap();
    cdr_sink::cli::main()
}

/// Large buffers (answer bodies, Parquet pages, row groups) come and go all
/// the time. glibc's malloc raises its mmap threshold to the size of each
/// large block freed, so after the first few they all land in the heap, where
/// the holes they leave between longer-lived blocks (a row group's compressed
/// pages) are not given back to the system: resident memory grew by several
/// MB per unit. A fixed threshold maps every block of 256 KiB or more on its
/// own and unmaps it when it is freed (`docs/performance.md` has the numbers).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_heap() {
    const MMAP_THRESHOLD: libc::c_int = 256 * 1024;
    // SAFETY: mallopt only changes a tuning parameter of the allocator; it
    // runs before any other thread exists. A refusal leaves the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_heap() {}
