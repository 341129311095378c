//! `cdr-sink`: archive TSG Global CDRs into Parquet or CSV files on local disk
//! or S3, resumable and exactly once. This is the pipeline library behind the
//! `cdr-sink` binary, so embedders can run the same pipeline.
//!
//! What it is: flags validated into an [`ArchivePlan`] of units (type x window)
//! before any request; [`archive`] runs the units up to `--concurrency` at once,
//! each under its [claim], streaming pages from a [`PageSource`] through a
//! [`Format`] into a [`Destination`], committing its files and then its
//! [ledger] entry; a re-run (or another run on the same output) skips
//! finished units and does the others.
//!
//! What it is not: it speaks no HTTP itself (`cdr-transport` does), encodes no
//! format itself (`cdr-sink-parquet`, `cdr-sink-csv`), and talks to no store
//! itself (`cdr-sink-local`'s `LocalDir`, `cdr-sink-s3`).
//!
//! The public API: a plan ([`ArchivePlan`] from [`RawArchive`], or
//! [`ExportPlan`]), the run's parts ([`Components::open`] with [`Settings`]),
//! [`archive`] and [`export`], their [`Summary`] and [`ExportSummary`]; and
//! the archive's own contract in [`layout`], [`ledger`], [`claim`],
//! [`verify`], [`status`] and [`reconcile`]. Everything else is internal.
//!
//! [`Format`]: cdr_sink_api::Format
//! [`Destination`]: cdr_sink_api::Destination

// The archive's own contract, which other tools may read: where everything
// lives, the ledger, claims, and the checks of verify, status and reconcile.
pub mod claim;
pub mod delta;
pub mod layout;
pub mod ledger;
pub mod reconcile;
pub mod status;
pub mod verify;

/// The `cdr-sink` command line (the binary's `main`).
pub mod cli;

mod components;
mod content;
mod export;
mod hex;
mod metrics;
mod pipeline;
mod plan;
mod progress;
mod rescan;
mod retained;
mod source;
mod summary;
mod transport_source;
mod unit;

pub use components::{
    Components, Settings, archive_to_read, auth_from_env, destination, export_destination,
    format_for, format_named, known_formats, s3_options,
};
pub use content::{ContentHash, HashVersion};
pub use export::{ExportJob, ExportProgress, ExportSummary, export};
pub use pipeline::{ArchiveError, RunOptions, archive, resolve};
pub use plan::{
    AUTO_START, ArchivePlan, Concurrency, DEFAULT_MAX_CONCURRENCY, ExportPlan, ExportTarget,
    FormatChoice, Incremental, OnBadRecord, OnUnknown, Output, PlanError, RawArchive, RawExport,
    RawReconcile, ReconcilePlan, RollPolicy, TableFormat, Unit, parse_duration, parse_instant,
};
pub use progress::{Progress, TypeCounters, group};
pub use source::{PageData, PageSource, PageStream, SourceError};
pub use summary::{ConcurrencySummary, FailedUnit, RescanSummary, Summary, TypeSummary, UnitRef};
pub use transport_source::TransportSource;

/// Credentials and settings of the TSG client, as [`Settings`] takes them.
pub use cdr_transport::Auth;
