//! `cdr-sink archive`.

use anyhow::Context;
use tracing::info;

use crate::components::{Components, auth_from_env};
use crate::pipeline::{ArchiveError, RunOptions};
use crate::plan::{ArchivePlan, PlanError, RawArchive, RollPolicy};

use super::args::ArchiveArgs;
use super::choices::choice;
use super::display;
use super::report::{self, Signals, Status};
use super::{Ended, Failure};

pub(super) async fn run(args: ArchiveArgs, signals: &mut Signals) -> Result<Ended, Failure> {
    let bars = display::bars_wanted(args.common.log_format, args.common.quiet);
    display::init_logging(args.common.log_format, bars);
    let raw = RawArchive {
        types: args.types,
        start: args.start.unwrap_or_default(),
        end: args.end.unwrap_or_default(),
        out: args.out,
        format: choice(args.format),
        table_format: choice(args.table_format),
        limit: args.limit,
        concurrency: args.concurrency,
        max_concurrency: args.max_concurrency,
        max_rps: args.max_rps,
        window: args.window,
        company_id: args.common.api.company_id.clone(),
        incremental: args.incremental,
        settle: args.settle,
        rescan: args.rescan,
        redo: args.redo,
        lease: args.lease,
        on_unknown: choice(args.on_unknown),
        on_bad_record: choice(args.on_bad_record),
        allow_shrink: args.allow_shrink,
        keep_replaced: args.keep_replaced,
    };
    let plan = ArchivePlan::new(&raw, chrono::Utc::now())?;
    let roll = RollPolicy::new(args.roll_rows, args.roll_mib)?;
    let settings = report::settings(&args.common, auth_from_env(|k| std::env::var(k).ok())?)?
        .with_compression(args.compression.into());
    if let Some(asked) = plan.clamped_from {
        info!(
            "--end {}: archiving up to {}, where the windows that have settled end (now - --settle, aligned to --window)",
            cdr_core::format_datetime(&asked),
            cdr_core::format_datetime(&plan.end)
        );
    }
    let options = RunOptions {
        roll,
        ..RunOptions::default()
    };
    let run_id = options.owner.run_id.clone();
    let progress = crate::progress::Progress::new(&plan.types);
    let display = display::Display::start(&progress, bars, args.common.quiet);
    let work = async {
        let parts = Components::open(&plan, &settings).await?;
        Ok::<_, Failure>(parts.archive_with(&plan, options, progress.clone()).await)
    };
    let outcome = signals.until(work).await;
    display.stop();
    let summary = match outcome {
        Err(signal) => {
            // What was done before the signal: the counters so far, and no
            // failed windows (the unfinished ones are simply not done).
            let mut summary = crate::summary::Summary::from_progress(
                &progress,
                plan.output.to_string(),
                plan.format.name().to_string(),
                plan.start,
                plan.end,
                Vec::new(),
            );
            summary.run_id = run_id;
            out!("{summary}");
            return Ok(Ended {
                status: Status::Interrupted(signal),
                summary: Some(serde_json::to_value(&summary).context("the summary")?),
                archived: Some(Box::new(summary)),
            });
        }
        Ok(Err(e)) => return Err(e),
        Ok(Ok(Err(e @ (ArchiveError::Plan(_) | ArchiveError::Unwritable { .. })))) => {
            return Err(PlanError::new(e.to_string()).into());
        }
        Ok(Ok(Err(e))) => return Err(Failure::Other(e.into())),
        Ok(Ok(Ok(summary))) => summary,
    };
    out!("{summary}");
    for f in &summary.failed {
        errln!(
            "cdr-sink: failed: {} [{}, {}): {}",
            f.cdr_type,
            cdr_core::format_datetime(&f.window_start),
            cdr_core::format_datetime(&f.window_end),
            f.error
        );
    }
    Ok(Ended {
        status: if summary.is_ok() {
            Status::Ok
        } else {
            Status::Failed
        },
        summary: Some(serde_json::to_value(&summary).context("the summary")?),
        archived: Some(Box::new(summary)),
    })
}
