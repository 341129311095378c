//! `cargo xtask bench`: the archiver's speed and memory, measured.
//!
//! What it runs, each part in its own processes, release builds throughout:
//!
//! 1. **Simulator alone.** `cdr-sim` serving pages of 1000 records (its fast
//!    path, the archiver's own query document) to a minimal HTTP client with
//!    two connections: its ceiling on this machine, and its CPU time per
//!    million records; the client's own CPU time is the cost of receiving
//!    the bytes alone.
//! 2. **End to end.** `cdr-sim` → `cdr-sink archive` → files on local disk
//!    with the archiver's default settings (`--limit 1000`, `--concurrency
//!    auto`, `--window 1h`, Parquet with zstd): 1 and 10 million SMS records and
//!    1 million VOICE records as Parquet, 1 million SMS records as CSV. The
//!    simulator holds 250,000 records per hour of each type, so 1 million
//!    records are 4 hours (4 units, as many as run at once by default) and 10
//!    million are 40. Each run is a fresh archiver process; its wall time,
//!    CPU time and peak RSS come from `wait4`. The simulator runs meanwhile
//!    on the same two cores; its CPU time during the run is reported too.
//! 3. **Latency scaling.** 100 ms of simulated latency per page, concurrency
//!    1, 4, 16 and 64, each over enough 1-hour units of exactly 20 full pages
//!    (10 with `--quick`) to keep every unit slot busy (three units per slot;
//!    one unit at concurrency 1); throughput as a fraction of the ideal
//!    `concurrency x limit / latency`. Twice: with pages of 1000 SMS records
//!    (the default limit; at concurrency 64 that is 640,000 records/s, most
//!    of what the two cores can archive at all), and with pages of 100 MMS
//!    records, where the records' CPU cost is small and the series shows the
//!    scaling of concurrency alone.
//! 4. **Stages.** The criterion benchmarks of the decoder (`cdr-core`), Arrow
//!    batches and Parquet encoding (`cdr-sink-parquet`) and CSV encoding
//!    (`cdr-sink-csv`), on pages saved from the simulator, so that the stage
//!    costs belong to the same bytes the end-to-end runs move. With them, the
//!    CPU floor ([`stages::CpuFloor`]): receiving the bytes, walking the JSON
//!    and the Parquet writer alone, added up.
//!
//! Results: a table on stdout and JSON (`target/bench/bench.json`, or
//! `--out PATH`) for comparing commits. `--quick` runs a short version
//! (single runs, no 10 million run, short criterion measurements).
//!
//! One module per scenario, each with its typed, serialisable result:
//! [`simulator`] (1), [`end_to_end`] (2), [`latency`] (3), [`scale_out`]
//! (workers of one plan sharing an archive), [`rate_limit`] (an API that
//! allows 50 requests per second: `--concurrency auto` beside fixed 4 and
//! 64), [`delta`] (the cost of a window's Delta commit, beside plain
//! Parquet), [`peers`] (`--peers`: the
//! reference Python client beside cdr-sink), [`stages`] (4). Beside them:
//! [`options`](mod@options) (the command line), [`sim`] (the simulator process and its
//! data), [`http`] (the minimal client), [`process`] (building, running and
//! measuring processes), [`archive`] (one measured archiver run),
//! [`targets`] (the goals judged from the results) and [`report`] (the
//! JSON document and the table).

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};

mod archive;
mod delta;
mod end_to_end;
mod http;
mod latency;
mod options;
mod peers;
mod process;
mod rate_limit;
mod report;
mod scale_out;
mod sim;
mod simulator;
mod stages;
mod targets;

use options::options;
use process::{Bins, Machine, cargo, git, target_dir};
use report::Report;

pub fn run(args: &[String]) -> Result<()> {
    let Some(opts) = options(args)? else {
        return Ok(());
    };
    let started = Instant::now();
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let target = target_dir(&root)?;
    let bench_dir = target.join("bench");
    std::fs::create_dir_all(&bench_dir).context("creating target/bench")?;
    if opts.build {
        eprintln!("bench: building release binaries");
        cargo(
            &root,
            &["build", "--release", "-p", "cdr-sink", "-p", "cdr-sim"],
            &[],
        )?;
    }
    let bin_dir = opts
        .bin_dir
        .clone()
        .unwrap_or_else(|| target.join("release"));
    let bins = Bins {
        sim: bin_dir.join("cdr-sim"),
        sink: bin_dir.join("cdr-sink"),
    };
    for b in [&bins.sim, &bins.sink] {
        if !b.exists() {
            bail!("{} is missing: run without --no-build", b.display());
        }
    }
    let machine = Machine::this();
    eprintln!(
        "bench: {} cores, {}, load average {}",
        machine.cores, machine.cpu, machine.load_average
    );

    let simulator_alone = simulator::run(&bins, &opts)?;
    let end_to_end = end_to_end::run(&bins, &bench_dir, &opts)?;
    let latency_scaling = latency::run(&bins, &bench_dir, &opts)?;
    let scale_out = scale_out::run(&bins, &bench_dir, &opts)?;
    let rate_limit = rate_limit::run(&bins, &bench_dir, &opts)?;
    let delta_cost = delta::run(&bins, &bench_dir, &opts)?;
    let peers = if opts.peers {
        Some(peers::run(&bins, &root, &target, &bench_dir, &opts)?)
    } else {
        None
    };
    let stages = if opts.stages {
        Some(stages::run(&bins, &root, &target, &bench_dir, &opts)?)
    } else {
        None
    };

    let cpu_floor = stages
        .as_ref()
        .map(|s| stages::cpu_floor(&simulator_alone, s))
        .unwrap_or_default();
    let targets = targets::judge(
        &end_to_end,
        &latency_scaling,
        &scale_out,
        &rate_limit,
        stages.as_ref(),
    );
    let report = Report {
        schema: 1,
        commit: git(&root, &["rev-parse", "HEAD"]),
        dirty: git(&root, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
        unix_time: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        quick: opts.quick,
        binaries: bin_dir.display().to_string(),
        machine,
        simulator_alone,
        end_to_end,
        latency_scaling,
        scale_out,
        rate_limit,
        delta_cost,
        peers,
        stages,
        cpu_floor,
        targets,
        bench_seconds: started.elapsed().as_secs_f64(),
    };
    report.print_table();
    let out = opts.out.unwrap_or_else(|| bench_dir.join("bench.json"));
    std::fs::write(&out, report.to_json()?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("\nresults: {}", out.display());
    Ok(())
}
