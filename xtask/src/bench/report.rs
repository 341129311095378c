//! The results of one bench run: the JSON document kept for comparing
//! commits, and the table printed for reading.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::delta::DeltaCost;
use super::end_to_end::EndToEnd;
use super::latency::LatencySeries;
use super::peers::PeerComparison;
use super::process::Machine;
use super::rate_limit::RateLimit;
use super::scale_out::ScaleOut;
use super::simulator::SimAlone;
use super::stages::{CpuFloor, Stage};
use super::targets::Target;

/// Everything one run measured, with where and when.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Report {
    /// The version of this document's layout.
    pub schema: u32,
    pub commit: Option<String>,
    /// Whether the work tree had changes.
    pub dirty: bool,
    pub unix_time: u64,
    pub quick: bool,
    /// Where the measured binaries were.
    pub binaries: String,
    pub machine: Machine,
    pub simulator_alone: BTreeMap<&'static str, SimAlone>,
    pub end_to_end: BTreeMap<&'static str, EndToEnd>,
    pub latency_scaling: Vec<LatencySeries>,
    pub scale_out: ScaleOut,
    pub rate_limit: RateLimit,
    /// `--table-format delta` beside `files`.
    pub delta_cost: DeltaCost,
    /// `None` without `--peers`.
    pub peers: Option<BTreeMap<&'static str, PeerComparison>>,
    /// `None` with `--no-stages`.
    pub stages: Option<BTreeMap<String, Stage>>,
    /// Per type, from the simulator-alone scenario and the stages; empty
    /// with `--no-stages`.
    pub cpu_floor: BTreeMap<&'static str, CpuFloor>,
    pub targets: Vec<Target>,
    pub bench_seconds: f64,
}

