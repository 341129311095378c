//! What a command shows while it runs: logs on stderr, progress bars on a
//! terminal (drawn by indicatif through tracing-indicatif, so that a log
//! line never clobbers them), and elsewhere a progress log line per type
//! every 30 seconds.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use indicatif::ProgressStyle;
use tracing::Span;
use tracing_indicatif::IndicatifLayer;
use tracing_indicatif::filter::{IndicatifFilter, hide_indicatif_span_fields};
use tracing_indicatif::span_ext::IndicatifSpanExt;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::export::ExportProgress;
use crate::progress::{Progress, group};

use super::choices::LogFormat;

/// How often the bars are updated.
const REDRAW: Duration = Duration::from_millis(500);
/// How often a progress line is logged where there are no bars.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// Whether progress bars are drawn: text logs on a terminal, without
/// `--quiet`.
pub(super) fn bars_wanted(format: LogFormat, quiet: bool) -> bool {
    !quiet && format == LogFormat::Text && std::io::stderr().is_terminal()
}

/// Colour only on a terminal, and not when `NO_COLOR` is set
/// (<https://no-color.org>).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Logs to stderr in `format`; `RUST_LOG` filters. With `bars`, log lines
/// are written above the progress bars instead of through them.
pub(super) fn init_logging(format: LogFormat, bars: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,cdr_sink=info,cdr_transport=warn"))
    };
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry();
    // Already initialised (the library run twice in one process): keep the first.
    let _ = match (format, bars) {
        (LogFormat::Json, _) => registry
            .with(
                fmt.json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            )
            .try_init(),
        (LogFormat::Text, false) => registry
            .with(
                fmt.with_ansi(colour())
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            )
            .try_init(),
        (LogFormat::Text, true) => {
            let bars = IndicatifLayer::new()
                .with_span_field_formatter(hide_indicatif_span_fields(DefaultFields::new()));
            registry
                .with(
                    fmt.with_ansi(colour())
                        .with_writer(bars.get_stderr_writer())
                        .with_filter(filter()),
                )
                // Only the spans made here for the purpose get a bar.
                .with(bars.with_filter(IndicatifFilter::new(false)))
                .try_init()
        }
    };
}

/// A bar's span, styled; the bar lives as long as the span.
fn bar_span(label: &'static str) -> Span {
    let span = tracing::info_span!("progress", indicatif.pb_show = tracing::field::Empty, label);
    if let Ok(style) = ProgressStyle::with_template("{bar:24} {wide_msg}") {
        span.pb_set_style(&style.progress_chars("=> "));
    }
    span.pb_start();
    span
}

/// The progress of a running command: bars on a terminal, log lines
/// elsewhere, nothing with `--quiet` on a terminal.
pub(super) struct Display {
    task: Option<tokio::task::JoinHandle<()>>,
    /// Archive progress: printed a last time when stopped, where bars were.
    progress: Option<Arc<Progress>>,
}

impl Display {
    /// Per-type bars (or log lines) for `archive`.
    pub(super) fn start(progress: &Arc<Progress>, bars: bool, quiet: bool) -> Display {
        if bars {
            let p = progress.clone();
            let task = tokio::spawn(async move {
                let spans: Vec<Span> = p.types().map(|(t, _)| bar_span(t.as_str())).collect();
                let mut tick = tokio::time::interval(REDRAW);
                loop {
                    tick.tick().await;
                    for ((_, c), (span, line)) in p.types().zip(spans.iter().zip(p.render())) {
                        span.pb_set_length(c.units_total.load(Relaxed).max(1));
                        span.pb_set_position(
                            c.units_done.load(Relaxed)
                                + c.units_skipped.load(Relaxed)
                                + c.units_elsewhere.load(Relaxed)
                                + c.units_failed.load(Relaxed),
                        );
                        span.pb_set_message(&line);
                    }
                }
            });
            return Display {
                task: Some(task),
                progress: Some(progress.clone()),
            };
        }
        if quiet && std::io::stderr().is_terminal() {
            return Display {
                task: None,
                progress: None,
            };
        }
        let p = progress.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(LOG_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                log_progress(&p);
            }
        });
        Display {
            task: Some(task),
            progress: None,
        }
    }

    /// One bar (or log line) for `export`.
    pub(super) fn start_export(progress: &Arc<ExportProgress>, bars: bool) -> Display {
        let p = progress.clone();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let span = bars.then(|| bar_span("export"));
            let mut tick = tokio::time::interval(if bars { REDRAW } else { LOG_EVERY });
            if !bars {
                tick.tick().await;
            }
            loop {
                tick.tick().await;
                let (bytes, rows) = (p.bytes.load(Relaxed), p.rows.load(Relaxed));
                let (done, splits) = (p.windows_done.load(Relaxed), p.splits.load(Relaxed));
                match &span {
                    Some(span) => {
                        span.pb_tick();
                        span.pb_set_message(&format!(
                            "{} bytes  {} rows  {done} windows done  {splits} splits  {:.0}s",
                            group(bytes),
                            group(rows),
                            started.elapsed().as_secs_f64()
                        ));
                    }
                    None => {
                        tracing::info!(bytes, rows, windows_done = done, splits, "export progress")
                    }
                }
            }
        });
        Display {
            task: Some(task),
            progress: None,
        }
    }

    /// Stops; where there were bars, the final counts are printed in their
    /// place.
    pub(super) fn stop(self) {
        let Some(task) = self.task else {
            return;
        };
        // Aborting drops the task's spans, which removes their bars.
        task.abort();
        if let Some(p) = self.progress {
            for line in p.render() {
                errln!("{line}");
            }
        }
    }
}

/// One progress line per type, with the numbers as fields, so that
/// `--log-format json` can be queried.
fn log_progress(p: &Progress) {
    let elapsed = p.started.elapsed().as_secs_f64().max(1e-3);
    for (t, c) in p.types() {
        let records = c.records.load(Relaxed);
        let done = c.units_done.load(Relaxed)
            + c.units_skipped.load(Relaxed)
            + c.units_elsewhere.load(Relaxed);
        tracing::info!(
            cdr_type = t.as_str(),
            records,
            pages = c.pages.load(Relaxed),
            windows_done = done,
            windows_failed = c.units_failed.load(Relaxed),
            windows_total = c.units_total.load(Relaxed),
            records_per_second = (records as f64 / elapsed) as u64,
            "progress"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::CdrType;

    /// A log line per type, with its numbers as fields (collected by a
    /// subscriber of the test's own).
    #[test]
    fn progress_lines_carry_their_numbers_as_fields() {
        let p = Progress::new(&[CdrType::Sms, CdrType::Voice]);
        p.of(CdrType::Sms).records.store(1500, Relaxed);
        p.of(CdrType::Sms).units_total.store(4, Relaxed);
        p.of(CdrType::Sms).units_done.store(1, Relaxed);
        p.of(CdrType::Sms).units_elsewhere.store(1, Relaxed);
        let buf = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = {
            let buf = buf.clone();
            move || Writer(buf.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || log_progress(&p));
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let sms = &lines[0]["fields"];
        assert_eq!(sms["message"], "progress");
        assert_eq!(sms["cdr_type"], "SMS");
        assert_eq!(sms["records"], 1500);
        assert_eq!(sms["windows_done"], 2);
        assert_eq!(sms["windows_total"], 4);
        assert_eq!(lines[1]["fields"]["cdr_type"], "VOICE");
    }

    struct Writer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
