//! `--metrics-textfile`: a run's outcome in the Prometheus text format, for
//! node_exporter's textfile collector (or any scraper of such files).
//!
//! The file describes the last run, whatever its end, and carries forward
//! from the previous file when each type last succeeded: an alert on
//! `time() - cdr_sink_last_success_timestamp_seconds > 7200` fires when runs
//! keep failing, not only when they stop.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::summary::Summary;

/// How the run ended, as the `status` label says it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOutcome<'a> {
    /// `ok`, `failed`, `interrupted` or `error`.
    pub status: &'a str,
    /// When the run ended.
    pub ended: DateTime<Utc>,
    /// How long it took, in seconds.
    pub duration_seconds: f64,
}

/// The metric whose values are carried from one file to the next.
const LAST_SUCCESS: &str = "cdr_sink_last_success_timestamp_seconds";
const LAST_SUCCESS_DURATION: &str = "cdr_sink_last_success_duration_seconds";

/// The metrics file for a run that ended with `outcome`: per-type counts
/// from `summary` (none when the run stopped before it had one), and each
/// type's last success, this run's if it succeeded for that type, else the
/// one `previous` (the file as it was) recorded.
pub fn render(summary: Option<&Summary>, outcome: &RunOutcome<'_>, previous: &str) -> String {
    let mut last_success = carried(previous);
    let ended = outcome.ended.timestamp_millis() as f64 / 1000.0;
    if let Some(s) = summary {
        let whole_run_ok = outcome.status == "ok";
        for (t, c) in &s.types {
            if whole_run_ok && c.units_failed == 0 {
                last_success.insert(t.clone(), (ended, outcome.duration_seconds));
            }
        }
    }

    let mut out = String::new();
    gauge(
        &mut out,
        "cdr_sink_last_run_info",
        "The last run: 1, labelled with how it ended (ok, failed, interrupted, error).",
        [(
            format!("{{status=\"{}\"}}", escape_label(outcome.status)),
            1.0,
        )],
    );
    gauge(
        &mut out,
        "cdr_sink_last_run_timestamp_seconds",
        "When the last run ended, in seconds since the Unix epoch.",
        [(String::new(), ended)],
    );
    gauge(
        &mut out,
        "cdr_sink_last_run_duration_seconds",
        "How long the last run took.",
        [(String::new(), outcome.duration_seconds)],
    );
    if let Some(s) = summary {
        type Getter = fn(&crate::summary::TypeSummary) -> u64;
        let per_type: [(&str, &str, Getter); 7] = [
            (
                "cdr_sink_last_run_records",
                "Records the last run archived.",
                |c| c.records,
            ),
            (
                "cdr_sink_last_run_pages",
                "API pages the last run fetched.",
                |c| c.pages,
            ),
            (
                "cdr_sink_last_run_retries",
                "Requests the last run retried.",
                |c| c.retries,
            ),
            (
                "cdr_sink_last_run_bytes",
                "Bytes of files the last run wrote.",
                |c| c.bytes,
            ),
            (
                "cdr_sink_last_run_windows_done",
                "Windows the last run finished.",
                |c| c.units_done,
            ),
            (
                "cdr_sink_last_run_windows_failed",
                "Windows the last run tried and could not finish.",
                |c| c.units_failed,
            ),
            (
                "cdr_sink_last_run_records_quarantined",
                "Records the last run could not store and kept in quarantine files.",
                |c| c.quarantined,
            ),
        ];
        for (name, help, get) in per_type {
            let samples = s.types.iter().map(|(t, c)| (by_type(t), get(c) as f64));
            gauge(&mut out, name, help, samples);
        }
        if let Some(c) = &s.concurrency {
            gauge(
                &mut out,
                "cdr_sink_last_run_concurrency",
                "Units the last run fetched at once: least, time-weighted median and greatest.",
                [("min", c.min), ("median", c.median), ("max", c.max)]
                    .map(|(stat, v)| (format!("{{stat=\"{stat}\"}}"), v as f64)),
            );
            gauge(
                &mut out,
                "cdr_sink_last_run_requests_refused",
                "Requests the API refused for load in the last run (HTTP 429 or 503, or Retry-After).",
                [(String::new(), c.refused as f64)],
            );
            if let Some(paced) = c.paced_rps {
                gauge(
                    &mut out,
                    "cdr_sink_last_run_paced_rps",
                    "Requests per second the last run was paced at, learnt from the API's refusals.",
                    [(String::new(), paced)],
                );
            }
        }
    }
    gauge(
        &mut out,
        LAST_SUCCESS,
        "When a run last archived every window of the type it was asked for.",
        last_success.iter().map(|(t, (at, _))| (by_type(t), *at)),
    );
    gauge(
        &mut out,
        LAST_SUCCESS_DURATION,
        "How long that successful run took.",
        last_success
            .iter()
            .map(|(t, (_, took))| (by_type(t), *took)),
    );
    out
}

/// One gauge family: its help, its type and its samples (labels, value).
fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {}", number(v));
    }
}

/// The label set of one type.
fn by_type(t: &str) -> String {
    format!("{{cdr_type=\"{}\"}}", escape_label(t))
}

/// Each type's last success (time, duration) as `previous` recorded it.
/// Lines this version did not write are ignored.
fn carried(previous: &str) -> BTreeMap<String, (f64, f64)> {
    let read = |metric: &str| -> BTreeMap<String, f64> {
        previous
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(metric)?.strip_prefix("{cdr_type=\"")?;
                let (t, value) = rest.split_once("\"} ")?;
                let v: f64 = value.trim().parse().ok()?;
                let known = cdr_core::parse_type_list(t).ok()?.len() == 1;
                (known && v.is_finite()).then(|| (t.to_string(), v))
            })
            .collect()
    };
    let durations = read(LAST_SUCCESS_DURATION);
    read(LAST_SUCCESS)
        .into_iter()
        .map(|(t, at)| {
            let took = durations.get(&t).copied().unwrap_or(0.0);
            (t, (at, took))
        })
        .collect()
}

