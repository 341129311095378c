//! `cdr-sink export`.

use std::sync::Arc;

use anyhow::Context;
use tracing::info;

use crate::components::{auth_from_env, export_destination};
use crate::export::{ExportJob, ExportProgress, export};
use crate::plan::{ExportPlan, PlanError, RawExport};

use super::Failure;
use super::args::ExportArgs;
use super::report;

pub(super) async fn run(args: ExportArgs) -> Result<bool, Failure> {
    report::init_logging(args.common.log_format);
    let raw = RawExport {
        cdr_type: args.cdr_type,
        start: args.start,
        end: args.end,
        out: args.out,
        fields: args.fields,
        min_window: args.min_window,
        company_id: args.common.company_id.clone(),
    };
    let plan = ExportPlan::new(&raw, chrono::Utc::now())?;
    let settings = report::settings(&args.common, auth_from_env(|k| std::env::var(k).ok())?)?;
    if let Some(asked) = plan.clamped_from {
        info!(
            "--end {} is in the future: clamped to now, {}",
            cdr_core::format_datetime(&asked),
            cdr_core::format_datetime(&plan.window.end())
        );
    }
    let (dest, key) = export_destination(&plan.target, &settings.s3).await?;
    dest.check_writable()
        .await
        .map_err(|e| PlanError::new(format!("--out {} is not writable: {e}", plan.out)))?;
    let client = settings.client()?;
    if matches!(settings.auth, cdr_transport::Auth::Login { .. }) {
        client.login().await.context("logging in")?;
    }
    let job = ExportJob {
        cdr_type: plan.cdr_type,
        window: plan.window,
        selection: plan.selection,
        company_id: plan.company_id,
        min_window: plan.min_window,
    };
    let progress = Arc::new(ExportProgress::default());
    let display = report::Display::start_export(&progress, args.common.quiet);
    let outcome = report::until_interrupted(export(&client, &job, dest, &key, progress)).await;
    display.stop();
    let summary = match outcome {
        None => {
            return Err(
                anyhow::anyhow!("interrupted: nothing was written; run the command again").into(),
            );
        }
        Some(result) => result.map_err(|e| Failure::Other(e.into()))?,
    };
    print!("{summary}");
    if let Some(path) = &args.common.summary_json {
        report::write_json(path, &summary)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(true)
}
