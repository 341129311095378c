//! What a run is made of: the page source (the TSG client), the file format
//! and the destination, opened from a validated plan and the settings the
//! environment gives (credentials are passed in, never read from the process
//! environment here). The CLI, the demo and embedders open them alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cdr_sink::{ArchivePlan, Components, RawArchive, RunOptions, Settings};
//! use cdr_transport::Auth;
//!
//! let raw = RawArchive {
//!     types: "SMS".into(),
//!     start: "2026-11-01T00:00:00Z".into(),
//!     end: "2026-11-02T00:00:00Z".into(),
//!     out: "./archive".into(),
//!     ..RawArchive::default()
//! };
//! let plan = ArchivePlan::new(&raw, chrono::Utc::now())?;
//! let settings = Settings::new(Auth::Token(cdr_core::Token::new("POAPK_...")));
//! let parts = Components::open(&plan, &settings).await?;
//! let summary = parts.archive(&plan, RunOptions::default()).await?;
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use cdr_sink_api::{Destination, Format, ObjectKey};
use cdr_sink_local::LocalDir;
use cdr_sink_parquet::{Compression, ParquetFormat, ParquetOptions};
use cdr_sink_s3::{S3Destination, S3Options};
use cdr_transport::{Auth, Client, ClientConfig, DEFAULT_BASE_URL, Throttle};

use crate::pipeline::{ArchiveError, RunOptions, archive};
use crate::plan::{ArchivePlan, ExportTarget, FormatChoice, Output, PlanError};
use crate::progress::Progress;
use crate::summary::Summary;
use crate::transport_source::TransportSource;

/// What the environment gives a run, beyond the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API base URL (without `/graphql`).
    pub api_url: String,
    pub auth: Auth,
    /// Upper bound of one API request.
    pub request_timeout: Duration,
    /// Parquet page compression.
    pub compression: Compression,
    /// How S3 destinations upload (part size, encryption).
    pub s3: S3Options,
    /// Let `api_url` be plain `http://` to a host that is not this machine.
    pub allow_insecure_http: bool,
    /// What the client accepts from a server (body sizes, export deadline).
    pub limits: cdr_transport::Limits,
}

impl Settings {
    /// Production defaults with `auth`.
    pub fn new(auth: Auth) -> Settings {
        Settings {
            api_url: DEFAULT_BASE_URL.to_string(),
            auth,
            request_timeout: Duration::from_secs(60),
            compression: Compression::default(),
            s3: S3Options::default(),
            allow_insecure_http: false,
            limits: cdr_transport::Limits::default(),
        }
    }

    /// The same settings with another Parquet compression.
    pub fn with_compression(mut self, compression: Compression) -> Settings {
        self.compression = compression;
        self
    }

    /// The TSG client these settings describe; makes no request.
    pub fn client(&self) -> Result<Client, PlanError> {
        self.client_with(None)
    }

    /// Like [`Settings::client`], its requests admitted by `throttle`.
    pub fn client_with(&self, throttle: Option<Throttle>) -> Result<Client, PlanError> {
        let url = self.api_url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PlanError::new(format!(
                "--api-url `{url}` is not an http(s) URL: use e.g. {DEFAULT_BASE_URL}"
            )));
        }
        if self.request_timeout.is_zero() {
            return Err(PlanError::new(
                "--request-timeout must be at least 1 second",
            ));
        }
        let mut config = ClientConfig::new(self.auth.clone()).with_base_url(url);
        config.timeout = self.request_timeout;
        config.allow_insecure_http = self.allow_insecure_http;
        config.limits = self.limits;
        config.throttle = throttle;
        Client::new(config).map_err(|e| PlanError::new(format!("--api-url: {e}")))
    }
}

/// Credentials from `TSG_TOKEN`, or `TSG_EMAIL` + `TSG_PASSWORD`, as `get`
/// reads them (the process environment, for the CLI), with their `_FILE`
/// forms: [`Auth::from_vars`].
pub fn auth_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Auth, PlanError> {
    Auth::from_vars(get).map_err(|e| PlanError::new(e.to_string()))
}

/// S3 upload options from `--s3-part-size` (MiB) and `--s3-sse`, checked.
pub fn s3_options(
    part_size_mib: usize,
    sse: Option<cdr_sink_s3::Sse>,
) -> Result<S3Options, PlanError> {
    let options = S3Options {
        part_size: part_size_mib.saturating_mul(1024 * 1024),
        sse,
        ..S3Options::default()
    };
    options
        .validate()
        .map_err(|e| PlanError::new(format!("S3 options: {e}")))?;
    Ok(options)
}