impl Report {
    /// The JSON document, pretty-printed, its object keys sorted (as
    /// documents written before the results were typed have them).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec_pretty(&serde_json::to_value(self)?)?)
    }

    /// The results as tables on stdout.
    pub fn print_table(&self) {
        let m = &self.machine;
        println!(
            "\ncdr-sink bench{} — {} cores ({}), load average at start {}, commit {}{}",
            if self.quick { " (quick)" } else { "" },
            m.cores,
            m.cpu,
            m.load_average,
            self.commit
                .as_deref()
                .map_or("?", |c| &c[..c.len().min(10)]),
            if self.dirty { " (dirty)" } else { "" },
        );
        println!("\nsimulator alone (2 clients, pages of 1000)");
        println!(
            "  {:<8} {:>12} {:>10} {:>16} {:>19}",
            "type", "records/s", "MB/s", "sim CPU s / 1M", "client CPU s / 1M"
        );
        for (name, s) in &self.simulator_alone {
            println!(
                "  {:<8} {:>12} {:>10.0} {:>16.2} {:>19.2}",
                name,
                group(s.records_per_s),
                s.mb_per_s,
                s.sim_cpu_s_per_million,
                s.client_cpu_s_per_million
            );
        }
        println!(
            "\nend to end: cdr-sim -> cdr-sink archive -> local disk (median of runs; both on the same cores)"
        );
        println!(
            "  {:<18} {:>5} {:>12} {:>12} {:>10} {:>12} {:>12}",
            "scenario", "runs", "records/s", "CPU s / 1M", "cores", "peak RSS MB", "sim CPU/1M"
        );
        for (name, s) in &self.end_to_end {
            println!(
                "  {:<18} {:>5} {:>12} {:>12.2} {:>10.2} {:>12.1} {:>12.2}",
                name,
                s.runs,
                group(s.records_per_s),
                s.cpu_s_per_million,
                s.cpu_cores_used,
                s.peak_rss_mb,
                s.sim_cpu_s_per_million,
            );
        }
        for l in &self.latency_scaling {
            println!(
                "\nlatency scaling: {} ms per page, {} pages of {} per unit ({})",
                l.latency_ms, l.pages_per_unit, l.limit, l.cdr_type
            );
            println!(
                "  {:>11} {:>6} {:>12} {:>12} {:>9} {:>11} {:>12}",
                "concurrency",
                "units",
                "records/s",
                "ideal",
                "fraction",
                "CPU s / 1M",
                "peak RSS MB"
            );
            for level in &l.levels {
                println!(
                    "  {:>11} {:>6} {:>12} {:>12} {:>9.2} {:>11.2} {:>12.1}",
                    level.concurrency,
                    level.units,
                    group(level.records_per_s),
                    group(level.ideal_records_per_s),
                    level.fraction_of_ideal,
                    level.cpu_s_per_million,
                    level.peak_rss_mb,
                );
            }
        }
        let rl = &self.rate_limit;
        println!(
            "\nrate limit: {} requests/s allowed, {} ms per page, {} units of {} pages of 1000",
            rl.allowed_rps, rl.latency_ms, rl.units, rl.pages_per_unit
        );
        println!(
            "  {:>11} {:>12} {:>11} {:>8} {:>9} {:>16} {:>12}",
            "concurrency",
            "records/s",
            "of allowed",
            "refused",
            "share",
            "min/median/max",
            "peak RSS MB"
        );
        for r in &rl.runs {
            println!(
                "  {:>11} {:>12} {:>11.2} {:>8} {:>9.3} {:>16} {:>12.1}",
                r.concurrency,
                group(r.records_per_s),
                r.fraction_of_allowed,
                r.refused,
                r.refused_share,
                format!(
                    "{}/{}/{}",
                    r.concurrency_min, r.concurrency_median, r.concurrency_max
                ),
                r.peak_rss_mb,
            );
        }
        let d = &self.delta_cost;
        println!(
            "\nDelta tables: {} one-hour windows of {} SMS records, {} pairs of runs (files, delta)",
            d.windows, d.records_per_window, d.pairs
        );
        println!(
            "  ms per window: files {:.1}, delta {:.1}; a window's commit costs {:.1} ms wall, {:.1} ms CPU (paired medians); peak RSS MB {:.1} / {:.1}",
            d.files_ms_per_window,
            d.delta_ms_per_window,
            d.commit_ms_per_window,
            d.commit_cpu_ms_per_window,
            d.files_peak_rss_mb,
            d.delta_peak_rss_mb,
        );
        let so = &self.scale_out;
        println!(
            "\nscale-out: workers of one plan on one --out, {} ms per page, concurrency {} each",
            so.latency_ms, so.concurrency_per_worker
        );
        println!(
            "  {:>7} {:>6} {:>12} {:>14} {:>11} {:>16}",
            "workers", "units", "records/s", "of N x one", "CPU s / 1M", "units per worker"
        );
        for level in &so.levels {
            println!(
                "  {:>7} {:>6} {:>12} {:>14.2} {:>11.2} {:>16}",
                level.workers,
                level.units,
                group(level.records_per_s),
                level.fraction_of_n_times_one,
                level.cpu_s_per_million,
                serde_json::to_string(&level.units_done_per_worker).unwrap_or_default(),
            );
        }
        if let Some(peers) = &self.peers {
            print_peers(peers);
        }
        if let Some(stages) = &self.stages {
            println!("\nstages (criterion, one core, pages saved from the simulator)");
            println!(
                "  {:<28} {:>12} {:>10}",
                "benchmark", "records/s", "ns/record"
            );
            for (name, s) in stages {
                println!(
                    "  {:<28} {:>12} {:>10.0}",
                    name,
                    group(s.records_per_s),
                    s.ns_per_record
                );
            }
        }
        if !self.cpu_floor.is_empty() {
            println!(
                "\nCPU floor, s per million records: receiving the bytes + walking the JSON + the Parquet writer alone"
            );
            println!(
                "  {:<8} {:>9} {:>10} {:>9} {:>9}",
                "type", "receive", "JSON walk", "writer", "floor"
            );
            for (name, f) in &self.cpu_floor {
                println!(
                    "  {:<8} {:>9.2} {:>10.2} {:>9.2} {:>9.2}",
                    name,
                    f.receive_s_per_million,
                    f.json_walk_s_per_million,
                    f.parquet_writer_s_per_million,
                    f.total_s_per_million
                );
            }
        }
        println!("\ntargets");
        for t in &self.targets {
            let mark = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            let value = t.value.map_or("-".to_string(), |v| {
                if v >= 1000.0 {
                    group(v)
                } else {
                    format!("{v:.2}")
                }
            });
            println!("  {:<66} {:>12} {:<13} {}", t.target, value, t.goal, mark);
        }
        println!("\nbench took {:.0} s", self.bench_seconds);
    }
}

