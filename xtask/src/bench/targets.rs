//! The goals of the performance issue, each judged from the measurements:
//! throughput end to end and next to the decoder alone, memory that does
//! not grow with the archive, and scaling with concurrency and workers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::end_to_end::EndToEnd;
use super::latency::LatencySeries;
use super::rate_limit::RateLimit;
use super::scale_out::ScaleOut;
use super::stages::Stage;

/// One goal, its measured value and whether it is met (`None` when the
/// value was not measured in this run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Target {
    pub target: String,
    pub value: Option<f64>,
    pub goal: &'static str,
    pub met: Option<bool>,
}

/// Every goal that the results can judge; the ratios to the decoder only
/// when the stages ran.
pub(super) fn judge(
    e2e: &BTreeMap<&'static str, EndToEnd>,
    latency: &[LatencySeries],
    scale_out: &ScaleOut,
    rate_limit: &RateLimit,
    stages: Option<&BTreeMap<String, Stage>>,
) -> Vec<Target> {
    let mut out = Vec::new();
    let mut add = |target: String, value: Option<f64>, goal: &'static str, met: Option<bool>| {
        out.push(Target {
            target,
            value,
            goal,
            met,
        });
    };
    let rate = |scenario: &str| e2e.get(scenario).map(|s| s.records_per_s);
    let peak = |scenario: &str| e2e.get(scenario).map(|s| s.peak_rss_mb_max);
    for scenario in ["parquet_sms_1m", "parquet_sms_10m"] {
        let v = rate(scenario);
        add(
            format!("records/s end to end, {scenario}"),
            v,
            ">= 1,000,000",
            v.map(|v| v >= 1e6),
        );
    }
    let cpu = e2e.get("parquet_sms_1m").map(|s| s.cpu_s_per_million);
    add(
        "CPU s per million records, parquet_sms_1m".into(),
        cpu,
        "<= 0.9",
        cpu.map(|c| c <= 0.9),
    );
    let v = rate("parquet_sms_1m_one_window");
    add(
        "records/s, one window of 1M SMS at concurrency 1".into(),
        v,
        ">= 1,500,000",
        v.map(|v| v >= 1.5e6),
    );
    if let Some(stages) = stages {
        for (scenario, decode) in [
            ("parquet_sms_1m", "decode/reusing/MessageCdr"),
            ("parquet_voice_1m", "decode/reusing/VoiceCdr"),
        ] {
            let ratio = rate(scenario)
                .zip(stages.get(decode).map(|s| s.records_per_s))
                .map(|(e, d)| e / d);
            add(
                format!("{scenario} / {decode}"),
                ratio,
                ">= 0.5",
                ratio.map(|r| r >= 0.5),
            );
        }
    }
    let growth = peak("parquet_sms_1m")
        .zip(peak("parquet_sms_10m"))
        .map(|(s, l)| l / s);
    add(
        "peak RSS 10M / 1M SMS records".into(),
        growth,
        "<= 1.2",
        growth.map(|g| g <= 1.2),
    );
    for scenario in [
        "parquet_sms_1m",
        "parquet_sms_10m",
        "parquet_voice_1m",
        "csv_sms_1m",
    ] {
        let v = peak(scenario);
        add(
            format!("peak RSS MB, {scenario}"),
            v,
            "<= 64",
            v.map(|v| v <= 64.0),
        );
    }
    for series in latency {
        let worst = lowest(series.levels.iter().map(|l| l.fraction_of_ideal));
        add(
            format!(
                "latency scaling, lowest fraction of ideal up to 64, limit {}",
                series.limit
            ),
            worst,
            ">= 0.9",
            worst.map(|w| w >= 0.9),
        );
    }
    let worst = lowest(scale_out.levels.iter().map(|l| l.fraction_of_n_times_one));
    add(
        "scale-out, lowest fraction of N x one worker (1, 2, 4 workers)".into(),
        worst,
        ">= 0.9",
        worst.map(|w| w >= 0.9),
    );
    let auto = rate_limit.runs.iter().find(|r| r.concurrency == "auto");
    let v = auto.map(|r| r.fraction_of_allowed);
    add(
        "rate limit, --concurrency auto, fraction of the allowed record rate".into(),
        v,
        ">= 0.9",
        v.map(|v| v >= 0.9),
    );
    let v = auto.map(|r| r.refused_share);
    add(
        "rate limit, --concurrency auto, share of requests refused".into(),
        v,
        "<= 0.05",
        v.map(|v| v <= 0.05),
    );
    out
}

