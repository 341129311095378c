//! How a command ends and what it leaves for schedulers: signals, exit
//! status, the summary JSON and the metrics file. Once for every command.

use std::time::Duration;

use cdr_transport::Auth;

use crate::components::Settings;
use crate::plan::PlanError;

use super::args::{ApiFlags, Common};

/// The settings the common flags give, with `auth`.
pub(super) fn settings(common: &Common, auth: Auth) -> Result<Settings, PlanError> {
    let mut s = api_settings(&common.api, auth)?;
    s.s3 = crate::components::s3_options(
        common.s3_part_size,
        common.s3_sse.into_sse(common.s3_kms_key_id.clone()),
    )?;
    Ok(s)
}

/// The settings the API flags give, with `auth` (S3 options at their
/// defaults).
pub(super) fn api_settings(api: &ApiFlags, auth: Auth) -> Result<Settings, PlanError> {
    let mut s = Settings::new(auth);
    s.api_url = api.api_url.clone();
    s.request_timeout = Duration::from_secs(api.request_timeout);
    s.allow_insecure_http = api.allow_insecure_http;
    s.limits = crate::plan::limits(api.max_page_mib, &api.export_deadline, api.export_min_rate)?;
    Ok(s)
}

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM (what Kubernetes and systemd send): exit 143.
    Terminate,
}

impl Signal {
    pub(super) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell convention: 128 + the signal's number.
    pub(super) fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made (a signal that
/// arrives during start-up stops the run gracefully too).
pub(super) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers. One that cannot be installed is only logged:
    /// that signal then ends the process the default way.
    pub(super) fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let catch = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("cannot catch {name}: {e}");
                    None
                }
            };
            Signals {
                interrupt: catch(SignalKind::interrupt(), "SIGINT"),
                terminate: catch(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal; never ends when none can be caught.
    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                if let Some(s) = s
                    && s.recv().await.is_some()
                {
                    return;
                }
                std::future::pending().await
            }
            tokio::select! {
                () = recv(&mut self.interrupt) => Signal::Interrupt,
                () = recv(&mut self.terminate) => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signal::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }

    /// Runs `work` until it ends, or until a signal: then `work` is dropped,
    /// which starts no new unit, aborts the uploads in flight (nothing
    /// half-written becomes visible) and releases the claims it held.
    pub(super) async fn until<T>(
        &mut self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, Signal> {
        let stopped = tokio::select! {
            done = work => return Ok(done),
            signal = self.next() => signal,
        };
        tracing::warn!("{}: stopping; no new windows are started", stopped.name());
        // The dropped work released its claims and aborted its uploads in
        // tasks of their own: give them a moment to reach the store.
        crate::claim::settle_releases(std::time::Duration::from_secs(10)).await;
        Err(stopped)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Everything asked for was done.
    Ok,
    /// The command ran to its end, but some of the work failed.
    Failed,
    /// Stopped by a signal.
    Interrupted(Signal),
    /// Bad input: nothing was requested or written.
    BadInput,
    /// An error stopped the command (login refused, store unreachable...).
    Error,
}

impl Status {
    /// The `status` of the summary JSON.
    pub(super) fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Interrupted(_) => "interrupted",
            Status::BadInput | Status::Error => "error",
        }
    }

    /// The process's exit status (listed in `--help`).
    pub(super) fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed | Status::Error => 1,
            Status::BadInput => 2,
            Status::Interrupted(s) => s.exit_code(),
        }
    }
}

/// The version of the summary JSON's layout; raised when a field changes
/// meaning or goes away (new fields may appear at any time).
pub const SUMMARY_VERSION: u32 = 2;

/// The summary JSON of a command that ended with `status`: the command's own
/// summary (if it got that far) with `summary_version`, `command`, `status`,
/// `exit_code` and, for errors, `error` set.
pub(super) fn summary_json(
    command: &str,
    status: Status,
    summary: Option<serde_json::Value>,
    error: Option<&str>,
) -> serde_json::Value {
    let mut v = match summary {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    v.insert("summary_version".into(), SUMMARY_VERSION.into());
    v.insert("command".into(), command.into());
    v.insert("status".into(), status.name().into());
    v.insert("exit_code".into(), status.exit_code().into());
    if let Status::Interrupted(s) = status {
        v.insert("signal".into(), s.name().into());
    }
    if let Some(e) = error {
        v.insert("error".into(), e.into());
    }
    v.insert(
        "ended_at".into(),
        cdr_core::format_datetime(&chrono::Utc::now()).into(),
    );
    serde_json::Value::Object(v)
}

/// Writes `value` as JSON to `path` atomically: a reader sees the previous
/// file or this one, never a part.
pub(super) fn write_json(
    path: &std::path::Path,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let mut body = serde_json::to_vec_pretty(value)?;
    body.push(b'\n');
    cdr_sink_local::write_file_atomically(path, &body)?;
    Ok(())
}

/// The largest metrics file read back for the values it carries forward.
const MAX_METRICS_FILE: u64 = 1024 * 1024;

/// Writes the metrics of a run that ended with `outcome` to `path`
/// atomically, carrying forward what the file held before.
pub(super) fn write_metrics(
    path: &std::path::Path,
    summary: Option<&crate::summary::Summary>,
    outcome: &crate::metrics::RunOutcome<'_>,
) -> anyhow::Result<()> {
    use std::io::Read;
    let mut previous = String::new();
    match std::fs::File::open(path) {
        Ok(f) => {
            // Not ours, or damaged: start afresh rather than fail the run.
            if f.take(MAX_METRICS_FILE)
                .read_to_string(&mut previous)
                .is_err()
            {
                previous.clear();
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let text = crate::metrics::render(summary, outcome, &previous);
    cdr_sink_local::write_file_atomically(path, text.as_bytes())?;
    Ok(())
}

/// Prints `value` as pretty JSON on stdout.
pub(super) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
