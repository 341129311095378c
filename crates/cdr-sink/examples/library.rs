//! Run the archiver as a library: a typed [`ArchivePlan`] (no flag strings to
//! parse), the run's parts opened with [`Components::open`] from [`Settings`],
//! then `archive`, which returns the run's [`Summary`]. It archives three hours
//! of yesterday's SMS records as Parquet files into a local directory, the
//! same files, ledger and resume semantics as `cdr-sink archive`.
//!
//! ```sh
//! cargo run -p cdr-sink --example library [-- OUT_DIR]
//! ```
//!
//! The archive goes to `OUT_DIR`, by default a temporary directory removed
//! at the end (its files are listed first); run it twice with the same
//! `OUT_DIR` and the second run skips the finished windows. Without
//! `TSG_API_URL` in the environment the example starts the simulator
//! (`cdr-sim`) in this process and archives from it, so it runs offline. To
//! archive from the real API, set `TSG_API_URL` (e.g.
//! `https://api.portal.tsgglobal.world`) and `TSG_TOKEN`, or `TSG_EMAIL` and
//! `TSG_PASSWORD` (or their `_FILE` forms).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cdr_core::chrono::{DateTime, TimeDelta, Utc};
use cdr_core::{CdrType, Limit, Password, Step};
use cdr_sink::{
    ArchivePlan, Auth, Components, Concurrency, FormatChoice, OnBadRecord, OnUnknown, Output,
    RunOptions, Settings, Summary, TableFormat, Unit,
};

/// A plan of every whole `step` window of `types` in `[start, end)`, written as
/// Parquet to the directory `out`, with the command line's defaults for the
/// rest. Each field is what the `archive` flag of the same name sets.
fn plan(
    types: &[CdrType],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Step,
    out: &Path,
) -> Result<ArchivePlan, Box<dyn Error>> {
    // Windows ending after now are cut at now; the archiver leaves windows
    // younger than `settle` for a later run.
    let windows = cdr_core::plan(start, end, step, Utc::now())?;
    let units = windows
        .windows
        .iter()
        .flat_map(|&window| types.iter().map(move |&cdr_type| Unit { cdr_type, window }))
        .collect();
    Ok(ArchivePlan {
        types: types.to_vec(),
        start,
        end: windows.end,
        clamped_from: windows.clamped.then_some(end),
        step,
        units,
        output: Output::Local(out.to_path_buf()),
        format: FormatChoice::Parquet,
        table_format: TableFormat::Files,
        limit: Limit::MAX,
        // Adapts to what the API answers, from 4 up to 8 units at once.
        concurrency: Concurrency::Auto { max: 8 },
        max_rps: None,
        company_id: None,
        incremental: None,
        rescan: None,
        redo: false,
        settle: TimeDelta::minutes(15),
        lease: Duration::from_secs(5 * 60),
        on_unknown: OnUnknown::Fail,
        on_bad_record: OnBadRecord::Fail,
        allow_shrink: false,
        keep_replaced: TimeDelta::days(7),
    })
}

/// Archives the SMS records of the three hours from `start` into `out`.
async fn run(
    settings: &Settings,
    start: DateTime<Utc>,
    out: &Path,
) -> Result<(ArchivePlan, Summary), Box<dyn Error>> {
    let plan = plan(
        &[CdrType::Sms],
        start,
        start + TimeDelta::hours(3),
        Step::HOUR,
        out,
    )?;
    // Makes no request: the client logs in on the first one.
    let parts = Components::open(&plan, settings).await?;
    let summary = parts.archive(&plan, RunOptions::default()).await?;
    Ok((plan, summary))
}

/// The start of yesterday (UTC).
fn yesterday() -> DateTime<Utc> {
    Step::DAY.floor(Utc::now()) - TimeDelta::days(1)
}

/// Settings for the simulator's basic user.
fn sim_settings(sim: &cdr_sim::SimHandle) -> Settings {
    Settings {
        api_url: sim.base_url(),
        ..Settings::new(Auth::Login {
            email: "user@example.com".into(),
            password: Password::new("user-password"),
        })
    }
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let temp = tempfile::tempdir()?;
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let (settings, sim) = match std::env::var("TSG_API_URL") {
        Ok(url) => {
            let auth = Auth::from_env()?;
            (
                Settings {
                    api_url: url,
                    ..Settings::new(auth)
                },
                None,
            )
        }
        Err(_) => {
            let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
            println!(
                "TSG_API_URL is not set: archiving from a simulator at {}",
                sim.base_url()
            );
            (sim_settings(&sim), Some(sim))
        }
    };
    let (_, summary) = run(&settings, yesterday(), &out).await?;
    println!("{summary}");
    println!("files in {}:", out.display());
    for file in files(&out) {
        println!("  {file}");
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} units failed", summary.failed.len()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's body against a simulator: every unit finishes, with as
    /// many records as the simulator holds for its windows, in Parquet files
    /// under `cdr_type=sms/`; a second run skips them all.
    #[test]
    fn runs() -> Result<(), Box<dyn Error>> {
        tokio::runtime::Runtime::new()?.block_on(async {
            let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
            let dir = tempfile::tempdir()?;
            let start = yesterday();
            let (plan, summary) = run(&sim_settings(&sim), start, dir.path()).await?;

            assert_eq!(summary.status, "ok", "{summary}");
            assert_eq!(plan.units.len(), 3);
            let expected: usize = plan
                .units
                .iter()
                .map(|u| sim.ground_truth(u.cdr_type, u.window).count())
                .sum();
            let sms = &summary.types[CdrType::Sms.as_str()];
            assert_eq!(sms.records, expected as u64);
            assert_eq!(sms.units_done, 3);
            let parquet = files(dir.path())
                .into_iter()
                .filter(|f| f.starts_with("cdr_type=sms/") && f.ends_with(".parquet"))
                .count();
            assert_eq!(parquet > 0, expected > 0, "{:?}", files(dir.path()));

            let (_, again) = run(&sim_settings(&sim), start, dir.path()).await?;
            let sms = &again.types[CdrType::Sms.as_str()];
            assert_eq!((sms.records, sms.units_skipped), (0, 3), "{again}");
            sim.shutdown().await;
            Ok(())
        })
    }
}
