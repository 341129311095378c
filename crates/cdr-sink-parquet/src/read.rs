//! Reading back what a file says about itself, for checks after writing.

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;

/// Why a Parquet file's footer could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are not a complete Parquet file (e.g. no footer).
    #[error("not a readable Parquet file: {0}")]
    Parquet(#[from] ParquetError),
    /// The footer contradicts itself.
    #[error("inconsistent Parquet footer: {0}")]
    Footer(String),
}

/// The number of rows of the Parquet file `bytes`, from its footer metadata
/// (no data pages are read). The file's row count must equal the sum over its
/// row groups.
pub fn parquet_row_count(bytes: Bytes) -> Result<u64, ReadError> {
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&bytes)?;
    let total = metadata.file_metadata().num_rows();
    let groups: i64 = metadata.row_groups().iter().map(|g| g.num_rows()).sum();
    if total != groups {
        return Err(ReadError::Footer(format!(
            "the file says {total} rows but its row groups hold {groups}"
        )));
    }
    u64::try_from(total).map_err(|_| ReadError::Footer(format!("negative row count {total}")))
}
