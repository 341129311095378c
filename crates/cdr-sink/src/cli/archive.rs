//! `cdr-sink archive`.

use anyhow::Context;
use tracing::info;

use crate::components::{Components, auth_from_env};
use crate::pipeline::{ArchiveError, RunOptions};
use crate::plan::{ArchivePlan, PlanError, RawArchive, RollPolicy};

use super::Failure;
use super::args::{ArchiveArgs, choice};
use super::report;

pub(super) async fn run(args: ArchiveArgs) -> Result<bool, Failure> {
    report::init_logging(args.common.log_format);
    let raw = RawArchive {
        types: args.types,
        start: args.start.unwrap_or_default(),
        end: args.end.unwrap_or_default(),
        out: args.out,
        format: choice(args.format),
        limit: args.limit,
        concurrency: args.concurrency,
        window: args.window,
        company_id: args.common.company_id.clone(),
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
    let parts = Components::open(&plan, &settings).await?;
    let options = RunOptions {
        roll,
        ..RunOptions::default()
    };
    let progress = crate::progress::Progress::new(&plan.types);
    let display = report::Display::start(&progress, args.common.quiet);
    let outcome =
        report::until_interrupted(parts.archive_with(&plan, options, progress.clone())).await;
    display.stop();
    let summary = match outcome {
        None => {
            return Err(anyhow::anyhow!(
                "interrupted: unfinished windows were left invisible; re-run the same command to resume"
            )
            .into());
        }
        Some(Err(e @ (ArchiveError::Plan(_) | ArchiveError::Unwritable { .. }))) => {
            return Err(PlanError::new(e.to_string()).into());
        }
        Some(Err(e)) => return Err(Failure::Other(e.into())),
        Some(Ok(summary)) => summary,
    };
    print!("{summary}");
    for f in &summary.failed {
        eprintln!(
            "cdr-sink: failed: {} [{}, {}): {}",
            f.cdr_type,
            cdr_core::format_datetime(&f.window_start),
            cdr_core::format_datetime(&f.window_end),
            f.error
        );
    }
    if let Some(path) = &args.common.summary_json {
        report::write_json(path, &summary)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary.is_ok())
}
