//! The command line as clap sees it: commands, flags and help texts (the
//! choices a flag takes are in `choices`). No validation beyond clap's and
//! no I/O: the values go to the plans (`crate::plan`), which check them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use cdr_transport::DEFAULT_BASE_URL;

use super::choices::{
    CompressionArg, FormatArg, LogFormat, OnBadRecordArg, OnUnknownArg, SseArg, TableFormatArg,
};
use super::help::{AFTER_HELP, RECONCILE_HELP, STORE_HELP};
use crate::plan::RollPolicy;

/// The version, the commit it was built from and the target it runs on.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CDR_SINK_COMMIT"),
    ", target ",
    env!("CDR_SINK_TARGET"),
    ")"
);

/// Archive TSG Global call and message detail records (CDRs) to Parquet or CSV files,
/// on local disk or in S3, resumably and exactly once.
#[derive(Debug, Parser)]
#[command(name = "cdr-sink", version = VERSION, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Archive the records of a time range to Parquet or CSV files.
    ///
    /// The files go into Hive-style partitions (cdr_type=<type>/date=<day>/) under --out,
    /// one window at a time, each window exactly once. Re-running the same command resumes:
    /// finished windows are skipped, unfinished ones redone. With --incremental the range
    /// comes from the ledger (for scheduled runs); --rescan re-checks recent windows and
    /// replaces those whose records changed.
    #[command(after_help = AFTER_HELP, args_override_self = true)]
    Archive(Box<ArchiveArgs>),
    /// Check an archive against its ledger, without calling the API.
    ///
    /// Every listed file must exist with its recorded size, SHA-256 and row count, every
    /// data file be listed, and each type's finished windows have no gap or overlap. Exits 1 on any problem
    /// and prints the cdr-sink archive commands that repair it.
    #[command(after_help = STORE_HELP, args_override_self = true)]
    Verify(VerifyArgs),
    /// Show how far each type is archived, from the ledger alone.
    ///
    /// Per type: the archived range, how far behind now it is complete, the newest
    /// finished window and the record and byte totals, from the ledger alone.
    #[command(after_help = STORE_HELP, args_override_self = true)]
    Status(StatusArgs),
    /// Compare the archive with the provider's own CSV export, window by window.
    ///
    /// For each finished window of the range, the ledger's record count and content hash
    /// are compared with those of the provider's export of the same window, downloaded
    /// and hashed as it streams (never stored): one export download per window. Due windows
    /// without a ledger entry are missing, unless another run is working on them. Exits 1
    /// on any difference and prints the cdr-sink archive commands that repair it.
    #[command(after_help = RECONCILE_HELP, args_override_self = true)]
    Reconcile(Box<ReconcileArgs>),
    /// Download the provider's own CSV export of one type into one file or S3 object.
    ///
    /// An export that is cut off (the provider gives up after 20 minutes) is
    /// retried as two half windows, recursively, so the file still holds one header and
    /// every row exactly once, in datetime order.
    #[command(after_help = AFTER_HELP, args_override_self = true)]
    Export(Box<ExportArgs>),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    ///
    /// For example `cdr-sink completions bash > ~/.local/share/bash-completion/completions/cdr-sink`,
    /// or `cdr-sink completions zsh > "${fpath[1]}/_cdr-sink"`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) of cdr-sink, or of one of its commands.
    #[command(hide = true)]
    Manpage(ManpageArgs),
}

