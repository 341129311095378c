//! `cdr-sink export`.

use std::sync::Arc;

use anyhow::Context;
use tracing::info;

use crate::components::{auth_from_env, export_destination};
use crate::export::{ExportJob, ExportProgress, export};
use crate::plan::{ExportPlan, PlanError, RawExport};

use super::args::ExportArgs;
use super::display;
use super::report::{self, Signals, Status};
use super::{Ended, Failure};

pub(super) async fn run(args: ExportArgs, signals: &mut Signals) -> Result<Ended, Failure> {
    let bars = display::bars_wanted(args.common.log_format, args.common.quiet);
    display::init_logging(args.common.log_format, bars);
    let raw = RawExport {
        cdr_type: args.cdr_type,
        start: args.start,
        end: args.end,
        out: args.out,
        fields: args.fields,
        min_window: args.min_window,
        company_id: args.common.api.company_id.clone(),
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
    let progress = Arc::new(ExportProgress::default());
    let display = display::Display::start_export(&progress, bars);
    let work = async {
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
            selection: plan.selection.clone(),
            company_id: plan.company_id.clone(),
            min_window: plan.min_window,
        };
        export(&client, &job, dest, &key, progress.clone())
            .await
            .map_err(|e| Failure::Other(e.into()))
    };
    let outcome = signals.until(work).await;
    display.stop();
    let summary = match outcome {
        Err(signal) => {
            errln!("cdr-sink: nothing was written");
            return Ok(Ended {
                status: Status::Interrupted(signal),
                summary: None,
                archived: None,
            });
        }
        Ok(result) => result?,
    };
    out!("{summary}");
    Ok(Ended {
        status: Status::Ok,
        summary: Some(serde_json::to_value(&summary).context("the summary")?),
        archived: None,
    })
}
