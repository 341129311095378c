//! How an I/O error becomes a `StoreError`: with the operation that failed
//! and the path it failed on.

use std::path::Path;

use cdr_sink_api::StoreError;

pub(crate) fn io(
    operation: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.display().to_string();
    move |source| StoreError::Io {
        operation,
        path,
        source,
    }
}