impl Command {
    /// The command's name, as typed.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::Archive(_) => "archive",
            Command::Verify(_) => "verify",
            Command::Status(_) => "status",
            Command::Reconcile(_) => "reconcile",
            Command::Export(_) => "export",
            Command::Completions(_) => "completions",
            Command::Manpage(_) => "manpage",
        }
    }

    /// `--metrics-textfile`, for the commands that have it.
    pub(super) fn metrics_textfile(&self) -> Option<&std::path::Path> {
        match self {
            Command::Archive(a) => a.metrics_textfile.as_deref(),
            _ => None,
        }
    }

    /// `--summary-json`, for the commands that have it.
    pub(super) fn summary_json(&self) -> Option<&std::path::Path> {
        match self {
            Command::Archive(a) => a.common.summary_json.as_deref(),
            Command::Export(a) => a.common.summary_json.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub(super) struct ManpageArgs {
    /// The command whose page to print (default: cdr-sink's own).
    #[arg(value_name = "COMMAND")]
    pub(super) command: Option<String>,
    /// List the commands that have a page of their own instead, one per line.
    #[arg(long)]
    pub(super) list: bool,
}

#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(super) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// One CDR type: SMS, MMS, VOICE or API.
    #[arg(long = "type", env = "CDR_SINK_TYPE", value_name = "TYPE")]
    pub(super) cdr_type: String,
    /// Start of the range (inclusive), RFC 3339.
    #[arg(long, env = "CDR_SINK_START", value_name = "DATETIME")]
    pub(super) start: String,
    /// End of the range (exclusive), RFC 3339; later than now is clamped to now.
    #[arg(long, env = "CDR_SINK_END", value_name = "DATETIME")]
    pub(super) end: String,
    /// Output file: a local path or s3://bucket/key.csv. It appears only when complete.
    #[arg(long, env = "CDR_SINK_OUT", value_name = "FILE|S3_URL")]
    pub(super) out: String,
    /// Columns, comma-separated GraphQL or snake_case names, in order (datetime is always
    /// included); default: every field of the type's record, in documented order.
    #[arg(long, env = "CDR_SINK_FIELDS", value_name = "FIELDS")]
    pub(super) fields: Option<String>,
    /// Do not split cut-off exports below this window length (e.g. 30s, 1m, 5m).
    #[arg(
        long,
        env = "CDR_SINK_MIN_WINDOW",
        default_value = "1m",
        value_name = "DURATION"
    )]
    pub(super) min_window: String,
    #[command(flatten)]
    pub(super) common: Common,
}

/// How to reach the API: the flags of every command that calls it.
#[derive(Debug, Args)]
pub(super) struct ApiFlags {
    /// The API base URL.
    #[arg(long, env = "TSG_API_URL", default_value = DEFAULT_BASE_URL, value_name = "URL")]
    pub(super) api_url: String,
    /// List another company's records (admin users only).
    #[arg(long, env = "CDR_SINK_COMPANY_ID", value_name = "ID")]
    pub(super) company_id: Option<String>,
    /// Seconds before one API request is given up (and retried).
    #[arg(
        long,
        env = "CDR_SINK_REQUEST_TIMEOUT",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub(super) request_timeout: u64,
    /// Allow an http:// --api-url to a host other than this machine (credentials and
    /// records would cross the network unencrypted).
    #[arg(long, env = "CDR_SINK_ALLOW_INSECURE_HTTP")]
    pub(super) allow_insecure_http: bool,
    /// Largest API answer accepted, in MiB; a larger one fails its window (a later run
    /// tries again).
    #[arg(
        long,
        env = "CDR_SINK_MAX_PAGE_MIB",
        default_value_t = 64,
        value_name = "MIB"
    )]
    pub(super) max_page_mib: u64,
    /// An export download is given up after this long (e.g. 30m, 1h).
    #[arg(
        long,
        env = "CDR_SINK_EXPORT_DEADLINE",
        default_value = "30m",
        value_name = "DURATION"
    )]
    pub(super) export_deadline: String,
    /// An export download slower than this many KiB/s over a minute is given up (0: never).
    #[arg(
        long,
        env = "CDR_SINK_EXPORT_MIN_RATE",
        default_value_t = 1,
        value_name = "KIB_PER_S"
    )]
    pub(super) export_min_rate: u64,
}