/// The format `choice` names.
pub fn format_for(choice: FormatChoice, compression: Compression) -> Arc<dyn Format> {
    match choice {
        FormatChoice::Csv => Arc::new(cdr_sink_csv::CsvFormat::new()),
        FormatChoice::Parquet => Arc::new(ParquetFormat::new(ParquetOptions {
            compression,
            ..ParquetOptions::default()
        })),
    }
}

/// Every format this version writes, with default options.
pub fn known_formats() -> Vec<Arc<dyn Format>> {
    [FormatChoice::Parquet, FormatChoice::Csv]
        .into_iter()
        .map(|c| format_for(c, Compression::default()))
        .collect()
}

/// The format whose [`Format::name`] is `name` (as a ledger entry records
/// it), to read back its files.
pub fn format_named(name: &str) -> Option<Arc<dyn Format>> {
    known_formats().into_iter().find(|f| f.name() == name)
}

/// Opens `out` as a destination; makes no request and writes nothing.
pub async fn destination(out: &Output, s3: &S3Options) -> Result<Arc<dyn Destination>, PlanError> {
    match out {
        Output::Local(path) => Ok(Arc::new(LocalDir::new(path))),
        Output::S3(url) => {
            let dest = S3Destination::from_url(url, s3.clone())
                .await
                .map_err(|e| PlanError::new(format!("--out: {e}")))?;
            Ok(Arc::new(dest))
        }
    }
}

/// Opens an existing archive for reading (`verify`, `status`): a local
/// directory must exist.
pub async fn archive_to_read(out: &str) -> Result<Arc<dyn Destination>, PlanError> {
    let output = Output::parse(out)?;
    if let Output::Local(path) = &output
        && !path.is_dir()
    {
        return Err(PlanError::new(format!(
            "--out {}: no such directory",
            path.display()
        )));
    }
    destination(&output, &S3Options::default()).await
}

/// Opens the destination of an export, and the key of its file in it.
pub async fn export_destination(
    target: &ExportTarget,
    s3: &S3Options,
) -> Result<(Arc<dyn Destination>, ObjectKey), PlanError> {
    match target {
        ExportTarget::Local { dir, name } => Ok((Arc::new(LocalDir::new(dir)), name.clone())),
        ExportTarget::S3 { prefix_url, name } => Ok((
            destination(&Output::S3(prefix_url.clone()), s3).await?,
            name.clone(),
        )),
    }
}

/// A run's parts: where pages come from, how they are encoded, where files go.
#[derive(Clone)]
pub struct Components {
    pub source: Arc<TransportSource>,
    pub format: Arc<dyn Format>,
    pub dest: Arc<dyn Destination>,
}

impl Components {
    /// Opens the parts of `plan` with `settings`. Makes no request: the
    /// client logs in on its first request, so a run with nothing to fetch
    /// makes none.
    pub async fn open(plan: &ArchivePlan, settings: &Settings) -> Result<Components, PlanError> {
        let client = settings.client_with(Some(plan.throttle()))?;
        Ok(Components {
            source: Arc::new(
                TransportSource::new(client, plan.limit, plan.company_id.clone())
                    .for_units(plan.concurrency.start()),
            ),
            format: format_for(plan.format, settings.compression),
            dest: destination(&plan.output, &settings.s3).await?,
        })
    }

    /// Runs `plan` with these parts (see [`crate::archive`]), with fresh
    /// progress counters.
    pub async fn archive(
        &self,
        plan: &ArchivePlan,
        options: RunOptions,
    ) -> Result<Summary, ArchiveError> {
        self.archive_with(plan, options, Progress::new(&plan.types))
            .await
    }

    /// Runs `plan` reporting into `progress` (for a display of its own).
    pub async fn archive_with(
        &self,
        plan: &ArchivePlan,
        options: RunOptions,
        progress: Arc<Progress>,
    ) -> Result<Summary, ArchiveError> {
        archive(
            plan,
            self.source.clone(),
            self.dest.clone(),
            self.format.clone(),
            options,
            progress,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::Token;

    #[test]
    fn credentials_errors_are_plan_errors() {
        let e = auth_from_env(|_| None).unwrap_err();
        assert!(e.0.starts_with("no credentials: set TSG_TOKEN"), "{e}");
    }

    #[test]
    fn settings_refuse_a_url_that_is_not_http() {
        let mut s = Settings::new(Auth::Token(Token::new("t")));
        s.api_url = "ftp://example.com".into();
        let e = s.client().unwrap_err().to_string();
        assert!(e.contains("is not an http(s) URL"), "{e}");
        s.api_url = "http://127.0.0.1:1".into();
        s.request_timeout = Duration::ZERO;
        let e = s.client().unwrap_err().to_string();
        assert!(e.contains("--request-timeout"), "{e}");
    }
}
