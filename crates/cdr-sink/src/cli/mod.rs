//! The `cdr-sink` command line: parse, run one command, map the outcome to
//! an exit code. Each command lives in a file of its own and only turns
//! flags into a plan (`crate::plan` checks them), opens the run's parts
//! (`crate::components`), runs it and reports (`report`).

/// `print!` to stdout that ignores a closed pipe: `cdr-sink status | head
/// -1` must not panic (std's `print!` does when the reader has gone).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` to stdout that ignores a closed pipe (see `out!`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr (a cron job's, say): a message
/// that cannot be shown must not turn into a panic.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod archive;
mod args;
mod choices;
mod display;
mod export;
mod help;
mod reconcile;
mod report;
mod store;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
use args::Command;

use crate::plan::PlanError;

/// Exit status for bad input: nothing was requested or written.
const BAD_INPUT: u8 = 2;

/// Parses the process arguments and runs; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("cdr-sink: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// Parses `args` (the first being the program name) and runs them in the
/// current runtime, as the binary would.
pub async fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => run(cli).await,
        Err(e) => parse_error(e),
    }
}

/// Help and version as clap prints them; bad flags as one line that says
/// what to change (clap's hint lines folded into it), exit 2.
fn parse_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(BAD_INPUT)
        } else {
            ExitCode::SUCCESS
        };
    }
    errln!("cdr-sink: {}", one_line(&e.to_string()));
    ExitCode::from(BAD_INPUT)
}

/// Clap's message on one line: its lines joined, the usage and the pointer
/// to `--help` left out.
fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .collect();
    format!("{} (see --help)", parts.join(" "))
}

/// Runs a parsed command line and maps the outcome to an exit code. With
/// `--summary-json`, the file is written however the command ends.
pub async fn run(cli: Cli) -> ExitCode {
    let mut signals = report::Signals::install();
    let started = std::time::Instant::now();
    let name = cli.command.name();
    let summary_path = cli.command.summary_json().map(Path::to_path_buf);
    let metrics_path = cli.command.metrics_textfile().map(Path::to_path_buf);
    // `archive` and `export` watch for signals themselves, so that their
    // summary says what was done before the signal.
    let result = match cli.command {
        Command::Archive(args) => archive::run(*args, &mut signals).await,
        Command::Export(args) => export::run(*args, &mut signals).await,
        Command::Verify(args) => interruptible(&mut signals, store::verify(args)).await,
        Command::Status(args) => interruptible(&mut signals, store::status(args)).await,
        Command::Reconcile(args) => interruptible(&mut signals, reconcile::run(*args)).await,
        Command::Completions(args) => completions(args).map(Ended::from),
        Command::Manpage(args) => manpage(args).map(Ended::from),
    };
    let (status, summary, archived, error) = match result {
        Ok(ended) => (ended.status, ended.summary, ended.archived, None),
        Err(Failure::BadInput(e)) => {
            errln!("cdr-sink: error: {e}");
            (report::Status::BadInput, None, None, Some(e.to_string()))
        }
        Err(Failure::Other(e)) => {
            errln!("cdr-sink: error: {e:#}");
            (report::Status::Error, None, None, Some(format!("{e:#}")))
        }
    };
    let mut exit = ExitCode::from(status.exit_code());
    if let Some(path) = metrics_path {
        let outcome = crate::metrics::RunOutcome {
            status: status.name(),
            ended: chrono::Utc::now(),
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        if let Err(e) = report::write_metrics(&path, archived.as_deref(), &outcome) {
            errln!("cdr-sink: error: writing {}: {e:#}", path.display());
            if status == report::Status::Ok {
                exit = ExitCode::FAILURE;
            }
        }
    }
    if let report::Status::Interrupted(signal) = status {
        errln!(
            "cdr-sink: stopped by {}: unfinished windows were left invisible; run the same command again to resume",
            signal.name()
        );
    }
    if let Some(path) = summary_path {
        let json = report::summary_json(name, status, summary, error.as_deref());
        if let Err(e) = report::write_json(&path, &json) {
            errln!("cdr-sink: error: writing {}: {e:#}", path.display());
            if status == report::Status::Ok {
                exit = ExitCode::FAILURE;
            }
        }
    }
    exit
}

/// Runs a command that reports only an outcome, until it ends or a signal.
async fn interruptible(
    signals: &mut report::Signals,
    work: impl std::future::Future<Output = Result<bool, Failure>>,
) -> Result<Ended, Failure> {
    match signals.until(work).await {
        Ok(outcome) => outcome.map(Ended::from),
        Err(signal) => Ok(Ended {
            status: report::Status::Interrupted(signal),
            summary: None,
            archived: None,
        }),
    }
}

/// What a command that ran came to.
struct Ended {
    status: report::Status,
    /// The command's summary, for `--summary-json`.
    summary: Option<serde_json::Value>,
    /// An archive run's summary, for `--metrics-textfile`.
    archived: Option<Box<crate::summary::Summary>>,
}

impl From<bool> for Ended {
    fn from(ok: bool) -> Ended {
        Ended {
            status: if ok {
                report::Status::Ok
            } else {
                report::Status::Failed
            },
            summary: None,
            archived: None,
        }
    }
}

/// Why a command did not run to its end.
enum Failure {
    /// Bad input: exit 2.
    BadInput(PlanError),
    /// Anything else: exit 1.
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

/// `cdr-sink completions SHELL`: the completion script on stdout.
fn completions(args: args::CompletionsArgs) -> Result<bool, Failure> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "cdr-sink", &mut std::io::stdout());
    Ok(true)
}

/// `cdr-sink manpage [COMMAND]`: one man page (roff) on stdout; `cargo
/// xtask man` writes them all to files.
fn manpage(args: args::ManpageArgs) -> Result<bool, Failure> {
    use clap::CommandFactory;
    let cli = Cli::command();
    if args.list {
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            outln!("{}", sub.get_name());
        }
        return Ok(true);
    }
    let page = match args.command.as_deref() {
        None => cli,
        Some(name) => {
            let sub = cli
                .get_subcommands()
                .find(|s| s.get_name() == name && !s.is_hide_set())
                .ok_or_else(|| PlanError::new(format!("manpage: no command `{name}`")))?;
            sub.clone().name(format!("cdr-sink-{name}"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| Failure::Other(anyhow::anyhow!("rendering the man page: {e}")))?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)
        .map_err(|e| Failure::Other(e.into()))?;
    Ok(true)
}