/// The smallest value; `None` when there is none.
fn lowest(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::latency::LatencyLevel;
    use crate::bench::rate_limit::RateLimitRun;

    fn e2e(records_per_s: f64, peak_rss_mb_max: f64) -> EndToEnd {
        EndToEnd {
            records_per_s,
            peak_rss_mb_max,
            ..EndToEnd::default()
        }
    }

    #[test]
    fn targets_are_judged_from_the_measurements() {
        let mut e2e = BTreeMap::from([
            ("parquet_sms_1m", e2e(1.2e6, 50.0)),
            ("parquet_sms_10m", e2e(0.9e6, 70.0)),
            ("parquet_voice_1m", e2e(0.5e6, 60.0)),
            ("csv_sms_1m", e2e(1.0e6, 30.0)),
        ]);
        if let Some(s) = e2e.get_mut("parquet_sms_1m") {
            s.cpu_s_per_million = 1.2;
        }
        let level = |fraction_of_ideal| LatencyLevel {
            fraction_of_ideal,
            ..LatencyLevel::default()
        };
        let latency = [LatencySeries {
            limit: 1000,
            levels: vec![level(0.95), level(0.85)],
            ..LatencySeries::default()
        }];
        let stage = |records_per_s| Stage {
            records_per_s,
            ns_per_record: 0.0,
        };
        let stages = BTreeMap::from([
            ("decode/reusing/MessageCdr".to_string(), stage(2.0e6)),
            ("decode/reusing/VoiceCdr".to_string(), stage(2.0e6)),
        ]);
        let rate_limit = RateLimit {
            runs: vec![RateLimitRun {
                concurrency: "auto".into(),
                fraction_of_allowed: 0.93,
                refused_share: 0.08,
                ..RateLimitRun::default()
            }],
            ..RateLimit::default()
        };
        let t = judge(
            &e2e,
            &latency,
            &ScaleOut::default(),
            &rate_limit,
            Some(&stages),
        );
        let met = |name: &str| {
            t.iter()
                .find(|x| x.target.contains(name))
                .map(|x| x.met)
                .unwrap()
        };
        assert_eq!(met("end to end, parquet_sms_1m"), Some(true));
        assert_eq!(met("end to end, parquet_sms_10m"), Some(false));
        assert_eq!(met("CPU s per million records"), Some(false));
        // The one-window scenario did not run: not judged.
        assert_eq!(met("one window of 1M SMS"), None);
        assert_eq!(met("parquet_sms_1m / decode"), Some(true));
        assert_eq!(met("parquet_voice_1m / decode"), Some(false));
        assert_eq!(met("10M / 1M"), Some(false));
        assert_eq!(met("peak RSS MB, parquet_sms_10m"), Some(false));
        assert_eq!(met("peak RSS MB, csv_sms_1m"), Some(true));
        assert_eq!(met("latency scaling"), Some(false));
        // No scale-out levels: measured nothing, judged nothing.
        assert_eq!(met("scale-out"), None);
        // Without stage results, the ratio targets are not judged at all.
        assert_eq!(met("fraction of the allowed record rate"), Some(true));
        assert_eq!(met("share of requests refused"), Some(false));
        let t = judge(
            &e2e,
            &latency,
            &ScaleOut::default(),
            &RateLimit::default(),
            None,
        );
        assert_eq!(
            t.iter()
                .find(|x| x.target.contains("share of requests refused"))
                .map(|x| x.met),
            Some(None),
            "no auto run: not judged"
        );
        assert!(!t.iter().any(|x| x.target.contains("decode/reusing")));
    }
}
