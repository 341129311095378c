//! The `cdr-sink` command line: parse, run one command, map the outcome to
//! an exit code. Each command lives in a file of its own and only turns
//! flags into a plan (`crate::plan` checks them), opens the run's parts
//! (`crate::components`), runs it and reports (`report`).

mod archive;
mod args;
mod export;
mod report;
mod store;

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
            eprintln!("cdr-sink: error: cannot start the async runtime: {e}");
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
    eprintln!("cdr-sink: {}", one_line(&e.to_string()));
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

/// Runs a parsed command line and maps the outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Archive(args) => archive::run(*args).await,
        Command::Export(args) => export::run(*args).await,
        Command::Verify(args) => store::verify(args).await,
        Command::Status(args) => store::status(args).await,
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
