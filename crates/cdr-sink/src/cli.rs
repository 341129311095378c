//! The `cdr-sink` command line: flags → validated plan → run → exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing::info;

use cdr_core::{Password, Token};
use cdr_sink_api::{Destination, Format};
use cdr_sink_local::LocalDir;
use cdr_transport::{Auth, Client, ClientConfig, DEFAULT_BASE_URL};

use crate::plan::{ArchivePlan, FormatChoice, Output, PlanError, RawArchive, RollPolicy};
use crate::progress::{Progress, spawn_display};
use crate::summary::Summary;
use crate::transport_source::TransportSource;
use crate::{RunOptions, archive};

const AFTER_HELP: &str = "\
Credentials come from the environment, never from flags:
  TSG_TOKEN                    a bearer token (POAPK_...), or
  TSG_EMAIL and TSG_PASSWORD   the customer-portal user (logs in, and again once when the token is refused)
  TSG_API_URL                  the API base URL (same as --api-url)
S3 uses the standard AWS environment and config chain: AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (custom endpoints use path-style addressing).
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

const STORE_HELP: &str = "\
No API call is made, so no TSG credentials are needed.
S3 uses the standard AWS environment and config chain: AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (custom endpoints use path-style addressing).
Exit status: 0 when all is well, 1 when a problem was found or the output could not be read,
2 for bad input.";

/// Archive TSG Global call and message detail records (CDRs) to Parquet or CSV files,
/// on local disk or in S3, resumably and exactly once.
#[derive(Debug, Parser)]
#[command(name = "cdr-sink", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Archive the records of a time range into Hive-style partitions
    /// (cdr_type=<type>/date=<day>/) under --out. Re-running the same command resumes:
    /// finished windows are skipped, unfinished ones redone. With --incremental the range
    /// comes from the ledger (for scheduled runs); --rescan re-checks recent windows and
    /// replaces those whose records changed.
    #[command(after_help = AFTER_HELP, args_override_self = true)]
    Archive(Box<ArchiveArgs>),
    /// Check an archive against its ledger without calling the API: every listed file
    /// exists with its recorded size, SHA-256 and row count, every data file is listed,
    /// and each type's finished windows have no gap or overlap. Exits 1 on any problem
    /// and prints the cdr-sink archive commands that repair it.
    #[command(after_help = STORE_HELP, args_override_self = true)]
    Verify(VerifyArgs),
    /// Show, per type, the archived range, how far behind now it is complete, the
    /// newest finished window and the record and byte totals, from the ledger alone.
    #[command(after_help = STORE_HELP, args_override_self = true)]
    Status(StatusArgs),
    /// Download the provider's own CSV export of one type over a time range into one file or
    /// S3 object. An export that is cut off (the provider gives up after 20 minutes) is
    /// retried as two half windows, recursively, so the file still holds one header and
    /// every row exactly once, in datetime order.
    #[command(after_help = AFTER_HELP, args_override_self = true)]
    Export(Box<ExportArgs>),
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// One CDR type: SMS, MMS, VOICE or API.
    #[arg(long = "type", value_name = "TYPE")]
    cdr_type: String,
    /// Start of the range (inclusive), RFC 3339.
    #[arg(long, value_name = "DATETIME")]
    start: String,
    /// End of the range (exclusive), RFC 3339; later than now is clamped to now.
    #[arg(long, value_name = "DATETIME")]
    end: String,
    /// Output file: a local path or s3://bucket/key.csv. It appears only when complete.
    #[arg(long, value_name = "FILE|S3_URL")]
    out: String,
    /// Columns, comma-separated GraphQL or snake_case names, in order (datetime is always
    /// included); default: every field of the type's record, in documented order.
    #[arg(long, value_name = "FIELDS")]
    fields: Option<String>,
    /// Do not split cut-off exports below this window length (e.g. 30s, 1m, 5m).
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    min_window: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct Common {
    /// The API base URL.
    #[arg(long, env = "TSG_API_URL", default_value = DEFAULT_BASE_URL, value_name = "URL")]
    api_url: String,
    /// List another company's records (admin users only).
    #[arg(long, value_name = "ID")]
    company_id: Option<String>,
    /// No progress display (there is none when stderr is not a terminal anyway).
    #[arg(long)]
    quiet: bool,
    /// Log format on stderr: text or json.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    log_format: String,
    /// Also write the run's summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// Seconds before one API request is given up (and retried).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    request_timeout: u64,
    /// S3 multipart part size in MiB (5 or more).
    #[arg(long, default_value_t = 8, value_name = "MIB")]
    s3_part_size: usize,
    /// S3 server-side encryption: none, aes256 (SSE-S3) or aws:kms (SSE-KMS).
    #[arg(long, default_value = "none", value_name = "MODE")]
    s3_sse: String,
    /// KMS key id or ARN for --s3-sse aws:kms (default: the bucket's key).
    #[arg(long, value_name = "KEY")]
    s3_kms_key_id: Option<String>,
}

