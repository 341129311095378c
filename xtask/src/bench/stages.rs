//! Scenario 4, the stages: the criterion benchmarks of the decoder
//! (`cdr-core`), Arrow batches and Parquet encoding (`cdr-sink-parquet`) and
//! CSV encoding (`cdr-sink-csv`), on pages saved from the simulator, so that
//! the stage costs belong to the same bytes the end-to-end runs move.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use cdr_core::{CdrType, RecordKind};
use serde::Serialize;
use serde_json::Value;

use super::http::{Http, page_through};
use super::options::Options;
use super::process::{Bins, cargo};
use super::sim::{E2E_RATE, Sim, rates, window};
use super::simulator::SimAlone;

/// One criterion benchmark's speed, from its median time per iteration.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Stage {
    pub records_per_s: f64,
    pub ns_per_record: f64,
}

/// What no archiver of these pages can spend less CPU on, per million
/// records of one type, from parts measured apart: receiving the bytes (the
/// minimal client of the simulator-alone scenario), walking the JSON with
/// serde_json keeping nothing (`decode/walk`), and the `parquet` crate's
/// writer alone on batches built beforehand (`writer/`). No values are built,
/// hashed or checked, and no file is written, so the archiver's own CPU per
/// million can only come near it from above.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(super) struct CpuFloor {
    pub receive_s_per_million: f64,
    pub json_walk_s_per_million: f64,
    pub parquet_writer_s_per_million: f64,
    pub total_s_per_million: f64,
}

/// The floor of each type that both the simulator-alone scenario and the
/// stages measured.
pub(super) fn cpu_floor(
    simulator_alone: &BTreeMap<&'static str, SimAlone>,
    stages: &BTreeMap<String, Stage>,
) -> BTreeMap<&'static str, CpuFloor> {
    let mut out = BTreeMap::new();
    for (name, kind) in [("sms", RecordKind::Message), ("voice", RecordKind::Voice)] {
        let stage = |group: &str| {
            stages
                .get(&format!("{group}/{}", kind.typename()))
                .filter(|s| s.ns_per_record > 0.0)
                // ns per record is CPU s per thousand million records.
                .map(|s| s.ns_per_record / 1e3)
        };
        let receive = simulator_alone
            .get(name)
            .map(|s| s.client_cpu_s_per_million);
        if let (Some(receive), Some(walk), Some(writer)) =
            (receive, stage("decode/walk"), stage("writer"))
        {
            out.insert(
                name,
                CpuFloor {
                    receive_s_per_million: receive,
                    json_walk_s_per_million: walk,
                    parquet_writer_s_per_million: writer,
                    total_s_per_million: receive + walk + writer,
                },
            );
        }
    }
    out
}

/// Saves `count` pages of each type from the simulator for the stage benchmarks.
fn save_pages(bins: &Bins, dir: &Path, count: u64) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let mut http = Http::connect(sim.addr())?;
    for (t, prefix) in [(CdrType::Sms, "sms"), (CdrType::Voice, "voice")] {
        let mut n = 0;
        page_through(&mut http, t, &window(0, 1)?, |body| {
            std::fs::write(dir.join(format!("{prefix}-{n:03}.json")), body)?;
            n += 1;
            Ok(n < count)
        })?;
    }
    Ok(())
}

/// Saves pages, runs the criterion benchmarks of each stage on them, and
/// reads their results.
pub(super) fn run(
    bins: &Bins,
    root: &Path,
    target: &Path,
    bench_dir: &Path,
    opts: &Options,
) -> Result<BTreeMap<String, Stage>> {
    let pages = bench_dir.join("pages");
    save_pages(bins, &pages, 100)?;
    let timing: &[&str] = if opts.quick {
        &[
            "--warm-up-time",
            "0.3",
            "--measurement-time",
            "0.5",
            "--sample-size",
            "10",
        ]
    } else {
        &["--warm-up-time", "1", "--measurement-time", "4"]
    };
    let since = SystemTime::now();
    for (package, bench) in [
        ("cdr-core", "decode"),
        ("cdr-sink-parquet", "encode"),
        ("cdr-sink-csv", "encode"),
    ] {
        eprintln!("bench: stage benchmarks of {package}");
        let mut args = vec!["bench", "-p", package, "--bench", bench, "--"];
        args.extend(timing);
        cargo(root, &args, &[("CDR_BENCH_PAGES", &pages)])?;
    }
    let mut out = BTreeMap::new();
    for group in ["decode", "arrow", "parquet", "writer", "csv"] {
        collect_criterion(&target.join("criterion").join(group), since, &mut out)?;
    }
    Ok(out)
}

/// Reads criterion's results written since `since` under `dir`: records per
/// second from the median time per iteration and the elements per iteration.
fn collect_criterion(
    dir: &Path,
    since: SystemTime,
    out: &mut BTreeMap<String, Stage>,
) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let new = path.join("new");
        let benchmark = new.join("benchmark.json");
        let fresh = std::fs::metadata(&benchmark)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !fresh {
            collect_criterion(&path, since, out)?;
            continue;
        }
        let read = |p: PathBuf| -> Result<Value> {
            Ok(serde_json::from_slice(
                &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
            )?)
        };
        let meta = read(benchmark)?;
        let estimates = read(new.join("estimates.json"))?;
        let ns = estimates["median"]["point_estimate"]
            .as_f64()
            .unwrap_or(0.0);
        let elements = meta["throughput"]["Elements"].as_f64().unwrap_or(0.0);
        let id = meta["full_id"].as_str().unwrap_or("?").to_string();
        out.insert(
            id,
            Stage {
                records_per_s: if ns > 0.0 { elements / (ns / 1e9) } else { 0.0 },
                ns_per_record: if elements > 0.0 { ns / elements } else { 0.0 },
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(ns_per_record: f64) -> Stage {
        Stage {
            records_per_s: 1e9 / ns_per_record,
            ns_per_record,
        }
    }

    #[test]
    fn the_floor_adds_the_parts_measured_apart() {
        let sim = BTreeMap::from([(
            "sms",
            SimAlone {
                client_cpu_s_per_million: 0.18,
                ..SimAlone::default()
            },
        )]);
        let mut stages = BTreeMap::from([
            ("decode/walk/MessageCdr".to_string(), stage(285.0)),
            ("writer/MessageCdr".to_string(), stage(420.0)),
            // VOICE's writer was not measured: no floor for VOICE.
            ("decode/walk/VoiceCdr".to_string(), stage(436.0)),
        ]);
        let floor = cpu_floor(&sim, &stages);
        assert_eq!(floor.keys().copied().collect::<Vec<_>>(), ["sms"]);
        let sms = &floor["sms"];
        assert!((sms.json_walk_s_per_million - 0.285).abs() < 1e-9);
        assert!((sms.parquet_writer_s_per_million - 0.42).abs() < 1e-9);
        assert!((sms.total_s_per_million - 0.885).abs() < 1e-9);
        // A stage that measured nothing gives no floor.
        stages.insert("writer/MessageCdr".to_string(), Stage::default());
        assert!(cpu_floor(&sim, &stages).is_empty());
    }
}
