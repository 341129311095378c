//! `cdr-sink reconcile`: the archive compared with the provider's exports.
//! Reads the archive only.

use anyhow::Context;

use crate::components::{archive_to_read, auth_from_env};
use crate::plan::{RawReconcile, ReconcilePlan};

use super::Failure;
use super::args::ReconcileArgs;
use super::report;

pub(super) async fn run(args: ReconcileArgs) -> Result<bool, Failure> {
    super::display::init_logging(args.log_format, false);
    let raw = RawReconcile {
        types: args.archive.types,
        start: args.start,
        end: args.end,
        window: args.window,
        settle: args.settle,
        concurrency: args.concurrency,
        company_id: args.api.company_id.clone(),
        out: args.archive.out,
    };
    let plan = ReconcilePlan::new(&raw)?;
    let settings = report::api_settings(&args.api, auth_from_env(|k| std::env::var(k).ok())?)?;
    let client = settings.client()?;
    let dest = archive_to_read(&plan.out).await?;
    let report = crate::reconcile::reconcile(dest.as_ref(), &client, &plan, chrono::Utc::now())
        .await
        .with_context(|| format!("reconciling {}", dest.describe()))?;
    if args.json {
        report::print_json(&report)?;
    } else {
        out!("{report}");
    }
    if !report.is_ok() {
        errln!(
            "cdr-sink: reconcile found {} differences and {} windows it could not compare in {}",
            report.differences.len(),
            report.unchecked.len(),
            report.output
        );
    }
    Ok(report.is_ok())
}