/// A label value with `\`, `"` and line ends escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: whole numbers without a fraction, others with
/// millisecond precision.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use cdr_core::{CdrType, parse_datetime};
    use std::sync::atomic::Ordering::Relaxed;

    fn summary(failed_voice: bool) -> Summary {
        let p = Progress::new(&[CdrType::Sms, CdrType::Voice]);
        p.of(CdrType::Sms).records.store(1500, Relaxed);
        p.of(CdrType::Sms).pages.store(2, Relaxed);
        p.of(CdrType::Sms).units_done.store(3, Relaxed);
        if failed_voice {
            p.of(CdrType::Voice).units_failed.store(1, Relaxed);
        }
        let t = parse_datetime("2026-11-01T00:00:00Z").unwrap();
        let failed = if failed_voice {
            vec![crate::summary::FailedUnit {
                cdr_type: "VOICE".into(),
                window_start: t,
                window_end: t,
                error: "boom".into(),
            }]
        } else {
            vec![]
        };
        Summary::from_progress(&p, "out".into(), "parquet".into(), t, t, failed)
    }

    fn outcome(status: &str, at: &str) -> RunOutcome<'static> {
        RunOutcome {
            status: Box::leak(status.to_string().into_boxed_str()),
            ended: parse_datetime(at).unwrap(),
            duration_seconds: 12.5,
        }
    }

    fn samples(text: &str) -> Vec<prometheus_parse::Sample> {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines)
            .expect("the file parses as the Prometheus text format")
            .samples
    }

    fn value(samples: &[prometheus_parse::Sample], metric: &str, cdr_type: &str) -> Option<f64> {
        samples
            .iter()
            .find(|s| s.metric == metric && s.labels.get("cdr_type") == Some(cdr_type))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                ref other => panic!("{metric} is not a gauge: {other:?}"),
            })
    }

    #[test]
    fn a_run_writes_counts_and_last_success_per_type() {
        let text = render(
            Some(&summary(false)),
            &outcome("ok", "2026-11-30T12:00:00Z"),
            "",
        );
        let s = samples(&text);
        assert_eq!(value(&s, "cdr_sink_last_run_records", "SMS"), Some(1500.0));
        assert_eq!(value(&s, "cdr_sink_last_run_pages", "SMS"), Some(2.0));
        assert_eq!(
            value(&s, "cdr_sink_last_run_windows_done", "SMS"),
            Some(3.0)
        );
        assert_eq!(value(&s, "cdr_sink_last_run_records", "VOICE"), Some(0.0));
        let at = parse_datetime("2026-11-30T12:00:00Z").unwrap().timestamp() as f64;
        assert_eq!(value(&s, LAST_SUCCESS, "SMS"), Some(at));
        assert_eq!(value(&s, LAST_SUCCESS_DURATION, "VOICE"), Some(12.5));
        let info = s
            .iter()
            .find(|x| x.metric == "cdr_sink_last_run_info")
            .unwrap();
        assert_eq!(info.labels.get("status"), Some("ok"));
    }

    #[test]
    fn a_failed_run_keeps_the_previous_success_of_the_failed_type() {
        let first = render(
            Some(&summary(false)),
            &outcome("ok", "2026-11-30T12:00:00Z"),
            "",
        );
        let second = render(
            Some(&summary(true)),
            &outcome("failed", "2026-11-30T13:00:00Z"),
            &first,
        );
        let s = samples(&second);
        let noon = parse_datetime("2026-11-30T12:00:00Z").unwrap().timestamp() as f64;
        // Neither type counts as a success when the run failed...
        assert_eq!(value(&s, LAST_SUCCESS, "VOICE"), Some(noon));
        assert_eq!(value(&s, LAST_SUCCESS, "SMS"), Some(noon));
        assert_eq!(
            value(&s, "cdr_sink_last_run_windows_failed", "VOICE"),
            Some(1.0)
        );
        // ...and a run that stopped before it had a summary keeps them too.
        let third = render(None, &outcome("error", "2026-11-30T14:00:00Z"), &second);
        let s = samples(&third);
        assert_eq!(value(&s, LAST_SUCCESS, "SMS"), Some(noon));
        assert_eq!(value(&s, "cdr_sink_last_run_records", "SMS"), None);
        let info = s
            .iter()
            .find(|x| x.metric == "cdr_sink_last_run_info")
            .unwrap();
        assert_eq!(info.labels.get("status"), Some("error"));
    }

    #[test]
    fn garbage_in_the_previous_file_is_ignored() {
        let previous = "cdr_sink_last_success_timestamp_seconds{cdr_type=\"SMS\"} NaN\n\
            cdr_sink_last_success_timestamp_seconds{cdr_type=\"BOGUS\"} 5\n\
            cdr_sink_last_success_timestamp_seconds{cdr_type=\"VOICE\"} 42\n\
            not a metric at all";
        let text = render(None, &outcome("error", "2026-11-30T14:00:00Z"), previous);
        let s = samples(&text);
        assert_eq!(value(&s, LAST_SUCCESS, "SMS"), None);
        assert_eq!(value(&s, LAST_SUCCESS, "BOGUS"), None);
        assert_eq!(value(&s, LAST_SUCCESS, "VOICE"), Some(42.0));
    }
}
