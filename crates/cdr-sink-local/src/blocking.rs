//! Blocking file work (locks, conditional writes, directory creation) run
//! off the async runtime, a failed task reported as a `StoreError`.

use cdr_sink_api::StoreError;

/// Runs blocking file work (locks, conditional writes) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io {
            operation: "run",
            path: "a blocking file operation".into(),
            source: std::io::Error::other(e),
        })?
}
