//! `cargo xtask demo`: the simulator in-process, one simulated day of every CDR
//! type archived to ./demo-out as Parquet, the summary, and a query to run.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const OUT: &str = "demo-out";

pub fn run() -> Result<()> {
    let sim_config = cdr_sim::SimConfig::default();
    let user = sim_config
        .users
        .iter()
        .find(|u| !u.admin)
        .context("the simulator has a basic user")?
        .clone();
    // Credentials come from the environment, as in production. Set before any
    // thread starts.
    // SAFETY: single-threaded here: the runtime is built below.
    unsafe {
        std::env::set_var("TSG_EMAIL", &user.email);
        std::env::set_var("TSG_PASSWORD", &user.password);
        std::env::remove_var("TSG_TOKEN");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let sim = cdr_sim::start(sim_config).await.context("starting cdr-sim")?;
        let day = (chrono::Utc::now() - chrono::TimeDelta::days(1)).date_naive();
        let start = format!("{day}T00:00:00Z");
        let end = format!("{}T00:00:00Z", day.succ_opt().context("a next day")?);
        if std::path::Path::new(OUT).exists() {
            std::fs::remove_dir_all(OUT).with_context(|| format!("clearing ./{OUT}"))?;
        }
        println!("cdr-sim serving at {} (user {})", sim.base_url(), user.email);
        println!(
            "$ cdr-sink archive --type SMS,MMS,VOICE,API --start {start} --end {end} --out ./{OUT} --api-url {}\n",
            sim.base_url()
        );
        let code = cdr_sink::cli::run_from([
            "cdr-sink", "archive", "--type", "SMS,MMS,VOICE,API", "--start", &start, "--end", &end,
            "--out", OUT, "--api-url", &sim.base_url(), "--format", "parquet",
        ])
        .await;
        sim.shutdown().await;
        if code != ExitCode::SUCCESS {
            bail!("the demo archive run failed");
        }
        println!(
            "\nThe archive is in ./{OUT}. Query it with DuckDB (https://duckdb.org):\n\n  \
             duckdb -c \"SELECT cdr_type, date, count(*) AS records, sum(charge) AS charge \
             FROM read_parquet('{OUT}/cdr_type=*/date=*/*.parquet', hive_partitioning = true, union_by_name = true) \
             GROUP BY ALL ORDER BY ALL\"\n\n\
             Run the demo's archive command again and every window is skipped: runs resume."
        );
        Ok(())
    })
}
