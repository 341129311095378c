//! What a command shows while and after it runs: logs, the progress display,
//! the summary JSON, and what Ctrl-C does. Once for every command.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use cdr_transport::Auth;

use crate::components::Settings;
use crate::export::ExportProgress;
use crate::plan::PlanError;
use crate::progress::{Progress, spawn_display};

use super::args::{Common, LogFormat};

/// Logs to stderr in `format`; `RUST_LOG` filters.
pub(super) fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,cdr_sink=info,cdr_transport=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // Already initialised (the library run twice in one process): keep the first.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The settings the common flags give, with `auth`.
pub(super) fn settings(common: &Common, auth: Auth) -> Result<Settings, PlanError> {
    let mut s = Settings::new(auth);
    s.api_url = common.api_url.clone();
    s.request_timeout = Duration::from_secs(common.request_timeout);
    s.s3 = crate::components::s3_options(
        common.s3_part_size,
        common.s3_sse.into_sse(common.s3_kms_key_id.clone()),
    )?;
    s.allow_insecure_http = common.allow_insecure_http;
    if common.max_page_mib == 0 {
        return Err(PlanError::new("--max-page-mib must be at least 1"));
    }
    s.limits.max_page_bytes = common.max_page_mib.saturating_mul(1024 * 1024);
    s.limits.export_deadline =
        crate::plan::parse_duration("--export-deadline", &common.export_deadline, false)?
            .to_std()
            .map_err(|_| PlanError::new("--export-deadline is out of range"))?;
    s.limits.export_min_rate = common.export_min_rate.saturating_mul(1024);
    Ok(s)
}

/// Runs `work` until it ends (`Some`) or Ctrl-C (`None`: `work` is dropped,
/// which aborts its uploads and leaves nothing half-written visible).
pub(super) async fn until_interrupted<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        done = work => Some(done),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// The progress display on a terminal (none with `--quiet` or in pipes).
pub(super) struct Display {
    task: Option<tokio::task::JoinHandle<()>>,
    /// Archive progress: drawn a last time when stopped.
    progress: Option<Arc<Progress>>,
}

impl Display {
    fn wanted(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    /// Per-type lines for `archive`.
    pub(super) fn start(progress: &Arc<Progress>, quiet: bool) -> Display {
        if !Self::wanted(quiet) {
            return Display {
                task: None,
                progress: None,
            };
        }
        Display {
            task: Some(spawn_display(progress.clone(), Duration::from_millis(500))),
            progress: Some(progress.clone()),
        }
    }

    /// One line for `export`.
    pub(super) fn start_export(progress: &Arc<ExportProgress>, quiet: bool) -> Display {
        if !Self::wanted(quiet) {
            return Display {
                task: None,
                progress: None,
            };
        }
        let p = progress.clone();
        let task = tokio::spawn(async move {
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
        });
        Display {
            task: Some(task),
            progress: None,
        }
    }

    /// Stops drawing; the last drawing shows the final counts.
    pub(super) fn stop(self) {
        let Some(task) = self.task else {
            return;
        };
        task.abort();
        match self.progress {
            Some(p) => {
                for line in p.render() {
                    eprintln!("\r\x1b[K{line}");
                }
            }
            None => eprintln!(),
        }
    }
}

/// Writes `value` as JSON to `path` atomically (temporary file, then rename).
pub(super) fn write_json(
    path: &std::path::Path,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec_pretty(value)?;
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

/// Prints `value` as pretty JSON on stdout.
pub(super) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
