//! The fixed choices some flags take (`--format`, `--compression`,
//! `--log-format`, `--s3-sse`, `--on-unknown`, `--on-bad-record`), as clap
//! lists them in `--help`, and what each turns into.

use clap::ValueEnum;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum FormatArg {
    /// Apache Parquet: typed columns, zstd-compressed.
    Parquet,
    /// CSV (RFC 4180 quoting, LF line ends), with a header.
    Csv,
}

/// `--table-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum TableFormatArg {
    /// Hive-partitioned files (cdr_type=…/date=…/); the ledger under _cdr_sink/ says
    /// which windows are finished.
    Files,
    /// The same Parquet files as one Delta table per type (cdr_type=…/_delta_log/): each
    /// window appears, or is replaced, in one commit, for every engine that reads Delta.
    Delta,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum CompressionArg {
    /// zstd level 1: small files, fast.
    Zstd,
    /// Snappy: faster, larger files.
    Snappy,
    /// No compression.
    None,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LogFormat {
    Text,
    Json,
}

/// `--s3-sse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum SseArg {
    /// The bucket's default.
    None,
    /// SSE-S3.
    Aes256,
    /// SSE-KMS (with --s3-kms-key-id, or the bucket's key).
    #[value(name = "aws:kms", alias = "kms")]
    AwsKms,
}

/// `--on-unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OnUnknownArg {
    /// The window fails and stays unfinished, so a later version fetches it again.
    Fail,
    /// Archive the rest; count the skipped records in the ledger.
    Skip,
}

/// `--on-bad-record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OnBadRecordArg {
    /// The window fails at once, naming the record's position and field.
    Fail,
    /// The record's raw JSON goes to _cdr_sink/quarantine/; the rest is archived.
    Quarantine,
}

/// The name a choice has on the command line (what the plans parse).
pub(super) fn choice(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

impl From<CompressionArg> for cdr_sink_parquet::Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Zstd => cdr_sink_parquet::Compression::default(),
            CompressionArg::Snappy => cdr_sink_parquet::Compression::Snappy,
            CompressionArg::None => cdr_sink_parquet::Compression::None,
        }
    }
}

impl SseArg {
    /// The encryption this names, with the KMS key of `--s3-kms-key-id`.
    pub(super) fn into_sse(self, kms_key_id: Option<String>) -> Option<cdr_sink_s3::Sse> {
        match self {
            SseArg::None => None,
            SseArg::Aes256 => Some(cdr_sink_s3::Sse::S3),
            SseArg::AwsKms => Some(cdr_sink_s3::Sse::Kms { key_id: kms_key_id }),
        }
    }
}