#[derive(Debug, Args)]
struct ArchiveArgs {
    /// CDR types, comma-separated: SMS, MMS, VOICE, API (any case).
    #[arg(long = "type", value_name = "TYPES")]
    types: String,
    /// Start of the range (inclusive), RFC 3339, e.g. 2026-11-01T00:00:00Z. Required,
    /// except with --incremental, where it is needed only while a type has no finished
    /// window yet (and is the earliest instant gaps are filled from).
    #[arg(long, value_name = "DATETIME")]
    start: Option<String>,
    /// End of the range (exclusive), RFC 3339. Required, except with --incremental, where
    /// it is an optional upper bound. Windows that end after now - --settle are left for
    /// a later run: the range stops at the last window boundary before that, and the same
    /// command run again later continues from there.
    #[arg(long, value_name = "DATETIME")]
    end: Option<String>,
    /// Continue each type from its ledger: from the first instant at or after --start
    /// (or its first finished window) that no finished window covers, up to
    /// now - --settle aligned down to --window. Never skips or repeats a window when run
    /// again and again (e.g. hourly).
    #[arg(long)]
    incremental: bool,
    /// Leave the newest records for a later run: windows ending after now - DURATION
    /// are not archived (nor recorded as finished) yet (e.g. 0s, 15m, 1h).
    #[arg(long, default_value = crate::plan::DEFAULT_SETTLE, value_name = "DURATION")]
    settle: String,
    /// Fetch again the windows finished before this run that lie in the last DURATION
    /// of the range (e.g. 24h, 7d), and replace a window's files when its records changed
    /// (count or content hash); unchanged windows are left alone.
    #[arg(long, value_name = "DURATION")]
    rescan: Option<String>,
    /// Replace the files of every finished window of --start..--end (repairs damaged
    /// files, e.g. as cdr-sink verify suggests); not with --incremental or --rescan.
    #[arg(long)]
    redo: bool,
    /// Let --rescan and --redo replace a window with fewer records than it holds (the API
    /// now lists fewer: retention, an outage, a permission change). Without it such a
    /// window is left as it is and reported as failed.
    #[arg(long)]
    allow_shrink: bool,
    /// How long files replaced by --rescan or --redo are kept under
    /// _cdr_sink/replaced/ before a later run removes them (e.g. 0s, 7d, 30d).
    #[arg(long, default_value = crate::plan::DEFAULT_KEEP_REPLACED, value_name = "DURATION")]
    keep_replaced: String,
    /// What to do with records of a union member this version does not know: fail (the
    /// window is not finished, so a later version fetches it again) or skip (archive the
    /// rest and count them in the ledger).
    #[arg(long, default_value = "fail", value_name = "fail|skip")]
    on_unknown: String,
    /// What to do with a record whose values cannot be stored (a charge of "N/A", money
    /// with more than 10 decimal places, a record of another type): fail (the window is
    /// not finished; the error names the record's position and field) or quarantine
    /// (its raw JSON goes to _cdr_sink/quarantine/, the rest is archived and the count
    /// is kept in the ledger).
    #[arg(long, default_value = "fail", value_name = "fail|quarantine")]
    on_bad_record: String,
    /// How long a claim on a unit lasts without renewal. Runs on the same --out share
    /// the work through claims under _cdr_sink/claims/; a killed run's units are taken
    /// over by others once its lease has expired (e.g. 30s, 5m).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    lease: String,
    /// Output: a local directory, or s3://bucket/prefix/.
    #[arg(long, value_name = "DIR|S3_URL")]
    out: String,
    /// File format: parquet or csv.
    #[arg(long, default_value = "parquet", value_name = "FORMAT")]
    format: String,
    /// Page size, 1 to 1000.
    #[arg(
        long,
        default_value_t = 1000,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    limit: i64,
    /// Units (type x window) fetched and written at once.
    #[arg(
        long,
        default_value_t = 4,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    concurrency: i64,
    /// Length of one unit of work; must divide a day: 15m, 1h, 6h, 1d, ...
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    window: String,
    /// Start a new file after this many rows.
    #[arg(long, default_value_t = RollPolicy::default().rows, value_name = "N")]
    roll_rows: u64,
    /// Start a new file after about this many MiB.
    #[arg(long, default_value_t = RollPolicy::default().bytes / (1024 * 1024), value_name = "MIB")]
    roll_mib: u64,
    /// Parquet compression: zstd, snappy or none.
    #[arg(long, default_value = "zstd", value_name = "CODEC")]
    compression: String,
    #[command(flatten)]
    common: Common,
}