/// The table of `--peers`.
fn print_peers(peers: &BTreeMap<&'static str, PeerComparison>) {
    println!(
        "\npeers: cdr-sink (defaults) and the Python client (requests + pyarrow, one cursor chain), 1M records to Parquet"
    );
    println!(
        "  {:<6} {:<8} {:>12} {:>11} {:>10}",
        "type", "client", "records/s", "CPU s / 1M", "peak RSS"
    );
    for (t, v) in peers {
        for (name, s) in [("cdr-sink", &v.cdr_sink), ("Python", &v.python)] {
            println!(
                "  {:<6} {:<8} {:>12} {:>11.2} {:>7.0} MB",
                t,
                name,
                group(s.records_per_s),
                s.cpu_s_per_million,
                s.peak_rss_mb,
            );
        }
        println!(
            "  {:<6} ratio: {:.1}x the records/s at {:.2}x the peak RSS and {:.2}x the CPU per record",
            t, v.records_per_s_ratio, v.peak_rss_ratio, v.cpu_ratio,
        );
    }
}

/// A whole number with thousands separators.
fn group(v: f64) -> String {
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group(0.4), "0");
        assert_eq!(group(999.0), "999");
        assert_eq!(group(1_000.0), "1,000");
        assert_eq!(group(1_234_567.0), "1,234,567");
    }

    #[test]
    fn the_document_keeps_its_layout() {
        let report = Report {
            schema: 1,
            commit: Some("abc".into()),
            dirty: false,
            unix_time: 7,
            quick: true,
            binaries: "target/release".into(),
            machine: Machine {
                cores: 2,
                cpu: "cpu".into(),
                memory_gib: 1.5,
                load_average: "0.1 0.2 0.3".into(),
            },
            simulator_alone: BTreeMap::from([("sms", SimAlone::default())]),
            end_to_end: BTreeMap::from([("csv_sms_1m", EndToEnd::default())]),
            latency_scaling: vec![LatencySeries::default()],
            scale_out: ScaleOut::default(),
            rate_limit: RateLimit::default(),
            delta_cost: DeltaCost::default(),
            peers: None,
            stages: None,
            cpu_floor: BTreeMap::new(),
            targets: vec![],
            bench_seconds: 1.0,
        };
        let json: serde_json::Value = serde_json::from_slice(&report.to_json().unwrap()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "bench_seconds",
                "binaries",
                "commit",
                "cpu_floor",
                "delta_cost",
                "dirty",
                "end_to_end",
                "latency_scaling",
                "machine",
                "peers",
                "quick",
                "rate_limit",
                "scale_out",
                "schema",
                "simulator_alone",
                "stages",
                "targets",
                "unix_time"
            ]
        );
        assert_eq!(json["end_to_end"]["csv_sms_1m"]["type"], "");
        assert_eq!(json["latency_scaling"][0]["levels"], serde_json::json!([]));
        assert!(json["stages"].is_null());
        assert_eq!(json["cpu_floor"], serde_json::json!({}));
        assert_eq!(json["machine"]["cores"], 2);
    }
}