#[derive(Debug, Args)]
pub(super) struct Common {
    #[command(flatten)]
    pub(super) api: ApiFlags,
    /// No progress display (there is none when stderr is not a terminal anyway).
    #[arg(long, env = "CDR_SINK_QUIET")]
    pub(super) quiet: bool,
    /// Log format on stderr: text for people, json for log shippers.
    #[arg(long, env = "CDR_SINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(super) log_format: LogFormat,
    /// Also write the run's summary as JSON to this file.
    #[arg(long, env = "CDR_SINK_SUMMARY_JSON", value_name = "PATH")]
    pub(super) summary_json: Option<PathBuf>,
    /// S3 multipart part size in MiB (5 or more).
    #[arg(
        long,
        env = "CDR_SINK_S3_PART_SIZE",
        default_value_t = 8,
        value_name = "MIB"
    )]
    pub(super) s3_part_size: usize,
    /// S3 server-side encryption: none, aes256 (SSE-S3) or aws:kms (SSE-KMS).
    #[arg(long, env = "CDR_SINK_S3_SSE", value_enum, default_value_t = SseArg::None)]
    pub(super) s3_sse: SseArg,
    /// KMS key id or ARN for --s3-sse aws:kms (default: the bucket's key).
    #[arg(long, env = "CDR_SINK_S3_KMS_KEY_ID", value_name = "KEY")]
    pub(super) s3_kms_key_id: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct ArchiveArgs {
    /// CDR types, comma-separated: SMS, MMS, VOICE, API (any case).
    #[arg(long = "type", env = "CDR_SINK_TYPE", value_name = "TYPES")]
    pub(super) types: String,
    /// Start of the range (inclusive), RFC 3339, e.g. 2026-11-01T00:00:00Z. Required,
    /// except with --incremental, where it is needed only while a type has no finished
    /// window yet (and is the earliest instant gaps are filled from).
    #[arg(long, env = "CDR_SINK_START", value_name = "DATETIME")]
    pub(super) start: Option<String>,
    /// End of the range (exclusive), RFC 3339. Required, except with --incremental, where
    /// it is an optional upper bound. Windows that end after now - --settle are left for
    /// a later run: the range stops at the last window boundary before that, and the same
    /// command run again later continues from there.
    #[arg(long, env = "CDR_SINK_END", value_name = "DATETIME")]
    pub(super) end: Option<String>,
    /// Continue each type from its ledger: from the first instant at or after --start
    /// (or its first finished window) that no finished window covers, up to
    /// now - --settle aligned down to --window. Never skips or repeats a window when run
    /// again and again (e.g. hourly).
    #[arg(long, env = "CDR_SINK_INCREMENTAL")]
    pub(super) incremental: bool,
    /// Leave the newest records for a later run: windows ending after now - DURATION
    /// are not archived (nor recorded as finished) yet (e.g. 0s, 15m, 1h).
    #[arg(long, env = "CDR_SINK_SETTLE", default_value = crate::plan::DEFAULT_SETTLE, value_name = "DURATION")]
    pub(super) settle: String,
    /// Fetch again the windows finished before this run that lie in the last DURATION
    /// of the range (e.g. 24h, 7d), and replace a window's files when its records changed
    /// (count or content hash); unchanged windows are left alone.
    #[arg(long, env = "CDR_SINK_RESCAN", value_name = "DURATION")]
    pub(super) rescan: Option<String>,
    /// Replace the files of every finished window of --start..--end (repairs damaged
    /// files, e.g. as cdr-sink verify suggests); not with --incremental or --rescan.
    #[arg(long, env = "CDR_SINK_REDO")]
    pub(super) redo: bool,
    /// Let --rescan and --redo replace a window with fewer records than it holds (the API
    /// now lists fewer: retention, an outage, a permission change). Without it such a
    /// window is left as it is and reported as failed.
    #[arg(long, env = "CDR_SINK_ALLOW_SHRINK")]
    pub(super) allow_shrink: bool,
    /// How long files replaced by --rescan or --redo are kept under
    /// _cdr_sink/replaced/ before a later run removes them (e.g. 0s, 7d, 30d). With
    /// --table-format delta they stay in place for that long instead, so the tables'
    /// earlier versions stay readable.
    #[arg(long, env = "CDR_SINK_KEEP_REPLACED", default_value = crate::plan::DEFAULT_KEEP_REPLACED, value_name = "DURATION")]
    pub(super) keep_replaced: String,
    /// What to do with records of a union member this version does not know: fail (the
    /// window is not finished, so a later version fetches it again) or skip (archive the
    /// rest and count them in the ledger).
    #[arg(long, env = "CDR_SINK_ON_UNKNOWN", value_enum, default_value_t = OnUnknownArg::Fail)]
    pub(super) on_unknown: OnUnknownArg,
    /// What to do with a record whose values cannot be stored (a charge of "N/A", money
    /// with more than 10 decimal places, a record of another type): fail (the window is
    /// not finished; the error names the record's position and field) or quarantine
    /// (its raw JSON goes to _cdr_sink/quarantine/, the rest is archived and the count
    /// is kept in the ledger).
    #[arg(long, env = "CDR_SINK_ON_BAD_RECORD", value_enum, default_value_t = OnBadRecordArg::Fail)]
    pub(super) on_bad_record: OnBadRecordArg,
    /// How long a claim on a unit lasts without renewal. Runs on the same --out share
    /// the work through claims under _cdr_sink/claims/; a killed run's units are taken
    /// over by others once its lease has expired (e.g. 30s, 5m).
    #[arg(
        long,
        env = "CDR_SINK_LEASE",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub(super) lease: String,
    /// Output: a local directory, or s3://bucket/prefix/.
    #[arg(long, env = "CDR_SINK_OUT", value_name = "DIR|S3_URL")]
    pub(super) out: String,
    /// File format.
    #[arg(long, env = "CDR_SINK_FORMAT", value_enum, default_value_t = FormatArg::Parquet)]
    pub(super) format: FormatArg,
    /// How readers see the archive. Once an output has Delta tables, every run on it must
    /// pass delta.
    #[arg(long, env = "CDR_SINK_TABLE_FORMAT", value_enum, default_value_t = TableFormatArg::Files)]
    pub(super) table_format: TableFormatArg,
    /// Page size, 1 to 1000.
    #[arg(
        long,
        env = "CDR_SINK_LIMIT",
        default_value_t = 1000,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub(super) limit: i64,
    /// Units (type x window) fetched and written at once: auto adapts to what the API
    /// answers (from 4, one more each round of answers while latency holds and nothing
    /// is refused, fewer at once on HTTP 429/503 or Retry-After); a number fixes it.
    #[arg(
        long,
        env = "CDR_SINK_CONCURRENCY",
        default_value = "auto",
        allow_negative_numbers = true,
        value_name = "auto|N"
    )]
    pub(super) concurrency: String,
    /// The most units --concurrency auto fetches at once (it bounds memory: each unit
    /// holds its pages and an encoder).
    #[arg(
        long,
        env = "CDR_SINK_MAX_CONCURRENCY",
        default_value_t = crate::plan::DEFAULT_MAX_CONCURRENCY,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub(super) max_concurrency: i64,
    /// At most N API requests per second (login and GraphQL, retries included), evenly
    /// spaced, whatever the concurrency: give each of several workers on one account a
    /// share of its rate limit (e.g. 20, or 0.5).
    #[arg(
        long,
        env = "CDR_SINK_MAX_RPS",
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub(super) max_rps: Option<f64>,
    /// Length of one unit of work; must divide a day: 15m, 1h, 6h, 1d, ...
    #[arg(
        long,
        env = "CDR_SINK_WINDOW",
        default_value = "1h",
        value_name = "DURATION"
    )]
    pub(super) window: String,
    /// Start a new file after this many rows.
    #[arg(long, env = "CDR_SINK_ROLL_ROWS", default_value_t = RollPolicy::default().rows, value_name = "N")]
    pub(super) roll_rows: u64,
    /// Start a new file after about this many MiB.
    #[arg(long, env = "CDR_SINK_ROLL_MIB", default_value_t = RollPolicy::default().bytes / (1024 * 1024), value_name = "MIB")]
    pub(super) roll_mib: u64,
    /// Write the run's outcome to this file in the Prometheus text format, atomically,
    /// however the run ends (for node_exporter's textfile collector): records, pages,
    /// retries, failed windows per type, and when each type last succeeded.
    #[arg(long, env = "CDR_SINK_METRICS_TEXTFILE", value_name = "PATH")]
    pub(super) metrics_textfile: Option<PathBuf>,
    /// Parquet page compression.
    #[arg(long, env = "CDR_SINK_COMPRESSION", value_enum, default_value_t = CompressionArg::Zstd)]
    pub(super) compression: CompressionArg,
    #[command(flatten)]
    pub(super) common: Common,
}