/// Parses the process arguments and runs; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cdr-sink: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// Parses `args` (the first being the program name) and runs them in the
/// current runtime, as the binary would: for embedding the CLI (e.g. a demo).
pub async fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => run(cli).await,
        Err(e) => {
            let _ = e.print();
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Exit status for bad input: nothing was requested or written.
const BAD_INPUT: u8 = 2;

/// Runs a parsed command line and maps the outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Archive(args) => run_archive(*args).await.map(|s| s.is_ok()),
        Command::Export(args) => run_export(*args).await.map(|_| true),
        Command::Verify(args) => run_verify(args).await,
        Command::Status(args) => run_status(args).await.map(|_| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(Failure::BadInput(e)) => {
            eprintln!("cdr-sink: error: {e}");
            ExitCode::from(BAD_INPUT)
        }
        Err(Failure::Other(e)) => {
            eprintln!("cdr-sink: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    BadInput(PlanError),
    Other(anyhow::Error),
}

impl From<PlanError> for Failure {
    fn from(e: PlanError) -> Failure {
        Failure::BadInput(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Other(e)
    }
}

/// Credentials from `TSG_TOKEN`, or `TSG_EMAIL` + `TSG_PASSWORD`.
pub fn auth_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Auth, PlanError> {
    let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    if let Some(token) = non_empty("TSG_TOKEN") {
        return Ok(Auth::Token(Token::new(token.trim())));
    }
    match (non_empty("TSG_EMAIL"), non_empty("TSG_PASSWORD")) {
        (Some(email), Some(password)) => Ok(Auth::Login {
            email: email.trim().to_string(),
            password: Password::new(password),
        }),
        (Some(_), None) => Err(PlanError::new(
            "TSG_EMAIL is set but TSG_PASSWORD is not: set both, or TSG_TOKEN",
        )),
        (None, Some(_)) => Err(PlanError::new(
            "TSG_PASSWORD is set but TSG_EMAIL is not: set both, or TSG_TOKEN",
        )),
        (None, None) => Err(PlanError::new(
            "no credentials: set TSG_TOKEN, or TSG_EMAIL and TSG_PASSWORD",
        )),
    }
}

fn init_logging(format: &str) -> Result<(), PlanError> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,cdr_sink=info,cdr_transport=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match format {
        "text" => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        "json" => builder.json().try_init(),
        other => {
            return Err(PlanError::new(format!(
                "--log-format `{other}` is unknown: use text or json"
            )));
        }
    };
    // Already initialised (the library run twice in one process): keep the first.
    let _ = result;
    Ok(())
}

fn format_for(choice: FormatChoice, compression: &str) -> Result<Arc<dyn Format>, PlanError> {
    use cdr_sink_parquet::{Compression, ParquetFormat, ParquetOptions};
    match choice {
        FormatChoice::Csv => Ok(Arc::new(cdr_sink_csv::CsvFormat::new())),
        FormatChoice::Parquet => {
            let compression = match compression.trim().to_ascii_lowercase().as_str() {
                "zstd" => Compression::default(),
                "snappy" => Compression::Snappy,
                "none" => Compression::None,
                other => {
                    return Err(PlanError::new(format!(
                        "--compression `{other}` is unknown: use zstd, snappy or none"
                    )));
                }
            };
            Ok(Arc::new(ParquetFormat::new(ParquetOptions {
                compression,
                ..ParquetOptions::default()
            })))
        }
    }
}

fn s3_options(common: &Common) -> Result<cdr_sink_s3::S3Options, PlanError> {
    use cdr_sink_s3::{S3Options, Sse};
    let sse = match common.s3_sse.trim().to_ascii_lowercase().as_str() {
        "none" => None,
        "aes256" => Some(Sse::S3),
        "aws:kms" | "kms" => Some(Sse::Kms {
            key_id: common.s3_kms_key_id.clone(),
        }),
        other => {
            return Err(PlanError::new(format!(
                "--s3-sse `{other}` is unknown: use none, aes256 or aws:kms"
            )));
        }
    };
    let options = S3Options {
        part_size: common.s3_part_size.saturating_mul(1024 * 1024),
        sse,
        ..S3Options::default()
    };
    options
        .validate()
        .map_err(|e| PlanError::new(format!("S3 options: {e}")))?;
    Ok(options)
}

/// Opens `--out` as a destination (no object is written yet).
async fn destination(out: &Output, common: &Common) -> Result<Arc<dyn Destination>, Failure> {
    match out {
        Output::Local(path) => Ok(Arc::new(LocalDir::new(path))),
        Output::S3(url) => {
            let options = s3_options(common)?;
            let dest = cdr_sink_s3::S3Destination::from_url(url, options)
                .await
                .map_err(|e| PlanError::new(format!("--out: {e}")))?;
            Ok(Arc::new(dest))
        }
    }
}

fn client_config(common: &Common, auth: Auth) -> Result<ClientConfig, PlanError> {
    let url = common.api_url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(PlanError::new(format!(
            "--api-url `{url}` is not an http(s) URL: use e.g. {DEFAULT_BASE_URL}"
        )));
    }
    if common.request_timeout == 0 {
        return Err(PlanError::new(
            "--request-timeout must be at least 1 second",
        ));
    }
    let mut config = ClientConfig::new(auth).with_base_url(url);
    config.timeout = Duration::from_secs(common.request_timeout);
    Ok(config)
}

async fn run_archive(args: ArchiveArgs) -> Result<Summary, Failure> {
    init_logging(&args.common.log_format)?;
    let raw = RawArchive {
        types: args.types,
        start: args.start.unwrap_or_default(),
        end: args.end.unwrap_or_default(),
        out: args.out,
        format: args.format,
        limit: args.limit,
        concurrency: args.concurrency,
        window: args.window,
        company_id: args.common.company_id.clone(),
        incremental: args.incremental,
        settle: args.settle,
        rescan: args.rescan,
        redo: args.redo,
        lease: args.lease,
        on_unknown: args.on_unknown,
        on_bad_record: args.on_bad_record,
        allow_shrink: args.allow_shrink,
        keep_replaced: args.keep_replaced,
    };
    let plan = ArchivePlan::new(&raw, chrono::Utc::now())?;
    if args.roll_rows == 0 || args.roll_mib == 0 {
        return Err(PlanError::new("--roll-rows and --roll-mib must be at least 1").into());
    }
    let format = format_for(plan.format, &args.compression)?;
    let auth = auth_from_env(|k| std::env::var(k).ok())?;
    let config = client_config(&args.common, auth)?;
    if let Some(asked) = plan.clamped_from {
        info!(
            "--end {}: archiving up to {}, where the windows that have settled end (now - --settle, aligned to --window)",
            cdr_core::format_datetime(&asked),
            cdr_core::format_datetime(&plan.end)
        );
    }
    let dest = destination(&plan.output, &args.common).await?;
    dest.check_writable()
        .await
        .map_err(|e| PlanError::new(format!("--out {} is not writable: {e}", plan.output)))?;
    // An --incremental range comes from the ledger: bad input (no --start on a
    // first run) shows here, before logging in.
    let plan = crate::pipeline::resolve(&plan, dest.as_ref())
        .await
        .map_err(|e| match e {
            crate::ArchiveError::Plan(p) => Failure::BadInput(p),
            other => Failure::Other(other.into()),
        })?;
    if plan.incremental.is_some() {
        info!(
            "incremental: archiving up to {} (now - --settle, aligned to --window)",
            cdr_core::format_datetime(&plan.end)
        );
    }

    // The client logs in on its first request, so that a run with nothing to
    // fetch makes none. Refused credentials are remembered: the first unit
    // to log in fails with them, the others at once, without another login.
    let client = Client::new(config).context("building the HTTP client")?;
    let source = Arc::new(TransportSource::new(
        client,
        plan.limit,
        plan.company_id.clone(),
    ));
    let progress = Progress::new(&plan.types);
    let display = (!args.common.quiet && std::io::stderr().is_terminal())
        .then(|| spawn_display(progress.clone(), Duration::from_millis(500)));
    let options = RunOptions {
        roll: RollPolicy {
            rows: args.roll_rows,
            bytes: args.roll_mib.saturating_mul(1024 * 1024),
        },
        ..RunOptions::default()
    };
    info!(
        "archiving {} units ({} types x {} windows of {}) to {}",
        plan.units.len(),
        plan.types.len(),
        plan.units.len() / plan.types.len().max(1),
        plan.step,
        plan.output
    );
    let run = archive(&plan, source, dest, format, options, progress.clone());
    let result = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            if let Some(d) = display { d.abort(); }
            return Err(anyhow::anyhow!("interrupted: unfinished windows were left invisible; re-run the same command to resume").into());
        }
    };
    if let Some(d) = display {
        d.abort();
        // One last drawing with the final counts.
        for line in progress.render() {
            eprintln!("\r\x1b[K{line}");
        }
    }
    let summary = result.map_err(|e| {
        if let crate::ArchiveError::Plan(p) = e {
            Failure::BadInput(p)
        } else {
            Failure::Other(e.into())
        }
    })?;
    print!("{summary}");
    for f in &summary.failed {
        eprintln!(
            "cdr-sink: failed: {} [{}, {}): {}",
            f.cdr_type,
            cdr_core::format_datetime(&f.window_start),
            cdr_core::format_datetime(&f.window_end),
            f.error
        );
    }
    if let Some(path) = &args.common.summary_json {
        write_summary_json(path, &summary)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}

/// Splits an export `--out` into a destination and the key of the file in it.
async fn export_target(
    out: &str,
    common: &Common,
) -> Result<(Arc<dyn Destination>, cdr_sink_api::ObjectKey), Failure> {
    let out = out.trim();
    let bad = |why: &str| PlanError::new(format!("--out `{out}` {why}"));
    if out.ends_with('/') || out.is_empty() {
        return Err(bad("names a directory: give a file name, e.g. export.csv").into());
    }
    if let Some(rest) = out.strip_prefix("s3://") {
        let (dir, name) = rest
            .rsplit_once('/')
            .ok_or_else(|| bad("names no key: use s3://bucket/key.csv"))?;
        let key = cdr_sink_api::ObjectKey::new(name).map_err(|e| bad(&e.to_string()))?;
        let dest = destination(&Output::S3(format!("s3://{dir}/")), common).await?;
        return Ok((dest, key));
    }
    if out.contains("://") {
        return Err(bad("is not a local path or s3:// URL").into());
    }
    let path = std::path::Path::new(out);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("has no file name"))?;
    let key = cdr_sink_api::ObjectKey::new(name).map_err(|e| bad(&e.to_string()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((Arc::new(LocalDir::new(parent)), key))
}

/// Parses a positive duration such as `30s`, `1m`, `2h`.
fn parse_span(flag: &str, s: &str) -> Result<chrono::TimeDelta, PlanError> {
    let t = s.trim();
    let err = || {
        PlanError::new(format!(
            "{flag} `{s}` is not a duration: use e.g. 30s, 1m or 2h"
        ))
    };
    let at = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let n: i64 = t[..at].parse().map_err(|_| err())?;
    let unit = match &t[at..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    if n <= 0 {
        return Err(err());
    }
    Ok(chrono::TimeDelta::seconds(n.saturating_mul(unit)))
}

async fn run_export(args: ExportArgs) -> Result<crate::export::ExportSummary, Failure> {
    use crate::export::{ExportJob, ExportProgress, export};
    use crate::plan::parse_instant;
    init_logging(&args.common.log_format)?;
    let cdr_type: cdr_core::CdrType = args
        .cdr_type
        .parse()
        .map_err(|e| PlanError::new(format!("--type: {e}")))?;
    let start = parse_instant("--start", &args.start)?;
    let asked_end = parse_instant("--end", &args.end)?;
    if start >= asked_end {
        return Err(PlanError::new(format!(
            "--end {} is not later than --start {}: give an end after the start",
            args.end.trim(),
            args.start.trim()
        ))
        .into());
    }
    // A whole second: a bound every server compares at the same precision.
    let now = cdr_core::whole_second(chrono::Utc::now());
    let end = asked_end.min(now);
    let window = cdr_core::Window::new(start, end).map_err(|_| {
        PlanError::new(format!(
            "--start {} is in the future: nothing to export yet",
            args.start.trim()
        ))
    })?;
    let kind = cdr_type.record_kind();
    let selection = match &args.fields {
        None => cdr_core::Selection::all(),
        Some(list) => {
            let names: Vec<&str> = list.split(',').map(str::trim).collect();
            cdr_core::Selection::all()
                .narrow(kind, &names)
                .map_err(|e| PlanError::new(format!("--fields: {e}")))?
        }
    };
    let min_window = parse_span("--min-window", &args.min_window)?;
    let company_id = match args.common.company_id.as_deref().map(str::trim) {
        Some("") => {
            return Err(PlanError::new("--company-id is empty: give an ID or leave it out").into());
        }
        other => other.map(str::to_string),
    };
    let auth = auth_from_env(|k| std::env::var(k).ok())?;
    let config = client_config(&args.common, auth)?;
    if asked_end > now {
        info!(
            "--end {} is in the future: clamped to now, {}",
            cdr_core::format_datetime(&asked_end),
            cdr_core::format_datetime(&end)
        );
    }
    let (dest, key) = export_target(&args.out, &args.common).await?;
    dest.check_writable()
        .await
        .map_err(|e| PlanError::new(format!("--out {} is not writable: {e}", args.out.trim())))?;
    let logs_in = matches!(config.auth, Auth::Login { .. });
    let client = Client::new(config).context("building the HTTP client")?;
    if logs_in {
        client.login().await.context("logging in")?;
    }
    let job = ExportJob {
        cdr_type,
        window,
        selection,
        company_id,
        min_window,
    };
    let progress = Arc::new(ExportProgress::default());
    let display = (!args.common.quiet && std::io::stderr().is_terminal()).then(|| {
        let p = progress.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                use std::sync::atomic::Ordering::Relaxed;
                eprint!(
                    "\r\x1b[K{} bytes  {} rows  {} windows done  {} splits  {:.0}s",
                    crate::progress::group(p.bytes.load(Relaxed)),
                    crate::progress::group(p.rows.load(Relaxed)),
                    p.windows_done.load(Relaxed),
                    p.splits.load(Relaxed),
                    started.elapsed().as_secs_f64()
                );
            }
        })
    });
    let run = export(&client, &job, dest, &key, progress);
    let result = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            if let Some(d) = display { d.abort(); }
            return Err(anyhow::anyhow!("interrupted: nothing was written; run the command again").into());
        }
    };
    if let Some(d) = display {
        d.abort();
        eprintln!();
    }
    let summary = result.map_err(|e| Failure::Other(e.into()))?;
    print!("{summary}");
    if let Some(path) = &args.common.summary_json {
        write_summary_json(path, &summary)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}

