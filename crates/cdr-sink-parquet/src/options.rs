//! Writer configuration: compression and row-group size.

use std::fmt;
use std::num::NonZeroUsize;

/// Rows per row group by default: 64 Ki.
///
/// A row group is the unit of memory: its encoded, compressed pages and the
/// dictionaries of its text columns stay in memory until it is complete, and
/// are copied out once when it is. 64 Ki SMS records make about 1 MB of
/// zstd-compressed data: large enough for engines to scan efficiently, small
/// enough that the archiver's default four units at once stay well inside
/// its memory budget (see `docs/performance.md`; 128 Ki rows cost the
/// archiver about 10 MB more). Wider records end their row groups earlier, at
/// [`DEFAULT_ROW_GROUP_BYTES`].
pub const DEFAULT_ROW_GROUP_ROWS: NonZeroUsize = NonZeroUsize::new(64 * 1024).unwrap();

/// Upper bound on a row group's estimated encoded size by default: 1 MiB.
///
/// A row group ends at whichever limit it reaches first. SMS, MMS and API
/// records reach [`DEFAULT_ROW_GROUP_ROWS`] first (64 Ki SMS records encode
/// to about 1 MB); `VoiceCdr` records reach this one, at about 23,000 rows,
/// and so do records with long text. It bounds an encoder's memory by bytes
/// rather than by rows times the width of a record: the row group's pages,
/// and the copy made when it is flushed. 64 Ki VOICE rows (3 MB) made four
/// units at once peak at 69-70 MB; 1 MiB row groups, 62 MB, for files 2.7%
/// larger (measured in `docs/performance.md`).
pub const DEFAULT_ROW_GROUP_BYTES: NonZeroUsize = NonZeroUsize::new(1024 * 1024).unwrap();

/// The zstd level used by default: 1, zstd's fastest regular level. On CDR
/// columns (pages of the simulator, `cargo xtask bench`) it encodes about
/// 1.3 times as fast as level 3 and its files are even a little smaller
/// (16.3 against 17.4 bytes per SMS record, 45.7 against 47.6 per VOICE
/// record): Parquet pages are small inputs of short, near-random values,
/// where level 3's deeper match search finds little more.
pub const DEFAULT_ZSTD_LEVEL: ZstdLevel = ZstdLevel(1);

/// A zstd compression level that the Parquet writer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZstdLevel(i32);

/// A zstd level outside the accepted range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid zstd level {level}: use a level from 1 (fastest) to 22 (smallest), e.g. 3")]
pub struct InvalidZstdLevel {
    /// The rejected level.
    pub level: i32,
}

impl ZstdLevel {
    /// A level from 1 (fastest) to 22 (smallest).
    pub fn new(level: i32) -> Result<ZstdLevel, InvalidZstdLevel> {
        if (1..=22).contains(&level) {
            Ok(ZstdLevel(level))
        } else {
            Err(InvalidZstdLevel { level })
        }
    }

    /// The numeric level.
    pub fn level(self) -> i32 {
        self.0
    }
}

impl Default for ZstdLevel {
    fn default() -> Self {
        DEFAULT_ZSTD_LEVEL
    }
}

impl fmt::Display for ZstdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Page compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd at the given level (the default, at [`DEFAULT_ZSTD_LEVEL`]).
    Zstd(ZstdLevel),
    /// Snappy: faster, larger files.
    Snappy,
    /// No compression.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

impl Compression {
    pub(crate) fn to_parquet(self) -> parquet::basic::Compression {
        match self {
            // Levels 1..=22 are all valid zstd levels, so the fallback is never taken.
            Compression::Zstd(level) => parquet::basic::Compression::ZSTD(
                parquet::basic::ZstdLevel::try_new(level.0).unwrap_or_default(),
            ),
            Compression::Snappy => parquet::basic::Compression::SNAPPY,
            Compression::None => parquet::basic::Compression::UNCOMPRESSED,
        }
    }
}

/// How Parquet files are written.
///
/// Both row-group limits are valid by construction (non-zero); a row group
/// ends at whichever is reached first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Page compression; zstd level 1 by default.
    pub compression: Compression,
    /// Rows per row group; [`DEFAULT_ROW_GROUP_ROWS`] (64 Ki) by default.
    /// Memory per encoder is bounded by one row group.
    pub row_group_rows: NonZeroUsize,
    /// Estimated encoded bytes per row group; [`DEFAULT_ROW_GROUP_BYTES`]
    /// (1 MiB) by default. `None` lets only `row_group_rows` decide.
    pub row_group_bytes: Option<NonZeroUsize>,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::default(),
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: Some(DEFAULT_ROW_GROUP_BYTES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_levels() {
        for ok in [1, 3, 19, 22] {
            assert_eq!(ZstdLevel::new(ok).map(ZstdLevel::level), Ok(ok));
        }
        for bad in [0, -1, 23, i32::MIN] {
            let err = ZstdLevel::new(bad).unwrap_err();
            assert_eq!(err.level, bad);
            assert!(err.to_string().contains("from 1 (fastest) to 22"));
        }
    }

    #[test]
    fn defaults() {
        let o = ParquetOptions::default();
        assert_eq!(o.compression, Compression::Zstd(ZstdLevel(1)));
        assert_eq!(o.row_group_rows.get(), 65_536);
        assert_eq!(o.row_group_bytes.map(NonZeroUsize::get), Some(1 << 20));
        assert_eq!(
            o.compression.to_parquet(),
            parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(1).unwrap())
        );
    }
}