/// The archive `verify` and `status` read, and which of its types: the first
/// flags of both.
#[derive(Debug, Args)]
pub(super) struct ArchiveRef {
    /// The archive: a local directory, or s3://bucket/prefix/.
    #[arg(long, env = "CDR_SINK_OUT", value_name = "DIR|S3_URL")]
    pub(super) out: String,
    /// Only these CDR types, comma-separated (default: every type found).
    #[arg(long = "type", env = "CDR_SINK_TYPE", value_name = "TYPES")]
    pub(super) types: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    pub(super) archive: ArchiveRef,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long, env = "CDR_SINK_JSON")]
    pub(super) json: bool,
    /// Files read and checked at once.
    #[arg(
        long,
        env = "CDR_SINK_CONCURRENCY",
        default_value_t = 4,
        value_name = "N"
    )]
    pub(super) concurrency: usize,
    /// Log format on stderr: text for people, json for log shippers.
    #[arg(long, env = "CDR_SINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(super) log_format: LogFormat,
}

#[derive(Debug, Args)]
pub(super) struct StatusArgs {
    #[command(flatten)]
    pub(super) archive: ArchiveRef,
    /// Print the status as JSON on stdout instead of text.
    #[arg(long, env = "CDR_SINK_JSON")]
    pub(super) json: bool,
    /// Exit 1 when a type is complete only up to longer ago than this (e.g. 3h, 2d),
    /// or has nothing archived: for alerting.
    #[arg(long, env = "CDR_SINK_MAX_BEHIND", value_name = "DURATION")]
    pub(super) max_behind: Option<String>,
    /// Log format on stderr: text for people, json for log shippers.
    #[arg(long, env = "CDR_SINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(super) log_format: LogFormat,
}