/// Writes the summary JSON atomically (temporary file, then rename).
fn write_summary_json(
    path: &std::path::Path,
    summary: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec_pretty(summary)?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("summary.json")
    ));
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The archive: a local directory, or s3://bucket/prefix/.
    #[arg(long, value_name = "DIR|S3_URL")]
    out: String,
    /// Only these CDR types, comma-separated (default: every type found).
    #[arg(long = "type", value_name = "TYPES")]
    types: Option<String>,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Files read and checked at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    concurrency: usize,
    /// Log format on stderr: text or json.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    log_format: String,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The archive: a local directory, or s3://bucket/prefix/.
    #[arg(long, value_name = "DIR|S3_URL")]
    out: String,
    /// Only these CDR types, comma-separated (default: every type found).
    #[arg(long = "type", value_name = "TYPES")]
    types: Option<String>,
    /// Print the status as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Log format on stderr: text or json.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    log_format: String,
}

/// Opens an existing archive for reading (verify, status).
async fn archive_to_read(out: &str) -> Result<Arc<dyn Destination>, Failure> {
    match Output::parse(out)? {
        Output::Local(path) => {
            if !path.is_dir() {
                return Err(
                    PlanError::new(format!("--out {}: no such directory", path.display())).into(),
                );
            }
            Ok(Arc::new(LocalDir::new(path)))
        }
        Output::S3(url) => {
            let dest =
                cdr_sink_s3::S3Destination::from_url(&url, cdr_sink_s3::S3Options::default())
                    .await
                    .map_err(|e| PlanError::new(format!("--out: {e}")))?;
            Ok(Arc::new(dest))
        }
    }
}

