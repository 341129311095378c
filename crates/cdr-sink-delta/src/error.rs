use cdr_sink_api::StoreError;

/// Why a Delta table could not be opened or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// The Delta kernel failed (a malformed log, a failed read or write).
    #[error("Delta table: {0}")]
    Kernel(#[from] delta_kernel::KernelError),
    /// The archive's schema has a type a Delta table cannot hold.
    #[error("Delta table schema: {0}")]
    Schema(#[from] arrow_schema::ArrowError),
    /// The destination failed.
    #[error(transparent)]
    Store(StoreError),
    /// The table exists with other columns than the files to be added.
    #[error(
        "the Delta table {table} has other columns than this run writes (the table: {found}; this run: {expected}); write to another --out or select the table's columns"
    )]
    SchemaMismatch {
        table: String,
        expected: String,
        found: String,
    },
    /// Other writers' commits kept taking the version this one needed.
    #[error("the Delta table {table}: gave up after {attempts} commits lost to other writers")]
    Contended { table: String, attempts: u32 },
    /// A commit failed in a way that may pass when tried again.
    #[error("the Delta table {table}: the commit failed and may succeed when run again")]
    Retryable { table: String },
    /// A path or location that is not a valid URL path.
    #[error("Delta table location {location}: {message}")]
    Location { location: String, message: String },
    /// Something the kernel's contract rules out.
    #[error("Delta table: {0}")]
    Unexpected(&'static str),
}