#[derive(Debug, Args)]
pub(super) struct ReconcileArgs {
    #[command(flatten)]
    pub(super) archive: ArchiveRef,
    /// Start of the range compared (inclusive), RFC 3339 (default: each type's first
    /// finished window).
    #[arg(long, env = "CDR_SINK_START", value_name = "DATETIME")]
    pub(super) start: Option<String>,
    /// End of the range compared (exclusive), RFC 3339 (default: the end of each type's
    /// last finished window).
    #[arg(long, env = "CDR_SINK_END", value_name = "DATETIME")]
    pub(super) end: Option<String>,
    /// The unit windows in which a range with no finished window is listed as missing;
    /// must divide a day. Where a type has finished windows, their length is used.
    #[arg(
        long,
        env = "CDR_SINK_WINDOW",
        default_value = "1h",
        value_name = "DURATION"
    )]
    pub(super) window: String,
    /// Windows ending after now - DURATION are not due yet and are not listed as missing
    /// (as archive leaves them for a later run).
    #[arg(long, env = "CDR_SINK_SETTLE", default_value = crate::plan::DEFAULT_SETTLE, value_name = "DURATION")]
    pub(super) settle: String,
    /// Windows compared at once (one export download each).
    #[arg(
        long,
        env = "CDR_SINK_CONCURRENCY",
        default_value_t = 4,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub(super) concurrency: i64,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long, env = "CDR_SINK_JSON")]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) api: ApiFlags,
    /// Log format on stderr: text for people, json for log shippers.
    #[arg(long, env = "CDR_SINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(super) log_format: LogFormat,
}

#[cfg(test)]
mod tests;