fn type_filter(types: Option<&str>) -> Result<Vec<cdr_core::CdrType>, PlanError> {
    match types {
        None => Ok(Vec::new()),
        Some(list) => {
            cdr_core::parse_type_list(list).map_err(|e| PlanError::new(format!("--type: {e}")))
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn run_verify(args: VerifyArgs) -> Result<bool, Failure> {
    init_logging(&args.log_format)?;
    let types = type_filter(args.types.as_deref())?;
    if args.concurrency == 0 || args.concurrency > crate::plan::MAX_CONCURRENCY as usize {
        return Err(PlanError::new(format!(
            "--concurrency {} is out of range: use 1 to {}",
            args.concurrency,
            crate::plan::MAX_CONCURRENCY
        ))
        .into());
    }
    let dest = archive_to_read(&args.out).await?;
    let options = crate::verify::VerifyOptions {
        types,
        concurrency: args.concurrency,
        out: args.out.trim().to_string(),
    };
    let report = crate::verify::verify(dest.as_ref(), &options)
        .await
        .with_context(|| format!("reading {}", dest.describe()))?;
    if args.json {
        print_json(&report)?;
    } else {
        print!("{report}");
    }
    if !report.is_ok() {
        eprintln!(
            "cdr-sink: verify found {} problems in {}",
            report.problems.len(),
            report.output
        );
    }
    Ok(report.is_ok())
}

async fn run_status(args: StatusArgs) -> Result<(), Failure> {
    init_logging(&args.log_format)?;
    let types = type_filter(args.types.as_deref())?;
    let dest = archive_to_read(&args.out).await?;
    let report = crate::status::status(dest.as_ref(), &types, chrono::Utc::now())
        .await
        .with_context(|| format!("reading {}", dest.describe()))?;
    if args.json {
        print_json(&report)?;
    } else {
        print!("{report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(matches!(
            auth_from_env(env(&[("TSG_TOKEN", "POAPK_x"), ("TSG_EMAIL", "a")])),
            Ok(Auth::Token(_))
        ));
        assert!(matches!(
            auth_from_env(env(&[("TSG_EMAIL", "a@b"), ("TSG_PASSWORD", "p")])),
            Ok(Auth::Login { .. })
        ));
        for (vars, needle) in [
            (&[][..], "no credentials"),
            (&[("TSG_EMAIL", "a@b")][..], "TSG_PASSWORD is not"),
            (&[("TSG_PASSWORD", "p")][..], "TSG_EMAIL is not"),
            (&[("TSG_TOKEN", " ")][..], "no credentials"),
        ] {
            let e = auth_from_env(env(vars)).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn help_documents_every_flag() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let archive = cmd.find_subcommand_mut("archive").unwrap();
        let help = archive.render_long_help().to_string();
        for flag in [
            "--type",
            "--start",
            "--end",
            "--out",
            "--format",
            "--api-url",
            "--limit",
            "--concurrency",
            "--window",
            "--company-id",
            "--quiet",
            "--log-format",
            "--summary-json",
            "--incremental",
            "--settle",
            "--rescan",
            "--redo",
            "TSG_TOKEN",
            "TSG_PASSWORD",
            "AWS_ENDPOINT_URL",
        ] {
            assert!(help.contains(flag), "archive --help lacks {flag}");
        }
        for (sub, flags) in [
            (
                "verify",
                &[
                    "--out",
                    "--type",
                    "--json",
                    "--concurrency",
                    "--log-format",
                    "AWS_ENDPOINT_URL",
                ][..],
            ),
            (
                "status",
                &[
                    "--out",
                    "--type",
                    "--json",
                    "--log-format",
                    "AWS_ENDPOINT_URL",
                ][..],
            ),
        ] {
            let help = cmd
                .find_subcommand_mut(sub)
                .unwrap()
                .render_long_help()
                .to_string();
            for flag in flags {
                assert!(help.contains(flag), "{sub} --help lacks {flag}");
            }
        }
        // Every argument of every subcommand has a help text.
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some() || arg.get_id() == "help",
                    "{} --{} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
        Cli::command().debug_assert();
    }
}
