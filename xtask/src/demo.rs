//! `cargo xtask demo`: the simulator in-process, one simulated day of every CDR
//! type archived to ./demo-out as Parquet, the summary, and a query to run.

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
            "archiving as `cdr-sink archive --type SMS,MMS,VOICE,API --start {start} --end {end} --out ./{OUT}` would\n"
        );
        // The archiver as a library: a plan from the same flags, the run's
        // parts opened with the simulator's user as credentials.
        let raw = cdr_sink::RawArchive {
            types: "SMS,MMS,VOICE,API".into(),
            start: start.clone(),
            end: end.clone(),
            out: OUT.into(),
            ..cdr_sink::RawArchive::default()
        };
        let plan = cdr_sink::ArchivePlan::new(&raw, chrono::Utc::now())?;
        let mut settings = cdr_sink::Settings::new(cdr_sink::Auth::Login {
            email: user.email.clone(),
            password: cdr_core::Password::new(user.password.clone()),
        });
        settings.api_url = sim.base_url();
        let parts = cdr_sink::Components::open(&plan, &settings).await?;
        let summary = parts
            .archive(&plan, cdr_sink::RunOptions::default())
            .await;
        sim.shutdown().await;
        let summary = summary?;
        print!("{summary}");
        if !summary.is_ok() {
            bail!("the demo archive run failed");
        }
        println!(
            "\nThe archive is in ./{OUT}. Query it with DuckDB (https://duckdb.org):\n\n  \
             duckdb -c \"SELECT cdr_type, date, count(*) AS records, sum(charge) AS charge \
             FROM read_parquet('{OUT}/cdr_type=*/date=*/*.parquet', hive_partitioning = true, union_by_name = true) \
             GROUP BY ALL ORDER BY ALL\"\n\n\
             Run the demo again and it starts afresh; an archive run again on the same --out resumes."
        );
        Ok(())
    })
}
