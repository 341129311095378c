//! `cdr-sink verify` and `cdr-sink status`: they read the archive only.

use anyhow::Context;

use crate::components::archive_to_read;

use super::Failure;
use super::args::{StatusArgs, VerifyArgs};
use super::report;

pub(super) async fn verify(args: VerifyArgs) -> Result<bool, Failure> {
    super::display::init_logging(args.log_format, false);
    let types = crate::plan::type_filter(args.archive.types.as_deref())?;
    let concurrency =
        crate::plan::concurrency(i64::try_from(args.concurrency).unwrap_or(i64::MAX))?;
    let dest = archive_to_read(&args.archive.out).await?;
    let options = crate::verify::VerifyOptions {
        types,
        concurrency,
        out: args.archive.out.trim().to_string(),
    };
    let report = crate::verify::verify(&dest, &options)
        .await
        .with_context(|| format!("reading {}", dest.describe()))?;
    if args.json {
        report::print_json(&report)?;
    } else {
        out!("{report}");
    }
    if !report.is_ok() {
        errln!(
            "cdr-sink: verify found {} problems in {}",
            report.problems.len(),
            report.output
        );
    }
    Ok(report.is_ok())
}

pub(super) async fn status(args: StatusArgs) -> Result<bool, Failure> {
    super::display::init_logging(args.log_format, false);
    let types = crate::plan::type_filter(args.archive.types.as_deref())?;
    let max_behind = crate::plan::max_behind(args.max_behind.as_deref())?;
    let dest = archive_to_read(&args.archive.out).await?;
    let report = crate::status::status(dest.as_ref(), &types, chrono::Utc::now())
        .await
        .with_context(|| format!("reading {}", dest.describe()))?;
    if args.json {
        report::print_json(&report)?;
    } else {
        out!("{report}");
    }
    let Some(max) = max_behind else {
        return Ok(true);
    };
    let late = report.behind_more_than(max);
    for line in &late {
        errln!(
            "cdr-sink: {line}, more than --max-behind {}",
            args.max_behind.as_deref().unwrap_or_default().trim()
        );
    }
    Ok(late.is_empty())
}
